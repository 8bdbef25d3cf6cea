#pragma once
// Bounded Levenberg-Marquardt for the stitching objective (model.hpp).
//
// Each iteration builds H from the sparse per-observation derivatives: the Gauss-Newton (least squares)
// or Fisher (binomial) matrix while far from the optimum, the exact Hessian once steps become small
// (quadratic convergence although the residuals are not small). It solves (H + mu D) delta = -g, with D
// the Gauss-Newton diagonal, on the free parameters that no bound holds (a parameter at a bound whose
// gradient points outwards is inactive), projects theta + delta onto the box and accepts it by the gain
// ratio. Capabilities meet only benchmarks in H, so H = [A V; V^T S0] with A diagonal (M x M) and S0
// 2B x 2B: the step eliminates the capabilities (Schur complement S0 - V^T A^-1 V) and solves a dense
// 2B x 2B system, O(sum_m k_m^2 + B^3) per step for k_m benchmarks of model m. A dense solve of the
// whole of H (LinearSolver::dense) is kept as a reference and a benchmark peer.

#include <ward/irt/model.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace ward::irt {

struct FitResult {
    std::vector<double> capability;  // per model, on the anchored scale
    std::vector<double> difficulty;  // per benchmark, on the anchored scale
    std::vector<double> slope;       // per benchmark
    Eigen::VectorXd theta;           // the optimum as the solver sees it (before the shift): a warm start
    double shift = 0.0;              // subtracted from C and D after the fit (benchmark anchor)
    double objective = 0.0;          // at the optimum, including the penalty
    double sse = 0.0;                // sum of squared score errors (unweighted)
    double projected_gradient = 0.0; // inf-norm at the end
    int iterations = 0;
    bool converged = false;
    std::string status;
    index_t at_bounds = 0;           // free parameters that end on a bound
    std::vector<double> floor, span; // per benchmark, to predict

    double predict(index_t m, index_t b) const {
        const auto i = static_cast<std::size_t>(b);
        return floor[i] + span[i] * sigmoid(slope[i] * (capability[static_cast<std::size_t>(m)] - difficulty[i]));
    }
};

/// A solver with its workspace, reusable across fits of one Problem (the bootstrap keeps one per thread).
class LmSolver {
public:
    explicit LmSolver(const Problem& p) : p_(p) {}

    FitResult solve(const FitOptions& opt, const Eigen::VectorXd* start = nullptr, const double* weights = nullptr) {
        const index_t n = p_.size();
        Eigen::VectorXd theta = start ? *start : Eigen::Map<const Eigen::VectorXd>(p_.start.data(), n);
        if (theta.size() != n) throw shape_error("irt::fit: warm start has " + std::to_string(theta.size()) +
                                                 " parameters, the problem " + std::to_string(n));
        for (index_t j = 0; j < n; ++j) {
            const auto i = static_cast<std::size_t>(j);
            theta[j] = p_.fixed[i] ? p_.start[i] : std::clamp(theta[j], p_.lo[i], p_.hi[i]);
        }
        weights_ = weights;
        Eigen::VectorXd g(n), g_new(n), delta(n), theta_new(n);
        double f = evaluate(theta, g);
        double mu = 1e-3, nu = 2.0;
        bool near_optimum = start != nullptr;  // a warm start is near by construction
        FitResult res;
        res.status = "iteration limit";
        int it = 0;
        for (; it < opt.max_iterations; ++it) {
            res.projected_gradient = projected_gradient(theta, g);
            if (res.projected_gradient <= opt.gradient_tolerance) { res.converged = true; res.status = "gradient"; break; }
            // Gauss-Newton while far from the optimum (robust, always positive definite), Newton close to
            // it (quadratic convergence where the residuals are not small, as here).
            exact_ = opt.exact_hessian && near_optimum;
            assemble(theta, g);
            bool accepted = false;
            while (!accepted) {
                const bool ok = opt.solver == LinearSolver::schur ? solve_schur(mu, delta) : solve_dense(mu, delta);
                if (!ok) {  // the damped Newton matrix is not positive definite yet
                    mu *= nu;
                    nu *= 2.0;
                    if (mu > 1e20) { res.status = "damping overflow"; break; }
                    continue;
                }
                for (index_t j = 0; j < n; ++j) {
                    const auto i = static_cast<std::size_t>(j);
                    theta_new[j] = std::clamp(theta[j] + delta[j], p_.lo[i], p_.hi[i]);
                }
                delta = theta_new - theta;
                const double step = delta.lpNorm<Eigen::Infinity>();
                const double predicted = -(g.dot(delta) + 0.5 * quadratic(theta, delta));
                const double f_new = evaluate(theta_new, g_new);
                const double rho = predicted > 0 ? (f - f_new) / predicted : -1.0;
                if (f_new < f && rho > 1e-4) {
                    accepted = true;
                    const double decrease = f - f_new;
                    if (decrease < opt.newton_switch * f) near_optimum = true;
                    theta.swap(theta_new);
                    g.swap(g_new);
                    f = f_new;
                    mu *= std::max(1.0 / 3.0, 1.0 - std::pow(2.0 * rho - 1.0, 3));
                    nu = 2.0;
                    if (decrease <= opt.function_tolerance * std::max(f, 1e-300) ||
                        step <= opt.step_tolerance * (1.0 + theta.lpNorm<Eigen::Infinity>())) {
                        res.converged = true;
                        res.status = decrease <= opt.function_tolerance * f ? "function" : "step";
                    }
                } else {
                    mu *= nu;
                    nu *= 2.0;
                    if (mu > 1e20 || step == 0.0) {  // no step lowers f: rounding has the last word
                        res.converged = projected_gradient(theta, g) <= 1e-6 * std::max(1.0, f);
                        res.status = res.converged ? "no further decrease" : "stalled";
                        break;
                    }
                }
            }
            if (!accepted || res.converged) { ++it; break; }
        }
        res.iterations = it;
        res.projected_gradient = projected_gradient(theta, g);
        res.objective = f;
        finish(theta, res);
        return res;
    }

private:
    /// One weighted observation at theta: its parameter indices, slope a, gap x = C - D and terms.
    struct ObsAt {
        index_t i, jc, jd, ja;
        double a, x;
        ObsTerm t;
        const Observation* obs;
    };
    /// f(ObsAt) for every observation with non-zero weight: the loop the objective, the model
    /// curvature and the normal equations share.
    template <class F>
    void for_each_observation(const Eigen::VectorXd& theta, F&& f) const {
        const auto& obs = p_.data->obs;
        for (index_t i = 0; i < static_cast<index_t>(obs.size()); ++i) {
            const double w = weight_of(weights_, i);
            if (w == 0.0) continue;
            const Observation& o = obs[static_cast<std::size_t>(i)];
            const index_t jc = p_.c(o.model), jd = p_.d(o.benchmark), ja = p_.a(o.benchmark);
            const double a = theta[ja], x = theta[jc] - theta[jd];
            f(ObsAt{i, jc, jd, ja, a, x, observation_term(p_, o, a * x, w), &o});
        }
    }

    /// Objective and gradient in one pass.
    double evaluate(const Eigen::VectorXd& theta, Eigen::VectorXd& g) const {
        g.setZero();
        double f = 0.0;
        for_each_observation(theta, [&](const ObsAt& o) {
            f += o.t.loss;
            g[o.jc] += o.t.u * o.a;
            g[o.jd] -= o.t.u * o.a;
            g[o.ja] += o.t.u * o.x;
        });
        for (index_t j = 0; j < p_.size(); ++j) {
            if (p_.fixed[static_cast<std::size_t>(j)]) { g[j] = 0.0; continue; }
            f += p_.penalty * theta[j] * theta[j];
            g[j] += 2.0 * p_.penalty * theta[j];
        }
        return f;
    }

    double projected_gradient(const Eigen::VectorXd& theta, const Eigen::VectorXd& g) const {
        double m = 0.0;
        for (index_t j = 0; j < p_.size(); ++j) {
            const auto i = static_cast<std::size_t>(j);
            if (p_.fixed[i]) continue;
            m = std::max(m, std::abs(std::clamp(theta[j] - g[j], p_.lo[i], p_.hi[i]) - theta[j]));
        }
        return m;
    }

    /// delta^T H delta for the unmasked Gauss-Newton H (the model the step is judged by).
    double quadratic(const Eigen::VectorXd& theta, const Eigen::VectorXd& delta) const {
        double q = 0.0;
        for_each_observation(theta, [&](const ObsAt& o) {
            const double jd_dot = o.a * delta[o.jc] - o.a * delta[o.jd] + o.x * delta[o.ja];
            q += (exact_ ? o.t.h2 : o.t.h) * jd_dot * jd_dot;
            if (exact_) q += 2.0 * o.t.u * (delta[o.jc] - delta[o.jd]) * delta[o.ja];  // d^2 eta/dC da = 1, dD da = -1
        });
        for (index_t j = 0; j < p_.size(); ++j)
            if (!p_.fixed[static_cast<std::size_t>(j)]) q += 2.0 * p_.penalty * delta[j] * delta[j];
        return q;
    }

    /// Builds A (diag), the V entries per observation, S0 and the masked right-hand side.
    void assemble(const Eigen::VectorXd& theta, const Eigen::VectorXd& g) {
        const index_t M = p_.M, B = p_.B, n = p_.size();
        const auto& obs = p_.data->obs;
        mask_.assign(static_cast<std::size_t>(n), 0.0);
        for (index_t j = 0; j < n; ++j) {
            const auto i = static_cast<std::size_t>(j);
            if (p_.fixed[i]) continue;
            const double tiny = 1e-12 * (1.0 + std::abs(theta[j]));
            const bool active = (theta[j] <= p_.lo[i] + tiny && g[j] > 0) || (theta[j] >= p_.hi[i] - tiny && g[j] < 0);
            mask_[i] = active ? 0.0 : 1.0;
        }
        rhs_ = -g.cwiseProduct(Eigen::Map<const Eigen::VectorXd>(mask_.data(), n));
        A_.assign(static_cast<std::size_t>(M), 0.0);
        Adamp_.assign(static_cast<std::size_t>(M), 0.0);
        vd_.assign(obs.size(), 0.0);
        va_.assign(obs.size(), 0.0);
        S0_.setZero(2 * B, 2 * B);
        Sdamp_.setZero(2 * B);
        for_each_observation(theta, [&](const ObsAt& ob) {
            const index_t i = ob.i, jc = ob.jc, jd = ob.jd, ja = ob.ja;
            const double a = ob.a, x = ob.x;
            const ObsTerm& t = ob.t;
            const Observation& o = *ob.obs;
            const double h = exact_ ? t.h2 : t.h;
            // masked derivative d eta / d (C, D, alpha)
            const double mc = mask_[static_cast<std::size_t>(jc)], md = mask_[static_cast<std::size_t>(jd)],
                         ma = mask_[static_cast<std::size_t>(ja)];
            const double ec = a * mc, ed = -a * md, ea = x * ma;
            const double uc = exact_ ? t.u * ma : 0.0;  // second derivatives of eta: dC da = 1, dD da = -1
            const index_t b = o.benchmark;
            A_[static_cast<std::size_t>(o.model)] += h * ec * ec;
            Adamp_[static_cast<std::size_t>(o.model)] += t.h * ec * ec;
            vd_[static_cast<std::size_t>(i)] = h * ec * ed;
            va_[static_cast<std::size_t>(i)] = h * ec * ea + uc * mc;
            S0_(b, b) += h * ed * ed;
            S0_(b, B + b) += h * ed * ea - uc * md;
            S0_(B + b, B + b) += h * ea * ea;
            Sdamp_[b] += t.h * ed * ed;
            Sdamp_[B + b] += t.h * ea * ea;
        });
        for (index_t b = 0; b < B; ++b) S0_(B + b, b) = S0_(b, B + b);
        auto diag = [&](index_t j) -> double { return mask_[static_cast<std::size_t>(j)] ? 2.0 * p_.penalty : 0.0; };
        for (index_t m = 0; m < M; ++m) {
            const auto i = static_cast<std::size_t>(m);
            A_[i] = mask_[i] ? A_[i] + diag(m) : 1.0;  // masked: identity row, zero rhs
            Adamp_[i] = mask_[i] ? Adamp_[i] + diag(m) : 1.0;
        }
        for (index_t k = 0; k < 2 * B; ++k) {
            if (mask_[static_cast<std::size_t>(M + k)]) { S0_(k, k) += diag(M + k); Sdamp_[k] += diag(M + k); }
            else { S0_.row(k).setZero(); S0_.col(k).setZero(); S0_(k, k) = 1.0; Sdamp_[k] = 1.0; }
        }
    }

    static double damp(double d) { return std::max(d, 1e-12); }

    /// Solves (H + mu D) delta = rhs by eliminating the capabilities, D the Gauss-Newton diagonal.
    /// Returns false when the damped matrix is not positive definite (Newton far from the optimum).
    bool solve_schur(double mu, Eigen::VectorXd& delta) {
        const index_t M = p_.M, B = p_.B;
        const auto& obs = p_.data->obs;
        const auto& mb = p_.data->model_begin;
        S_ = S0_;
        for (index_t k = 0; k < 2 * B; ++k) S_(k, k) += mu * damp(Sdamp_[k]);
        Eigen::VectorXd rb = rhs_.tail(2 * B);
        // S -= V^T A^-1 V, lower triangle only (the Cholesky reads no more). Model m's row of V holds
        // (vd, va) at (D_b, alpha_b) for its benchmarks b, in increasing b.
        std::vector<index_t> bs;
        std::vector<double> vd, va;
        for (index_t m = 0; m < M; ++m) {
            const double am = A_[static_cast<std::size_t>(m)] + mu * damp(Adamp_[static_cast<std::size_t>(m)]);
            if (!(am > 0)) return false;
            bs.clear(); vd.clear(); va.clear();
            for (index_t i = mb[static_cast<std::size_t>(m)]; i < mb[static_cast<std::size_t>(m) + 1]; ++i) {
                bs.push_back(obs[static_cast<std::size_t>(i)].benchmark);
                vd.push_back(vd_[static_cast<std::size_t>(i)]);
                va.push_back(va_[static_cast<std::size_t>(i)]);
            }
            const double gm = rhs_[m] / am;
            const std::size_t k = bs.size();
            for (std::size_t e = 0; e < k; ++e) {
                const index_t de = bs[e], ae = B + bs[e];
                rb[de] -= vd[e] * gm;
                rb[ae] -= va[e] * gm;
                const double vde = vd[e] / am, vae = va[e] / am;
                for (std::size_t f = 0; f <= e; ++f) {
                    S_(de, bs[f]) -= vde * vd[f];
                    S_(ae, B + bs[f]) -= vae * va[f];
                }
                for (std::size_t f = 0; f < k; ++f) S_(ae, bs[f]) -= vae * vd[f];
            }
        }
        Eigen::LLT<Eigen::MatrixXd, Eigen::Lower> llt(S_);
        if (llt.info() != Eigen::Success) return false;
        const Eigen::VectorXd y = llt.solve(rb);
        delta.resize(p_.size());
        delta.tail(2 * B) = y;
        for (index_t m = 0; m < M; ++m) {
            const double am = A_[static_cast<std::size_t>(m)] + mu * damp(Adamp_[static_cast<std::size_t>(m)]);
            double s = rhs_[m];
            for (index_t i = mb[static_cast<std::size_t>(m)]; i < mb[static_cast<std::size_t>(m) + 1]; ++i) {
                const auto b = obs[static_cast<std::size_t>(i)].benchmark;
                s -= vd_[static_cast<std::size_t>(i)] * y[b] + va_[static_cast<std::size_t>(i)] * y[B + b];
            }
            delta[m] = s / am;
        }
        return true;
    }

    /// Reference: the same system as one dense matrix.
    bool solve_dense(double mu, Eigen::VectorXd& delta) const {
        const index_t M = p_.M, B = p_.B, n = p_.size();
        const auto& obs = p_.data->obs;
        Eigen::MatrixXd H = Eigen::MatrixXd::Zero(n, n);
        for (index_t m = 0; m < M; ++m) H(m, m) = A_[static_cast<std::size_t>(m)];
        H.bottomRightCorner(2 * B, 2 * B) = S0_;
        for (std::size_t i = 0; i < obs.size(); ++i) {
            const auto m = obs[i].model, b = obs[i].benchmark;
            H(m, M + b) += vd_[i]; H(M + b, m) += vd_[i];
            H(m, M + B + b) += va_[i]; H(M + B + b, m) += va_[i];
        }
        for (index_t m = 0; m < M; ++m) H(m, m) += mu * damp(Adamp_[static_cast<std::size_t>(m)]);
        for (index_t k = 0; k < 2 * B; ++k) H(M + k, M + k) += mu * damp(Sdamp_[k]);
        Eigen::LLT<Eigen::MatrixXd> llt(H);
        if (llt.info() != Eigen::Success) return false;
        delta = llt.solve(rhs_);
        return true;
    }

    void finish(const Eigen::VectorXd& theta, FitResult& res) const {
        const index_t M = p_.M, B = p_.B;
        res.theta = theta;
        res.shift = p_.anchor_benchmark >= 0 ? theta[p_.d(p_.anchor_benchmark)] - p_.anchor_difficulty : 0.0;
        res.capability.resize(static_cast<std::size_t>(M));
        res.difficulty.resize(static_cast<std::size_t>(B));
        res.slope.resize(static_cast<std::size_t>(B));
        for (index_t m = 0; m < M; ++m) res.capability[static_cast<std::size_t>(m)] = theta[p_.c(m)] - res.shift;
        for (index_t b = 0; b < B; ++b) {
            res.difficulty[static_cast<std::size_t>(b)] = theta[p_.d(b)] - res.shift;
            res.slope[static_cast<std::size_t>(b)] = theta[p_.a(b)];
        }
        res.floor = p_.floor;
        res.span = p_.span;
        res.sse = 0.0;
        for (const auto& o : p_.data->obs) {
            const double r = res.predict(o.model, o.benchmark) - o.score;
            res.sse += r * r;
        }
        res.at_bounds = 0;
        for (index_t j = 0; j < p_.size(); ++j) {
            const auto i = static_cast<std::size_t>(j);
            if (!p_.fixed[i] && (theta[j] <= p_.lo[i] || theta[j] >= p_.hi[i])) ++res.at_bounds;
        }
    }

    const Problem& p_;
    const double* weights_ = nullptr;
    bool exact_ = true;
    std::vector<double> mask_, A_, Adamp_, vd_, va_;
    Eigen::VectorXd rhs_, Sdamp_;
    Eigen::MatrixXd S0_, S_;
};

/// Fits the stitching model. `start` (e.g. FitResult::theta of an earlier fit) warm-starts it.
inline FitResult fit(const Dataset& data, const FitOptions& opt = {}, const Eigen::VectorXd* start = nullptr) {
    const Problem p = make_problem(data, opt);
    LmSolver solver(p);
    return solver.solve(opt, start);
}

}  // namespace ward::irt
