#pragma once
// The stitching model and its objective.
//
//   y_hat(m, b) = floor_b + (ceil_b - floor_b) * sigmoid(alpha_b * (C_m - D_b))
//
// Parameters live in one vector theta = [C (M) | D (B) | alpha (B)]. The scale is identified either by
// one anchor benchmark (its slope fixed, all difficulties free, everything shifted after the fit so that
// the anchor's difficulty takes its anchored value) or by two anchor models (their capabilities fixed).
//
// Objective (least squares, as the paper):  sum_i w_i (y_hat_i - y_i)^2 + lambda/P * sum_free theta_j^2
// Objective (binomial, classic 2PL):       -sum_i w_i n_i [y_i ln y_hat_i + (1-y_i) ln(1-y_hat_i)] + same penalty
// with P the number of free parameters and w_i observation weights (1, or bootstrap multiplicities).
//
// Each observation touches three parameters, so everything here is one pass over the observations with
// the per-observation derivative d eta/d(C_m, D_b, alpha_b) = (alpha_b, -alpha_b, C_m - D_b).

#include <ward/core/config.hpp>
#include <ward/core/error.hpp>
#include <ward/irt/dataset.hpp>

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ward::irt {

enum class Loss { least_squares, binomial };

/// How the scale is pinned down.
struct Anchor {
    std::string benchmark = "Winogrande";  // benchmark anchor: slope fixed, difficulty shifted to `difficulty`
    double difficulty = 0.0;
    double slope = 1.0;
    std::string model_a, model_b;          // model anchor (used when model_a is set): two capabilities fixed
    double capability_a = 0.0, capability_b = 1.0;

    bool by_models() const { return !model_a.empty(); }
    static Anchor on_benchmark(std::string name, double difficulty = 0.0, double slope = 1.0) {
        Anchor a;
        a.benchmark = std::move(name);
        a.difficulty = difficulty;
        a.slope = slope;
        return a;
    }
    static Anchor on_models(std::string a, double ca, std::string b, double cb) {
        Anchor x;
        x.benchmark.clear();
        x.model_a = std::move(a);
        x.model_b = std::move(b);
        x.capability_a = ca;
        x.capability_b = cb;
        return x;
    }
};

struct Bounds {
    double capability_low = -10, capability_high = 10;  // C and D (before the anchor shift)
    double slope_low = 0.1, slope_high = 10;
};

enum class LinearSolver { schur, dense };

struct FitOptions {
    Anchor anchor{};
    double lambda = 0.1;
    Bounds bounds{};
    Loss loss = Loss::least_squares;
    std::map<std::string, double> floor;    // random-guess baseline per benchmark (default 0)
    std::map<std::string, double> ceiling;  // ceiling per benchmark (default `default_ceiling`)
    double default_ceiling = 1.0;
    double initial_slope = 1.0;             // start of every free slope (C and D start at 0)
    int max_iterations = 1000;
    double gradient_tolerance = 1e-10;      // on the projected gradient, inf-norm
    double function_tolerance = 1e-15;      // relative decrease of an accepted step
    double step_tolerance = 1e-12;          // inf-norm of an accepted step
    bool exact_hessian = true;              // Newton steps near the optimum (else Gauss-Newton/Fisher throughout)
    double newton_switch = 1e-2;            // switch to Newton once a step lowers f by less than this fraction
    LinearSolver solver = LinearSolver::schur;
};

/// A Dataset resolved against FitOptions: indices, bounds, fixed parameters, floors, the penalty weight.
struct Problem {
    const Dataset* data = nullptr;
    index_t M = 0, B = 0;
    Loss loss = Loss::least_squares;
    std::vector<double> lo, hi;             // per parameter
    std::vector<std::uint8_t> fixed;        // per parameter: 1 when held at its start value
    std::vector<double> start;              // default starting point (fixed values included)
    std::vector<double> floor, span;        // per benchmark: y_hat = floor + span * sigmoid
    index_t anchor_benchmark = -1;
    double anchor_difficulty = 0.0;
    index_t num_free = 0;
    double penalty = 0.0;                   // lambda / P

    index_t size() const { return M + 2 * B; }
    index_t c(index_t m) const { return m; }
    index_t d(index_t b) const { return M + b; }
    index_t a(index_t b) const { return M + B + b; }
};

inline Problem make_problem(const Dataset& data, const FitOptions& opt) {
    data.validate();
    Problem p;
    p.data = &data;
    p.M = data.num_models();
    p.B = data.num_benchmarks();
    p.loss = opt.loss;
    if (p.M == 0 || p.B == 0) throw value_error("irt::fit: the dataset has no observations");
    if (!(opt.lambda >= 0)) throw value_error("irt::fit: lambda must be >= 0");
    const auto& bd = opt.bounds;
    if (!(bd.capability_low < bd.capability_high) || !(0 < bd.slope_low && bd.slope_low < bd.slope_high))
        throw value_error("irt::fit: invalid bounds");
    const index_t n = p.size();
    p.lo.assign(static_cast<std::size_t>(n), bd.capability_low);
    p.hi.assign(static_cast<std::size_t>(n), bd.capability_high);
    p.fixed.assign(static_cast<std::size_t>(n), 0);
    p.start.assign(static_cast<std::size_t>(n), 0.0);
    for (index_t b = 0; b < p.B; ++b) {
        p.lo[static_cast<std::size_t>(p.a(b))] = bd.slope_low;
        p.hi[static_cast<std::size_t>(p.a(b))] = bd.slope_high;
        p.start[static_cast<std::size_t>(p.a(b))] = std::clamp(opt.initial_slope, bd.slope_low, bd.slope_high);
    }
    auto fix = [&](index_t j, double v) {
        p.fixed[static_cast<std::size_t>(j)] = 1;
        p.start[static_cast<std::size_t>(j)] = v;
        p.lo[static_cast<std::size_t>(j)] = std::min(p.lo[static_cast<std::size_t>(j)], v);
        p.hi[static_cast<std::size_t>(j)] = std::max(p.hi[static_cast<std::size_t>(j)], v);
    };
    const auto& an = opt.anchor;
    if (an.by_models()) {
        const index_t ma = data.model_index(an.model_a), mb = data.model_index(an.model_b);
        if (ma < 0) throw value_error("irt::fit: anchor model '" + an.model_a + "' is not in the data");
        if (mb < 0) throw value_error("irt::fit: anchor model '" + an.model_b + "' is not in the data");
        if (ma == mb || an.capability_a == an.capability_b)
            throw value_error("irt::fit: the two anchor models and their capabilities must differ");
        fix(p.c(ma), an.capability_a);
        fix(p.c(mb), an.capability_b);
    } else {
        p.anchor_benchmark = data.benchmark_index(an.benchmark);
        if (p.anchor_benchmark < 0) {
            std::string some;
            for (std::size_t b = 0; b < data.benchmarks.size() && b < 8; ++b) some += (b ? ", '" : "'") + data.benchmarks[b] + "'";
            throw value_error("irt::fit: anchor benchmark '" + an.benchmark + "' is not in the data (it has " +
                              std::to_string(data.benchmarks.size()) + " benchmarks: " + some +
                              (data.benchmarks.size() > 8 ? ", ..." : "") + "); choose another with FitOptions::anchor");
        }
        if (!(an.slope > 0)) throw value_error("irt::fit: the anchor slope must be positive");
        p.anchor_difficulty = an.difficulty;
        fix(p.a(p.anchor_benchmark), an.slope);
    }
    p.floor.assign(static_cast<std::size_t>(p.B), 0.0);
    p.span.assign(static_cast<std::size_t>(p.B), opt.default_ceiling);
    for (const auto& [name, v] : opt.floor) {
        const auto b = data.benchmark_index(name);
        if (b < 0) throw value_error("irt::fit: floor given for unknown benchmark '" + name + "'");
        p.floor[static_cast<std::size_t>(b)] = v;
    }
    std::vector<double> ceil(static_cast<std::size_t>(p.B), opt.default_ceiling);
    for (const auto& [name, v] : opt.ceiling) {
        const auto b = data.benchmark_index(name);
        if (b < 0) throw value_error("irt::fit: ceiling given for unknown benchmark '" + name + "'");
        ceil[static_cast<std::size_t>(b)] = v;
    }
    for (index_t b = 0; b < p.B; ++b) {
        const auto i = static_cast<std::size_t>(b);
        p.span[i] = ceil[i] - p.floor[i];
        if (!(p.floor[i] >= 0 && p.span[i] > 0 && ceil[i] <= 1))
            throw value_error("irt::fit: benchmark '" + data.benchmarks[i] + "' needs 0 <= floor < ceiling <= 1");
    }
    for (auto f : p.fixed) p.num_free += !f;
    p.penalty = opt.lambda / static_cast<double>(p.num_free);
    return p;
}

inline double sigmoid(double x) {
    return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

/// What one observation contributes: its loss, d loss/d eta (u), the Gauss-Newton/Fisher curvature (h)
/// and the exact d^2 loss/d eta^2 (h2): gradient += u * d eta/d theta, Hessian += h * (d eta)(d eta)^T
/// (plus u * d^2 eta/d theta^2 for the exact Hessian).
struct ObsTerm {
    double loss, u, h, h2;
};

inline ObsTerm observation_term(const Problem& p, const Observation& o, double eta, double w) {
    const auto b = static_cast<std::size_t>(o.benchmark);
    const double s = sigmoid(eta);
    const double ds = p.span[b] * s * (1.0 - s);  // d y_hat / d eta
    const double yhat = p.floor[b] + p.span[b] * s;
    if (p.loss == Loss::least_squares) {
        const double r = yhat - o.score;
        const double d2s = ds * (1.0 - 2.0 * s);  // d^2 y_hat / d eta^2
        return {w * r * r, 2.0 * w * r * ds, 2.0 * w * ds * ds, 2.0 * w * (ds * ds + r * d2s)};
    }
    const double n = w * o.trials;
    const double q = std::clamp(yhat, 1e-15, 1.0 - 1e-15);
    const double loss = -n * (o.score * std::log(q) + (1.0 - o.score) * std::log1p(-q));
    const double v = q * (1.0 - q);
    const double fisher = n * ds * ds / v;
    return {loss, n * (yhat - o.score) * ds / v, fisher, fisher};
}

inline double weight_of(const double* weights, index_t i) { return weights ? weights[i] : 1.0; }

/// The objective at theta. `weights` (one per observation) may be null.
inline double objective(const Problem& p, const Eigen::VectorXd& theta, const double* weights = nullptr) {
    const auto& obs = p.data->obs;
    double f = 0.0;
    for (index_t i = 0; i < static_cast<index_t>(obs.size()); ++i) {
        const double w = weight_of(weights, i);
        if (w == 0.0) continue;
        const auto& o = obs[static_cast<std::size_t>(i)];
        const double C = theta[p.c(o.model)], D = theta[p.d(o.benchmark)], a = theta[p.a(o.benchmark)];
        f += observation_term(p, o, a * (C - D), w).loss;
    }
    for (index_t j = 0; j < p.size(); ++j)
        if (!p.fixed[static_cast<std::size_t>(j)]) f += p.penalty * theta[j] * theta[j];
    return f;
}

/// The objective's gradient (zero in fixed coordinates).
inline Eigen::VectorXd gradient(const Problem& p, const Eigen::VectorXd& theta, const double* weights = nullptr) {
    Eigen::VectorXd g = Eigen::VectorXd::Zero(p.size());
    const auto& obs = p.data->obs;
    for (index_t i = 0; i < static_cast<index_t>(obs.size()); ++i) {
        const double w = weight_of(weights, i);
        if (w == 0.0) continue;
        const auto& o = obs[static_cast<std::size_t>(i)];
        const double C = theta[p.c(o.model)], D = theta[p.d(o.benchmark)], a = theta[p.a(o.benchmark)];
        const double u = observation_term(p, o, a * (C - D), w).u;
        g[p.c(o.model)] += u * a;
        g[p.d(o.benchmark)] -= u * a;
        g[p.a(o.benchmark)] += u * (C - D);
    }
    for (index_t j = 0; j < p.size(); ++j)
        g[j] = p.fixed[static_cast<std::size_t>(j)] ? 0.0 : g[j] + 2.0 * p.penalty * theta[j];
    return g;
}

/// Least-squares residual vector r with objective = |r|^2: one residual per observation
/// (sqrt(w) (y_hat - y)), then sqrt(lambda/P) theta_j per free parameter j.
inline Eigen::VectorXd residuals(const Problem& p, const Eigen::VectorXd& theta) {
    if (p.loss != Loss::least_squares) throw value_error("irt::residuals: defined for the least-squares loss only");
    const auto& obs = p.data->obs;
    Eigen::VectorXd r(static_cast<index_t>(obs.size()) + p.num_free);
    for (std::size_t i = 0; i < obs.size(); ++i) {
        const auto& o = obs[i];
        const auto b = static_cast<std::size_t>(o.benchmark);
        const double eta = theta[p.a(o.benchmark)] * (theta[p.c(o.model)] - theta[p.d(o.benchmark)]);
        r[static_cast<index_t>(i)] = p.floor[b] + p.span[b] * sigmoid(eta) - o.score;
    }
    index_t k = static_cast<index_t>(obs.size());
    for (index_t j = 0; j < p.size(); ++j)
        if (!p.fixed[static_cast<std::size_t>(j)]) r[k++] = std::sqrt(p.penalty) * theta[j];
    return r;
}

/// The analytic, sparse Jacobian of residuals() with respect to all of theta (fixed columns are zero):
/// three non-zeros per observation row, one per penalty row.
inline Eigen::SparseMatrix<double> jacobian(const Problem& p, const Eigen::VectorXd& theta) {
    const auto& obs = p.data->obs;
    std::vector<Eigen::Triplet<double>> t;
    t.reserve(3 * obs.size() + static_cast<std::size_t>(p.num_free));
    auto free = [&](index_t j) { return !p.fixed[static_cast<std::size_t>(j)]; };
    for (std::size_t i = 0; i < obs.size(); ++i) {
        const auto& o = obs[i];
        const double C = theta[p.c(o.model)], D = theta[p.d(o.benchmark)], a = theta[p.a(o.benchmark)];
        const double s = sigmoid(a * (C - D));
        const double ds = p.span[static_cast<std::size_t>(o.benchmark)] * s * (1 - s);
        const auto row = static_cast<index_t>(i);
        if (free(p.c(o.model))) t.emplace_back(row, p.c(o.model), ds * a);
        if (free(p.d(o.benchmark))) t.emplace_back(row, p.d(o.benchmark), -ds * a);
        if (free(p.a(o.benchmark))) t.emplace_back(row, p.a(o.benchmark), ds * (C - D));
    }
    index_t k = static_cast<index_t>(obs.size());
    for (index_t j = 0; j < p.size(); ++j)
        if (free(j)) t.emplace_back(k++, j, std::sqrt(p.penalty));
    Eigen::SparseMatrix<double> J(k, p.size());
    J.setFromTriplets(t.begin(), t.end());
    return J;
}

}  // namespace ward::irt
