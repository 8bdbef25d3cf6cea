#pragma once
// What a stationary policy is worth: its value functions by one linear solve, V = (I - gamma P_pi)^-1 r_pi,
// and its discounted occupancy measure d(s, a) = sum_t gamma^t Pr(s_t = s, a_t = a), the variable of the
// dual LP. Occupancy measures mix linearly where policies do not: the mixture of two policies' values is
// reached by the stationary policy of their mixed occupancy, d(s, a) / sum_a d(s, a).

#include <ward/cmdp/problem.hpp>

#include <Eigen/Dense>

#include <algorithm>
#include <vector>

namespace ward::cmdp {

/// Expected discounted reward and cost from mu0 (unnormalised sums), and per-state values.
struct Evaluation {
    double reward = 0, cost = 0;
    std::vector<double> reward_values, cost_values;  // V_r(s), V_c(s)
};

/// A policy with what it achieves: the answer of every constrained solver.
struct Solution {
    Policy policy;
    double value = 0;       // J_r(policy): expected discounted reward from mu0, not normalised by (1 - gamma)
    double cost = 0;        // J_c(policy), same units as the threshold
    double multiplier = 0;  // the Lagrange multiplier of the cost constraint (0 when it is slack)
};

namespace detail {

/// P_pi[s][s'] = sum_a pi(a|s) P(s'|s,a).
inline Eigen::MatrixXd policy_transitions(const Cmdp& m, const Policy& pi) {
    const auto S = static_cast<Eigen::Index>(m.states);
    Eigen::MatrixXd Ppi = Eigen::MatrixXd::Zero(S, S);
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) {
            if (pi[s][a] == 0) continue;
            for (std::size_t t = 0; t < m.states; ++t)
                Ppi(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(t)) += pi[s][a] * m.P[s][a][t];
        }
    return Ppi;
}

inline Eigen::VectorXd expected(const Cmdp& m, const Policy& pi, const Table& payoff) {
    Eigen::VectorXd v = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(m.states));
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) v(static_cast<Eigen::Index>(s)) += pi[s][a] * payoff[s][a];
    return v;
}

inline Eigen::VectorXd to_eigen(const std::vector<double>& x) {
    return Eigen::Map<const Eigen::VectorXd>(x.data(), static_cast<Eigen::Index>(x.size()));
}

inline std::vector<double> to_vector(const Eigen::VectorXd& x) { return {x.data(), x.data() + x.size()}; }

/// V = (I - gamma P_pi)^-1 payoff_pi for one or more payoff columns.
inline Eigen::MatrixXd values(const Cmdp& m, const Policy& pi, const Eigen::MatrixXd& payoff_pi) {
    const auto S = static_cast<Eigen::Index>(m.states);
    const Eigen::MatrixXd A = Eigen::MatrixXd::Identity(S, S) - m.gamma * policy_transitions(m, pi);
    return A.partialPivLu().solve(payoff_pi);  // gamma < 1 and P_pi stochastic: A is invertible
}

}  // namespace detail

/// J_r and J_c of pi from mu0, by one linear solve (both payoffs at once).
inline Evaluation evaluate(const Cmdp& m, const Policy& pi) {
    validate_policy(m, pi);
    Eigen::MatrixXd payoff(static_cast<Eigen::Index>(m.states), 2);
    payoff.col(0) = detail::expected(m, pi, m.reward);
    payoff.col(1) = detail::expected(m, pi, m.cost);
    const Eigen::MatrixXd V = detail::values(m, pi, payoff);
    const Eigen::VectorXd mu0 = detail::to_eigen(m.mu0);
    return {mu0.dot(V.col(0)), mu0.dot(V.col(1)), detail::to_vector(V.col(0)), detail::to_vector(V.col(1))};
}

/// The discounted occupancy measure of pi: d(s, a) = pi(a|s) [(I - gamma P_pi^T)^-1 mu0](s). Its entries
/// sum to 1 / (1 - gamma), and J_r = sum d r, J_c = sum d c.
inline Table occupancy(const Cmdp& m, const Policy& pi) {
    validate_policy(m, pi);
    const auto S = static_cast<Eigen::Index>(m.states);
    const Eigen::MatrixXd A = Eigen::MatrixXd::Identity(S, S) - m.gamma * detail::policy_transitions(m, pi).transpose();
    const Eigen::VectorXd ds = A.partialPivLu().solve(detail::to_eigen(m.mu0));
    Table d(m.states, std::vector<double>(m.actions));
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) d[s][a] = pi[s][a] * ds(static_cast<Eigen::Index>(s));
    return d;
}

/// The stationary policy whose occupancy measure is d: pi(a|s) = d(s, a) / sum_a d(s, a). States that d
/// never visits get the uniform policy (their actions change no value from mu0). Round-off negatives count as 0.
inline Policy policy_from_occupancy(const Cmdp& m, const Table& d) {
    Policy pi(m.states, std::vector<double>(m.actions, 1.0 / static_cast<double>(m.actions)));
    for (std::size_t s = 0; s < m.states; ++s) {
        double total = 0;
        for (std::size_t a = 0; a < m.actions; ++a) total += std::max(0.0, d[s][a]);
        if (!(total > 1e-300)) continue;
        for (std::size_t a = 0; a < m.actions; ++a) pi[s][a] = std::max(0.0, d[s][a]) / total;
    }
    return pi;
}

/// The stationary policy worth w * (value of p) + (1 - w) * (value of q), for w in [0, 1].
inline Policy mix(const Cmdp& m, const Policy& p, const Policy& q, double w) {
    if (!(w >= 0 && w <= 1)) throw value_error("cmdp::mix: weight " + detail::number(w) + " is outside [0, 1]");
    if (w == 1) return p;
    if (w == 0) return q;
    Table d = occupancy(m, p);
    const Table dq = occupancy(m, q);
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) d[s][a] = w * d[s][a] + (1 - w) * dq[s][a];
    return policy_from_occupancy(m, d);
}

/// A Solution for pi: its exact values, and the multiplier the solver found.
inline Solution make_solution(const Cmdp& m, Policy pi, double multiplier) {
    const Evaluation e = evaluate(m, pi);
    return {std::move(pi), e.reward, e.cost, multiplier};
}

}  // namespace ward::cmdp
