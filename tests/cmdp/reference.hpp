#pragma once
// Independent references for the cmdp tests: seeded random CMDPs, values by truncated discounted sums
// (no linear solve), and the constrained optimum by enumerating deterministic policies (no LP, no Lagrangian).

#include <ward/cmdp/problem.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace ward::cmdp::testing {

// From state 0, "wait" (action 0) earns 0 at cost 0 and stays; "act" (action 1) earns 2 at cost 1 and moves
// to state 1, which earns 1 at no cost and returns to state 0. gamma = 1/2, start in state 0.
//  - always wait:  J_r = 0, J_c = 0.
//  - always act:   rewards 2, 1, 2, 1, ... so J_r = (2 + 1/2) / (1 - 1/4) = 10/3 and J_c = 1 / (1 - 1/4) = 4/3.
// Achievable (J_c, J_r) run along the segment between them (slope 10/3 / 4/3 = 5/2), so with threshold 2/3 the
// optimum is the halfway mixture: J_r = 5/3, lambda = 5/2. Halving the occupancy measures: d(0, wait) = 1,
// d(0, act) = 2/3, d(1, .) = 1/3, so pi(act | 0) = (2/3) / (5/3) = 0.4.
inline Cmdp two_state(double threshold = 2.0 / 3) {
    Cmdp m;
    m.states = 2;
    m.actions = 2;
    m.gamma = 0.5;
    m.P = {{{1, 0}, {0, 1}}, {{1, 0}, {1, 0}}};
    m.reward = {{0, 2}, {1, 1}};
    m.cost = {{0, 1}, {0, 0}};
    m.mu0 = {1, 0};
    m.threshold = threshold;
    return m;
}

/// Uniform in [0, 1) from 53 bits, the same on every standard library (unlike uniform_real_distribution).
inline double uniform(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

/// J = sum_t gamma^t mu_t . payoff_pi with mu_{t+1} = mu_t P_pi, summed until gamma^t * max|payoff| < 1e-18.
inline double truncated_value(const Cmdp& m, const Policy& pi, const Table& payoff) {
    double top = 0;
    for (const auto& row : payoff)
        for (double v : row) top = std::max(top, std::abs(v));
    std::vector<double> mu = m.mu0, next(m.states);
    double total = 0, discount = 1;
    for (int t = 0; discount * top > 1e-18 && t < 100000; ++t, discount *= m.gamma) {
        std::fill(next.begin(), next.end(), 0.0);
        for (std::size_t s = 0; s < m.states; ++s)
            for (std::size_t a = 0; a < m.actions; ++a) {
                const double w = mu[s] * pi[s][a];
                total += discount * w * payoff[s][a];
                for (std::size_t u = 0; u < m.states; ++u) next[u] += w * m.P[s][a][u];
            }
        mu.swap(next);
    }
    return total;
}

inline Policy deterministic(const Cmdp& m, std::size_t index) {
    Policy pi(m.states, std::vector<double>(m.actions, 0.0));
    for (std::size_t s = 0; s < m.states; ++s, index /= m.actions) pi[s][index % m.actions] = 1.0;
    return pi;
}

/// (J_c, J_r) of every deterministic policy (A^S of them), by truncated sums.
inline std::vector<std::pair<double, double>> vertices(const Cmdp& m) {
    std::size_t n = 1;
    for (std::size_t s = 0; s < m.states; ++s) n *= m.actions;
    std::vector<std::pair<double, double>> v;
    for (std::size_t k = 0; k < n; ++k) {
        const Policy pi = deterministic(m, k);
        v.emplace_back(truncated_value(m, pi, m.cost), truncated_value(m, pi, m.reward));
    }
    return v;
}

/// The constrained optimum: achievable (J_c, J_r) points are the convex hull of the deterministic policies'
/// points, so the best within the threshold is a vertex or a point on a segment between two vertices.
inline double constrained_optimum(const std::vector<std::pair<double, double>>& v, double threshold) {
    double best = -INFINITY;
    for (const auto& [c, r] : v)
        if (c <= threshold) best = std::max(best, r);
    for (const auto& [cp, rp] : v)
        for (const auto& [cq, rq] : v)
            if (cp <= threshold && cq > threshold) {
                const double w = (cq - threshold) / (cq - cp);
                best = std::max(best, w * rp + (1 - w) * rq);
            }
    return best;
}

inline double min_cost(const std::vector<std::pair<double, double>>& v) {
    double c = INFINITY;
    for (const auto& p : v) c = std::min(c, p.first);
    return c;
}

/// A random CMDP: rows of P with about half their entries zero, r and c in [0, 1). With `binding`, redrawn
/// until there is a real trade-off, with a threshold in the middle 80% of the costs between the cheapest policy
/// and the reward-optimal ones (found by enumeration: keep A^S small); otherwise the threshold is 0.
inline Cmdp random_cmdp(std::mt19937_64& g, std::size_t states, std::size_t actions, double gamma, bool binding = true) {
    for (;;) {
        Cmdp m;
        m.states = states;
        m.actions = actions;
        m.gamma = gamma;
        m.P.assign(states, std::vector<std::vector<double>>(actions, std::vector<double>(states)));
        m.reward.assign(states, std::vector<double>(actions));
        m.cost = m.reward;
        m.mu0.assign(states, 0.0);
        for (auto& sa : m.P)
            for (auto& row : sa) {
                double total = 0;
                for (double& p : row) total += p = uniform(g) < 0.5 ? 0.0 : uniform(g);
                if (total == 0) total = row[0] = 1;
                for (double& p : row) p /= total;
            }
        for (auto& row : m.reward)
            for (double& r : row) r = uniform(g);
        for (auto& row : m.cost)
            for (double& c : row) c = uniform(g);
        double total = 0;
        for (double& p : m.mu0) total += p = uniform(g) + 0.01;
        for (double& p : m.mu0) p /= total;
        if (!binding) return m;
        const auto v = vertices(m);
        double best = -INFINITY, best_cost = INFINITY;  // the reward-optimal points; the cheapest of them
        for (const auto& [c, r] : v) best = std::max(best, r);
        for (const auto& [c, r] : v)
            if (r >= best - 1e-12) best_cost = std::min(best_cost, c);
        const double cheapest = min_cost(v);
        if (best_cost - cheapest < 1e-3) continue;  // no trade-off: the constraint would never bind
        m.threshold = cheapest + (0.1 + 0.8 * uniform(g)) * (best_cost - cheapest);
        return m;
    }
}

}  // namespace ward::cmdp::testing
