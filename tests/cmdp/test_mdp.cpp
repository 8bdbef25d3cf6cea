// Policy iteration against enumeration of every deterministic policy: its policy is optimal from every
// state at once; the cheapest policy against the enumerated minimum; Q-values against their definition.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/mdp.hpp>

#include "cmdp/reference.hpp"

#include <random>

using namespace ward::cmdp;
namespace ref = ward::cmdp::testing;

BOOST_AUTO_TEST_SUITE(cmdp_mdp)

BOOST_AUTO_TEST_CASE(policy_iteration_is_optimal_from_every_state) {
    std::mt19937_64 g(21);
    for (int trial = 0; trial < 12; ++trial) {
        Cmdp m = ref::random_cmdp(g, 2 + trial % 3, 2 + trial % 2, trial % 2 ? 0.9 : 0.5, false);
        const double lambda = 0.7 * trial;  // the payoffs the Lagrangian solvers use
        const Table payoff = lagrangian_payoff(m, lambda);
        const Greedy best = solve_mdp(m, payoff);
        std::size_t n = 1;
        for (std::size_t s = 0; s < m.states; ++s) n *= m.actions;
        for (std::size_t start = 0; start < m.states; ++start) {
            m.mu0.assign(m.states, 0.0);
            m.mu0[start] = 1.0;
            double top = -1e300;
            for (std::size_t k = 0; k < n; ++k) top = std::max(top, ref::truncated_value(m, ref::deterministic(m, k), payoff));
            const double got = ref::truncated_value(m, best.policy, payoff);
            BOOST_TEST(std::abs(got - top) <= 1e-12 * (1 + std::abs(top)), "state " << start << ": " << got << " vs " << top);
        }
        for (std::size_t s = 0; s < m.states; ++s) BOOST_TEST(best.policy[s][best.action[s]] == 1.0);
    }
}

BOOST_AUTO_TEST_CASE(cheapest_policy_has_the_enumerated_minimum_cost) {
    std::mt19937_64 g(4);
    for (int trial = 0; trial < 8; ++trial) {
        const Cmdp m = ref::random_cmdp(g, 3, 3, 0.8, false);
        const double want = ref::min_cost(ref::vertices(m));
        BOOST_TEST(std::abs(minimum_cost_policy(m).cost - want) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(q_values_follow_their_definition) {
    std::mt19937_64 g(9);
    const Cmdp m = ref::random_cmdp(g, 3, 2, 0.7, false);
    const Policy pi = {{0.2, 0.8}, {1, 0}, {0.5, 0.5}};
    const Table q = q_values(m, pi, m.reward);
    // Q(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) V(s'), V(s') from a truncated sum started in s'.
    Cmdp from = m;
    std::vector<double> V(m.states);
    for (std::size_t s = 0; s < m.states; ++s) {
        from.mu0.assign(m.states, 0.0);
        from.mu0[s] = 1.0;
        V[s] = ref::truncated_value(from, pi, m.reward);
    }
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) {
            double want = m.reward[s][a];
            for (std::size_t t = 0; t < m.states; ++t) want += m.gamma * m.P[s][a][t] * V[t];
            BOOST_TEST(std::abs(q[s][a] - want) < 1e-12);
        }
}

BOOST_AUTO_TEST_SUITE_END()
