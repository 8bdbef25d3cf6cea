#pragma once
// The constrained optimum by the Lagrangian, max_pi min_{lambda >= 0} J_r(pi) - lambda (J_c(pi) - d), two ways:
//
//  - solve_primal_dual: the loop PPO-Lagrangian runs, on a tabular CMDP. Each iteration the learner improves
//    its policy for the payoff r - lambda c (an exact best response by policy iteration, or natural-policy-
//    gradient steps that lag behind lambda as a neural policy does), the cost of that policy is measured
//    exactly, and any Multiplier (ward/cmdp/multiplier.hpp) turns it into the next lambda.
//  - solve_bisection: bisection on lambda for the point where the best response's cost crosses d.
//
// Either way the answer needs a mixture. The dual function is piecewise linear in lambda: at lambda* two
// deterministic policies are optimal, one spending more than d and one less, and every lambda near lambda*
// picks one of them, so the iterates chatter between the two and none of them is the constrained optimum.
// The optimum is the mixture of their occupancy measures that spends exactly d,
// w d_less + (1 - w) d_more with w = (J_c(more) - d) / (J_c(more) - J_c(less)), as a stationary policy.
// solve_primal_dual reports the best such mixture of the policies it visited (the upper concave envelope of
// their (J_c, J_r) points, at d).
// Values are unnormalised expected discounted sums from mu0, as everywhere in ward/cmdp.

#include <ward/cmdp/evaluate.hpp>
#include <ward/cmdp/mdp.hpp>
#include <ward/cmdp/multiplier.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace ward::cmdp {

enum class Learner {
    best_response,     // the optimal policy for r - lambda c, from scratch each iteration
    natural_gradient,  // softmax policy, logits += policy_lr * Q_lambda (tabular NPG), starting uniform
};

struct PrimalDualOptions {
    int iterations = 10000;
    Learner learner = Learner::best_response;
    double policy_lr = 0.1;  // natural-gradient step size
};

/// One iteration: the lambda the policy was trained against, and that policy's exact J_r and J_c.
struct PrimalDualStep {
    double multiplier = 0, value = 0, cost = 0;
};

struct PrimalDualResult {
    /// The best mixture of visited policies within the threshold. Its multiplier is the slope dJ_r/dJ_c of the
    /// visited envelope at the threshold (0 when the constraint is slack): lambda* exactly once the two policies
    /// optimal at lambda* have been visited, since both then maximise J_r - lambda* J_c.
    Solution solution;
    double mean_multiplier = 0;  // the iterates' lambda, averaged over the last half: it chatters around lambda*
    std::vector<PrimalDualStep> trace;
    std::size_t policies_visited = 0;  // distinct policies among the iterates
};

namespace detail {

/// Feasibility slack for round-off: costs are sums of up to 1 / (1 - gamma) terms of size max |c|.
inline double cost_tolerance(const Cmdp& m) {
    double c = 0;
    for (const auto& row : m.cost)
        for (double v : row) c = std::max(c, std::abs(v));
    return 1e-10 * (c / (1 - m.gamma) + std::abs(m.threshold) + 1e-300);
}

/// Throws infeasible_error when even the cheapest policy spends more than the threshold.
inline void require_feasible(const Cmdp& m, const std::string& who) {
    const Solution cheapest = minimum_cost_policy(m);
    if (cheapest.cost > m.threshold + cost_tolerance(m)) throw infeasible_error(who, m.threshold, cheapest.cost);
}

struct Visited {
    const Policy* policy;
    double value, cost;
};

/// The best policy within the threshold among mixtures of the visited ones: the upper concave envelope of
/// their (cost, value) points evaluated at the threshold, or the best point when it is within the threshold.
inline Solution best_mixture(const Cmdp& m, std::vector<Visited> points, const std::string& who) {
    const double d = m.threshold + cost_tolerance(m);
    std::sort(points.begin(), points.end(), [](const Visited& a, const Visited& b) {
        return a.cost < b.cost || (a.cost == b.cost && a.value > b.value);
    });
    if (points.empty() || points.front().cost > d)
        throw value_error(who + ": none of the " + std::to_string(points.size()) + " policies visited meets the threshold " +
                          number(m.threshold) + (points.empty() ? "" : " (cheapest: " + number(points.front().cost) + ")") +
                          "; run more iterations or let the multiplier move faster");
    // Upper hull, left to right; a point on or below the chord of its neighbours is dropped.
    std::vector<Visited> hull;
    for (const Visited& p : points) {
        if (!hull.empty() && hull.back().cost == p.cost) continue;  // same cost, lower value
        while (hull.size() >= 2) {
            const Visited& a = hull[hull.size() - 2];
            const Visited& b = hull.back();
            if ((b.cost - a.cost) * (p.value - a.value) - (b.value - a.value) * (p.cost - a.cost) < 0) break;
            hull.pop_back();
        }
        hull.push_back(p);
    }
    // Left of its highest point the envelope rises, so the best within budget is the envelope at d.
    const auto top = std::max_element(hull.begin(), hull.end(), [](const Visited& a, const Visited& b) { return a.value < b.value; });
    if (top->cost <= d) return make_solution(m, *top->policy, 0.0);
    std::size_t i = 0;
    while (hull[i + 1].cost <= d) ++i;
    const Visited& lo = hull[i];       // within the threshold
    const Visited& hi = hull[i + 1];  // above it, and worth more
    const double w = std::clamp((hi.cost - m.threshold) / (hi.cost - lo.cost), 0.0, 1.0);
    return make_solution(m, mix(m, *lo.policy, *hi.policy, w), (hi.value - lo.value) / (hi.cost - lo.cost));
}

inline Policy softmax(const Table& logits) {
    Policy pi = logits;
    for (auto& row : pi) {
        const double top = *std::max_element(row.begin(), row.end());
        double total = 0;
        for (double& v : row) total += v = std::exp(v - top);
        for (double& v : row) v /= total;
    }
    return pi;
}

}  // namespace detail

/// Primal-dual iteration with `multiplier` (whose threshold must be the CMDP's). Throws infeasible_error when
/// no policy meets the threshold, and value_error when none of the visited ones does.
template <Multiplier M>
PrimalDualResult solve_primal_dual(const Cmdp& m, M& multiplier, const PrimalDualOptions& o = {}) {
    const std::string who = "cmdp::solve_primal_dual";
    validate(m);
    if (o.iterations < 1) throw value_error(who + ": iterations must be >= 1");
    if (o.learner == Learner::natural_gradient && !(std::isfinite(o.policy_lr) && o.policy_lr > 0))
        throw value_error(who + ": policy_lr must be finite and > 0");
    if (multiplier.threshold() != m.threshold)
        throw value_error(who + ": the multiplier's threshold " + detail::number(multiplier.threshold()) +
                          " is not the CMDP's " + detail::number(m.threshold));
    detail::require_feasible(m, who);

    PrimalDualResult out;
    std::map<Policy, std::pair<double, double>> visited;  // distinct policies and their (J_r, J_c)
    Table logits(m.states, std::vector<double>(m.actions, 0.0));
    double lambda = multiplier.value();
    for (int k = 0; k < o.iterations; ++k) {
        Policy pi;
        if (o.learner == Learner::best_response) {
            pi = solve_mdp(m, lagrangian_payoff(m, lambda)).policy;
        } else {
            const Table q = q_values(m, detail::softmax(logits), lagrangian_payoff(m, lambda));
            for (std::size_t s = 0; s < m.states; ++s) {
                for (std::size_t a = 0; a < m.actions; ++a) logits[s][a] += o.policy_lr * q[s][a];
                const double top = *std::max_element(logits[s].begin(), logits[s].end());
                for (double& v : logits[s]) v -= top;  // softmax is shift-invariant; keeps the logits bounded
            }
            pi = detail::softmax(logits);
        }
        const Evaluation e = evaluate(m, pi);
        out.trace.push_back({lambda, e.reward, e.cost});
        visited.emplace(std::move(pi), std::make_pair(e.reward, e.cost));
        lambda = multiplier.update(e.cost);
    }
    std::vector<detail::Visited> points;
    for (const auto& [pi, rc] : visited) points.push_back({&pi, rc.first, rc.second});
    const std::size_t half = out.trace.size() / 2;
    for (std::size_t k = half; k < out.trace.size(); ++k) out.mean_multiplier += out.trace[k].multiplier;
    out.mean_multiplier /= static_cast<double>(out.trace.size() - half);
    out.solution = detail::best_mixture(m, std::move(points), who);
    out.policies_visited = visited.size();
    return out;
}

struct BisectionOptions {
    double tolerance = 1e-12;  // stop when the lambda bracket is this narrow, relative to max(1, lambda)
    int max_iterations = 200;
};

/// The constrained optimum by bisection on lambda: the best responses at both ends of the final bracket,
/// mixed to spend exactly the threshold. The multiplier is the bracket's midpoint.
inline Solution solve_bisection(const Cmdp& m, const BisectionOptions& o = {}) {
    const std::string who = "cmdp::solve_bisection";
    validate(m);
    detail::require_feasible(m, who);
    const double d = m.threshold + detail::cost_tolerance(m);
    const auto best_response = [&](double lambda) { return make_solution(m, solve_mdp(m, lagrangian_payoff(m, lambda)).policy, lambda); };

    Solution lo = best_response(0.0);
    if (lo.cost <= d) return lo;  // the constraint is slack: lambda* = 0
    Solution hi = best_response(1.0);
    for (int k = 0; hi.cost > d; ++k) {  // doubling ends: for large lambda the best response is the cheapest policy
        if (k == 1000) throw value_error(who + ": no lambda up to 2^1000 meets the threshold");
        lo = hi;
        hi = best_response(2 * hi.multiplier);
    }
    for (int k = 0; k < o.max_iterations && hi.multiplier - lo.multiplier > o.tolerance * std::max(1.0, hi.multiplier); ++k) {
        Solution mid = best_response(0.5 * (lo.multiplier + hi.multiplier));
        (mid.cost > d ? lo : hi) = std::move(mid);
    }
    // lo spends more than d and hi does not; the weight is finite because lo.cost > d >= hi.cost.
    const double w = (lo.cost - m.threshold) / (lo.cost - hi.cost);
    return make_solution(m, mix(m, hi.policy, lo.policy, std::clamp(w, 0.0, 1.0)), 0.5 * (lo.multiplier + hi.multiplier));
}

namespace detail {

/// The span of achievable trade-offs: Delta C and Delta R between the cheapest policy and the unconstrained
/// optimum, and their ratio Lambda, the order of lambda*. {0, 0, 0} when there is nothing to trade.
struct TradeOff {
    double dc = 0, dr = 0, lambda = 0;
};

inline TradeOff trade_off(const Cmdp& m) {
    validate(m);
    const Solution cheapest = minimum_cost_policy(m);
    const Solution best = make_solution(m, solve_mdp(m, m.reward).policy, 0.0);
    const double dc = best.cost - cheapest.cost, dr = best.value - cheapest.value;
    if (!(dc > cost_tolerance(m) && dr > 0)) return {};
    return {dc, dr, dr / dc};
}

}  // namespace detail

/// Step sizes for the tabular loop in the CMDP's own units (detail::TradeOff): lr = 0.2 Lambda / Delta C moves
/// lambda by a fifth of Lambda per violation of Delta C. Plain ascent needs about lambda* / (lr * violation)
/// iterations to reach lambda*: on random CMDPs with thresholds in the middle 80% of the achievable costs,
/// 10000 iterations were enough in 400 of 400 seeded cases.
inline AscentOptions suggested_ascent(const Cmdp& m) {
    const detail::TradeOff t = detail::trade_off(m);
    return {.threshold = m.threshold, .lr = t.dc > 0 ? 0.2 * t.lambda / t.dc : 1.0};
}

/// The log form starts at Lambda and moves log lambda by 0.2 per violation of Delta C.
inline AscentOptions suggested_log_ascent(const Cmdp& m) {
    const detail::TradeOff t = detail::trade_off(m);
    return {.threshold = m.threshold, .lr = t.dc > 0 ? 0.2 / t.dc : 1.0, .init = t.dc > 0 ? t.lambda : 1.0};
}

/// PID gains on the same scale: Ki is the plain ascent's lr; the proportional and derivative terms damp it.
inline PidOptions suggested_pid(const Cmdp& m) {
    const double lr = suggested_ascent(m).lr;
    return {.threshold = m.threshold, .kp = 5 * lr, .ki = lr, .kd = 5 * lr};
}

}  // namespace ward::cmdp
