#pragma once
// A finite discounted constrained MDP (Altman 1999): states, actions, discount, transitions, reward,
// cost, initial distribution and cost threshold, with the checks every solver relies on.
//
// Values throughout ward/cmdp are unnormalised expected discounted sums from mu0,
//   J_r(pi) = E[sum_t gamma^t r(s_t, a_t)],   J_c(pi) = E[sum_t gamma^t c(s_t, a_t)],   s_0 ~ mu0,
// not multiplied by (1 - gamma); the constraint J_c(pi) <= threshold is in the same units.

#include <ward/core/error.hpp>

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

namespace ward::cmdp {

/// A [s][a] table: reward, cost, occupancy measure, or a policy's action probabilities.
using Table = std::vector<std::vector<double>>;

/// A stochastic stationary policy: pi[s][a] = probability of action a in state s.
using Policy = Table;

struct Cmdp {
    std::size_t states = 0, actions = 0;
    double gamma = 0.9;                              // discount, in [0, 1)
    std::vector<std::vector<std::vector<double>>> P;  // P[s][a][s'] = probability of s' after a in s
    Table reward;                                    // r[s][a]
    Table cost;                                      // c[s][a]; any sign, as the threshold
    std::vector<double> mu0;                         // initial distribution over states
    double threshold = 0;                            // J_c(pi) <= threshold
    std::vector<std::string> state_names, action_names;  // optional, for reports

    std::string state_name(std::size_t s) const { return s < state_names.size() ? state_names[s] : std::to_string(s); }
    std::string action_name(std::size_t a) const { return a < action_names.size() ? action_names[a] : std::to_string(a); }
};

/// The threshold is below the lowest expected discounted cost any policy achieves.
class infeasible_error : public value_error {
public:
    infeasible_error(const std::string& where, double threshold, double minimum_cost)
        : value_error(message(where, threshold, minimum_cost)), minimum_cost_(minimum_cost) {}
    double minimum_cost() const { return minimum_cost_; }

private:
    static std::string message(const std::string& where, double threshold, double minimum_cost) {
        std::ostringstream os;
        os.precision(10);
        os << where << ": infeasible constraint: the cost threshold " << threshold
           << " is below the minimum achievable expected discounted cost " << minimum_cost;
        return os.str();
    }
    double minimum_cost_;
};

namespace detail {

inline std::string at(const char* field, std::size_t i) { return std::string(field) + "[" + std::to_string(i) + "]"; }
inline std::string at(const char* field, std::size_t i, std::size_t j) { return at(field, i) + "[" + std::to_string(j) + "]"; }

inline std::string number(double v) {
    std::ostringstream os;
    os.precision(10);
    os << v;
    return os.str();
}

inline void check_finite(const std::string& source, const std::string& field, double v) {
    if (!std::isfinite(v)) throw value_error(source + ": " + field + " is " + number(v) + ", not a finite number");
}

inline void check_size(const std::string& source, const std::string& field, std::size_t got, std::size_t want,
                       const char* what) {
    if (got != want)
        throw shape_error(source + ": " + field + " has " + std::to_string(got) + " entries, expected " +
                          std::to_string(want) + " (" + what + ")");
}

/// A probability vector: entries finite and >= 0, summing to 1 within `tolerance`.
inline void check_distribution(const std::string& source, const std::string& field, const std::vector<double>& p,
                               double tolerance) {
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        check_finite(source, field + "[" + std::to_string(i) + "]", p[i]);
        if (p[i] < 0) throw value_error(source + ": " + field + "[" + std::to_string(i) + "] = " + number(p[i]) +
                                        " is a negative probability");
        sum += p[i];
    }
    if (std::abs(sum - 1.0) > tolerance)
        throw value_error(source + ": " + field + " sums to " + number(sum) + ", not 1 (tolerance " + number(tolerance) + ")");
}

}  // namespace detail

/// Checks sizes, probabilities (>= 0, rows summing to 1 within `tolerance`), gamma in [0, 1) and that
/// every number is finite. Errors start with `source` (a file name, or "cmdp") and name the field.
inline void validate(const Cmdp& m, const std::string& source = "cmdp", double tolerance = 1e-6) {
    using detail::at;
    if (m.states == 0) throw shape_error(source + ": states must be at least 1");
    if (m.actions == 0) throw shape_error(source + ": actions must be at least 1");
    detail::check_finite(source, "gamma", m.gamma);
    if (!(m.gamma >= 0 && m.gamma < 1)) throw value_error(source + ": gamma = " + detail::number(m.gamma) + " is outside [0, 1)");
    detail::check_finite(source, "threshold", m.threshold);
    if (!m.state_names.empty()) detail::check_size(source, "state names", m.state_names.size(), m.states, "states");
    if (!m.action_names.empty()) detail::check_size(source, "action names", m.action_names.size(), m.actions, "actions");

    detail::check_size(source, "P", m.P.size(), m.states, "states");
    detail::check_size(source, "reward", m.reward.size(), m.states, "states");
    detail::check_size(source, "cost", m.cost.size(), m.states, "states");
    detail::check_size(source, "mu0", m.mu0.size(), m.states, "states");
    for (std::size_t s = 0; s < m.states; ++s) {
        detail::check_size(source, at("P", s), m.P[s].size(), m.actions, "actions");
        detail::check_size(source, at("reward", s), m.reward[s].size(), m.actions, "actions");
        detail::check_size(source, at("cost", s), m.cost[s].size(), m.actions, "actions");
        for (std::size_t a = 0; a < m.actions; ++a) {
            detail::check_size(source, at("P", s, a), m.P[s][a].size(), m.states, "states");
            detail::check_distribution(source, at("P", s, a), m.P[s][a], tolerance);
            detail::check_finite(source, at("reward", s, a), m.reward[s][a]);
            detail::check_finite(source, at("cost", s, a), m.cost[s][a]);
        }
    }
    detail::check_distribution(source, "mu0", m.mu0, tolerance);
}

/// Checks that pi is a [states][actions] table of probability rows.
inline void validate_policy(const Cmdp& m, const Policy& pi, double tolerance = 1e-6) {
    detail::check_size("policy", "pi", pi.size(), m.states, "states");
    for (std::size_t s = 0; s < m.states; ++s) {
        detail::check_size("policy", detail::at("pi", s), pi[s].size(), m.actions, "actions");
        detail::check_distribution("policy", detail::at("pi", s), pi[s], tolerance);
    }
}

}  // namespace ward::cmdp
