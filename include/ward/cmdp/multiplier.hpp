#pragma once
// Lagrange multipliers for constrained policy optimisation, max_pi min_{lambda >= 0} J_r - lambda (J_c - d):
// each receives the measured cost J_c of the current policy, once per policy update, and returns the lambda
// that the next policy update should weigh the cost by. They know nothing of how the cost was measured, so
// the tabular solver (ward/cmdp/lagrangian.hpp) and PPO-Lagrangian on language models use the same ones.
//
//   LagrangeMultiplier     lambda <- clamp(lambda + lr (J_c - d), 0, max)                      (OmniSafe's Lagrange)
//   LogLagrangeMultiplier  log lambda <- min(log lambda + lr (J_c - d), log max), lambda = exp  (Safe-RLHF's PPO-Lag)
//   PidLagrangeMultiplier  lambda = clamp(Kp e + I + Kd (J_c - J_c[t - delay])_+, 0, max),
//                          I <- max(0, I + Ki e), e = J_c - d, with EMA-smoothed e and J_c
//                          (Stooke, Achiam & Abbeel 2020, "Responsive Safety in Reinforcement Learning by
//                          PID Lagrangian Methods", Algorithm 2 and their code)
//
// The gradient-ascent forms step by plain SGD by default. Adam, OmniSafe's default, divides each step by the
// running RMS of the gradient; for one scalar whose gradient J_c - d keeps its sign that ratio is +-1, so
// lambda moves by +-lr per update however large or small the violation: a bang-bang controller that neither
// slows down near the boundary nor hurries when far from it. Ascent::adam is there to reproduce such runs.
// The log form with SGD takes lr (J_c - d) as the step on log lambda (a multiplicative update); the gradient
// of Safe-RLHF's loss -(J_c - d) exp(log lambda) carries an extra factor lambda, which its Adam normalises away.
//
// Common options: `threshold` d; `init`, the lambda before any update; `max`, the projection bound; `delay`,
// warm-up updates that record the cost but leave lambda at init; `window`, lambda follows the mean of the last
// `window` measured costs (Safe-RLHF's episode-cost window). A NaN or infinite cost is an error, never a step.

#include <ward/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <deque>
#include <limits>
#include <numeric>
#include <string>

namespace ward::cmdp {

/// What every multiplier offers: one update per measured cost, the current lambda and the cost limit.
template <class M>
concept Multiplier = requires(M& m, const M& cm, double measured_cost) {
    { m.update(measured_cost) } -> std::convertible_to<double>;
    { cm.value() } -> std::convertible_to<double>;
    { cm.threshold() } -> std::convertible_to<double>;
};

enum class Ascent { sgd, adam };

/// Options of the two gradient-ascent multipliers.
struct AscentOptions {
    double threshold = 0;  // d, in the units of the measured cost
    double lr = 0.05;
    double init = 0;  // LogLagrangeMultiplier needs init > 0 (it stores log lambda)
    double max = std::numeric_limits<double>::infinity();
    int delay = 0;
    int window = 1;
    Ascent ascent = Ascent::sgd;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam's, used when ascent == Ascent::adam
};

/// Options of the PID multiplier; the gains are OmniSafe's defaults for its PID-Lagrangian.
struct PidOptions {
    double threshold = 0;
    double kp = 0.1, ki = 0.01, kd = 0.01;
    double init = 0;  // the integral's starting value, and so lambda before any update
    double max = std::numeric_limits<double>::infinity();
    int delay = 0;
    int window = 1;
    int d_delay = 10;     // the derivative compares the smoothed cost with its value d_delay updates ago
    double p_ema = 0.95;  // EMA weight of the old value for the proportional error (0: no smoothing)
    double d_ema = 0.95;  // EMA weight of the old value for the cost the derivative sees
};

namespace detail {

inline void require(bool ok, const std::string& who, const std::string& what) {
    if (!ok) throw value_error(who + ": " + what);
}

inline void check_common(const std::string& who, double threshold, double init, double max, int delay, int window) {
    require(std::isfinite(threshold), who, "threshold must be finite");
    require(std::isfinite(init) && init >= 0, who, "init must be finite and >= 0");
    require(max > 0 && !std::isnan(max), who, "max must be > 0 (infinity for no bound)");
    require(init <= max, who, "init must not exceed max");
    require(delay >= 0, who, "delay must be >= 0");
    require(window >= 1, who, "window must be >= 1");
}

/// The mean of the last `size` measured costs (one cost when size is 1).
class CostWindow {
public:
    explicit CostWindow(int size) : size_(static_cast<std::size_t>(size)) {}
    double push(const std::string& who, double cost) {
        if (!std::isfinite(cost))
            throw value_error(who + "::update: the measured cost is " + std::to_string(cost) + ", not a finite number");
        costs_.push_back(cost);
        if (costs_.size() > size_) costs_.pop_front();
        return std::accumulate(costs_.begin(), costs_.end(), 0.0) / static_cast<double>(costs_.size());
    }

private:
    std::size_t size_;
    std::deque<double> costs_;
};

/// One scalar parameter's ascent step for gradient g: lr g (SGD), or Adam's bias-corrected lr m / (sqrt(v) + eps).
class ScalarAscent {
public:
    explicit ScalarAscent(const AscentOptions& o) : o_(o) {}
    double step(double g) {
        if (o_.ascent == Ascent::sgd) return o_.lr * g;
        ++t_;
        m_ = o_.beta1 * m_ + (1 - o_.beta1) * g;
        v_ = o_.beta2 * v_ + (1 - o_.beta2) * g * g;
        const double mhat = m_ / (1 - std::pow(o_.beta1, t_)), vhat = v_ / (1 - std::pow(o_.beta2, t_));
        return o_.lr * mhat / (std::sqrt(vhat) + o_.eps);
    }

private:
    AscentOptions o_;
    double m_ = 0, v_ = 0;
    int t_ = 0;
};

inline void check_ascent(const std::string& who, const AscentOptions& o) {
    check_common(who, o.threshold, o.init, o.max, o.delay, o.window);
    require(std::isfinite(o.lr) && o.lr > 0, who, "lr must be finite and > 0");
    require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.eps > 0, who,
            "Adam needs beta1, beta2 in [0, 1) and eps > 0");
}

}  // namespace detail

/// Projected gradient ascent on lambda: lambda <- clamp(lambda + step(mean cost - d), 0, max).
class LagrangeMultiplier {
public:
    explicit LagrangeMultiplier(const AscentOptions& o = {}) : o_(o), ascent_(o), window_(o.window), lambda_(o.init) {
        detail::check_ascent("LagrangeMultiplier", o);
    }
    double update(double measured_cost) {
        const double cost = window_.push("LagrangeMultiplier", measured_cost);
        if (++steps_ > o_.delay) lambda_ = std::clamp(lambda_ + ascent_.step(cost - o_.threshold), 0.0, o_.max);
        return lambda_;
    }
    double value() const { return lambda_; }
    double threshold() const { return o_.threshold; }
    long steps() const { return steps_; }

private:
    AscentOptions o_;
    detail::ScalarAscent ascent_;
    detail::CostWindow window_;
    double lambda_;
    long steps_ = 0;
};

/// Gradient ascent on log lambda: lambda = exp(log lambda) stays > 0 and moves by factors, not by steps.
class LogLagrangeMultiplier {
public:
    explicit LogLagrangeMultiplier(const AscentOptions& o = {.init = 1.0})
        : o_(o), ascent_(o), window_(o.window), log_lambda_(std::log(o.init)) {
        detail::check_ascent("LogLagrangeMultiplier", o);
        detail::require(o.init > 0, "LogLagrangeMultiplier", "init must be > 0: it keeps log lambda, and log 0 = -inf");
    }
    double update(double measured_cost) {
        const double cost = window_.push("LogLagrangeMultiplier", measured_cost);
        if (++steps_ > o_.delay) log_lambda_ = std::min(log_lambda_ + ascent_.step(cost - o_.threshold), std::log(o_.max));
        return value();
    }
    double value() const { return std::exp(log_lambda_); }
    double log_value() const { return log_lambda_; }
    double threshold() const { return o_.threshold; }
    long steps() const { return steps_; }

private:
    AscentOptions o_;
    detail::ScalarAscent ascent_;
    detail::CostWindow window_;
    double log_lambda_;
    long steps_ = 0;
};

/// The PID-Lagrangian: the integral term alone is gradient ascent with lr Ki; the proportional term reacts to
/// the violation now, and the derivative term (rises of the cost only) brakes before the overshoot.
class PidLagrangeMultiplier {
public:
    explicit PidLagrangeMultiplier(const PidOptions& o = {}) : o_(o), window_(o.window), integral_(o.init), lambda_(o.init) {
        const std::string who = "PidLagrangeMultiplier";
        detail::check_common(who, o.threshold, o.init, o.max, o.delay, o.window);
        detail::require(std::isfinite(o.kp) && std::isfinite(o.ki) && std::isfinite(o.kd) && o.kp >= 0 && o.ki >= 0 && o.kd >= 0,
                        who, "gains kp, ki, kd must be finite and >= 0");
        detail::require(o.d_delay >= 1, who, "d_delay must be >= 1");
        detail::require(o.p_ema >= 0 && o.p_ema < 1 && o.d_ema >= 0 && o.d_ema < 1, who, "p_ema and d_ema must be in [0, 1)");
        smoothed_history_.assign(static_cast<std::size_t>(o.d_delay), 0.0);  // as the paper's code: the past starts at 0
    }
    double update(double measured_cost) {
        const double cost = window_.push("PidLagrangeMultiplier", measured_cost);
        if (++steps_ <= o_.delay) return lambda_;
        const double e = cost - o_.threshold;
        integral_ = std::max(0.0, integral_ + o_.ki * e);
        p_error_ = o_.p_ema * p_error_ + (1 - o_.p_ema) * e;
        d_cost_ = o_.d_ema * d_cost_ + (1 - o_.d_ema) * cost;
        const double rise = std::max(0.0, d_cost_ - smoothed_history_.front());
        smoothed_history_.pop_front();
        smoothed_history_.push_back(d_cost_);
        lambda_ = std::clamp(o_.kp * p_error_ + integral_ + o_.kd * rise, 0.0, o_.max);
        return lambda_;
    }
    double value() const { return lambda_; }
    double threshold() const { return o_.threshold; }
    double integral() const { return integral_; }
    long steps() const { return steps_; }

private:
    PidOptions o_;
    detail::CostWindow window_;
    std::deque<double> smoothed_history_;
    double integral_, lambda_;
    double p_error_ = 0, d_cost_ = 0;
    long steps_ = 0;
};

static_assert(Multiplier<LagrangeMultiplier> && Multiplier<LogLagrangeMultiplier> && Multiplier<PidLagrangeMultiplier>);

}  // namespace ward::cmdp
