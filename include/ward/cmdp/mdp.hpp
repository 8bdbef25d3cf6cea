#pragma once
// The unconstrained MDP on any payoff table (r - lambda c for the Lagrangian, -c for the cheapest policy):
// Q-values of a policy, and the optimal deterministic policy by Howard's policy iteration, which ends
// after finitely many exact evaluations instead of approaching the fixed point as value iteration does.

#include <ward/cmdp/evaluate.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ward::cmdp {

/// Q(s, a) = payoff(s, a) + gamma sum_s' P(s'|s,a) V(s') with V the values of pi under `payoff`.
inline Table q_values(const Cmdp& m, const Policy& pi, const Table& payoff) {
    const Eigen::VectorXd V = detail::values(m, pi, detail::expected(m, pi, payoff));
    Table q(m.states, std::vector<double>(m.actions));
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) {
            double next = 0;
            for (std::size_t t = 0; t < m.states; ++t) next += m.P[s][a][t] * V(static_cast<Eigen::Index>(t));
            q[s][a] = payoff[s][a] + m.gamma * next;
        }
    return q;
}

/// The deterministic policy choosing action[s] in state s.
inline Policy deterministic_policy(const Cmdp& m, const std::vector<std::size_t>& action) {
    Policy pi(m.states, std::vector<double>(m.actions, 0.0));
    for (std::size_t s = 0; s < m.states; ++s) pi[s][action[s]] = 1.0;
    return pi;
}

/// An optimal deterministic policy for the payoff (maximised from every state at once).
struct Greedy {
    std::vector<std::size_t> action;  // action[s]
    Policy policy;                    // the same as a table
    int iterations = 0;               // policy-improvement rounds
};

/// Policy iteration on `payoff`. An action replaces the current one only when its Q-value is larger by more
/// than round-off, so the result is deterministic and ties go to the incumbent, then to the lowest index.
inline Greedy solve_mdp(const Cmdp& m, const Table& payoff) {
    std::vector<std::size_t> action(m.states, 0);
    for (std::size_t s = 0; s < m.states; ++s)
        action[s] = static_cast<std::size_t>(std::max_element(payoff[s].begin(), payoff[s].end()) - payoff[s].begin());
    // Finitely many deterministic policies, each strictly better than the last: the bound only guards
    // against a cycle that round-off could make.
    const int max_rounds = 100 + 10 * static_cast<int>(m.states * m.actions);
    int round = 0;
    for (; round < max_rounds; ++round) {
        const Table q = q_values(m, deterministic_policy(m, action), payoff);
        double scale = 1;
        for (const auto& row : q)
            for (double v : row) scale = std::max(scale, std::abs(v));
        const double tie = 1e-12 * scale;
        bool changed = false;
        for (std::size_t s = 0; s < m.states; ++s) {
            std::size_t best = action[s];
            for (std::size_t a = 0; a < m.actions; ++a)
                if (q[s][a] > q[s][best] + tie) best = a;
            changed |= best != action[s];
            action[s] = best;
        }
        if (!changed) break;
    }
    Policy pi = deterministic_policy(m, action);
    return {std::move(action), std::move(pi), round + 1};
}

/// payoff(s, a) = r(s, a) - lambda c(s, a).
inline Table lagrangian_payoff(const Cmdp& m, double lambda) {
    Table p = m.reward;
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) p[s][a] -= lambda * m.cost[s][a];
    return p;
}

/// The policy of least expected discounted cost from mu0 (it is least from every state), and that cost.
inline Solution minimum_cost_policy(const Cmdp& m) {
    Table neg = m.cost;
    for (auto& row : neg)
        for (double& v : row) v = -v;
    return make_solution(m, solve_mdp(m, neg).policy, 0.0);
}

}  // namespace ward::cmdp
