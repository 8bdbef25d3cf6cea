// Policy evaluation by one linear solve against truncated discounted sums and a Monte-Carlo rollout;
// occupancy measures against their defining sums; mixtures of occupancies against the mixture of values.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/evaluate.hpp>

#include "cmdp/reference.hpp"

#include <cmath>
#include <random>

using namespace ward::cmdp;
namespace ref = ward::cmdp::testing;

namespace {

Policy random_policy(std::mt19937_64& g, const Cmdp& m) {
    Policy pi(m.states, std::vector<double>(m.actions));
    for (auto& row : pi) {
        double total = 0;
        for (double& p : row) total += p = ref::uniform(g);
        for (double& p : row) p /= total;
    }
    return pi;
}

std::size_t draw(std::mt19937_64& g, const std::vector<double>& p) {
    double u = ref::uniform(g);
    for (std::size_t i = 0; i + 1 < p.size(); ++i) {
        if (u < p[i]) return i;
        u -= p[i];
    }
    return p.size() - 1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cmdp_evaluate)

BOOST_AUTO_TEST_CASE(linear_solve_matches_truncated_sums) {
    std::mt19937_64 g(11);
    double worst = 0;
    for (int trial = 0; trial < 20; ++trial) {
        const Cmdp m = ref::random_cmdp(g, 2 + trial % 5, 2 + trial % 3, trial % 2 ? 0.95 : 0.6, false);
        const Policy pi = random_policy(g, m);
        const Evaluation e = evaluate(m, pi);
        const double r = ref::truncated_value(m, pi, m.reward), c = ref::truncated_value(m, pi, m.cost);
        worst = std::max({worst, std::abs(e.reward - r) / r, std::abs(e.cost - c) / c});
        double from_states = 0;  // J = mu0 . V
        for (std::size_t s = 0; s < m.states; ++s) from_states += m.mu0[s] * e.reward_values[s];
        BOOST_TEST(std::abs(from_states - e.reward) < 1e-12 * e.reward);
    }
    BOOST_TEST(worst < 1e-12, "worst relative error " << worst);
}

BOOST_AUTO_TEST_CASE(values_agree_with_a_monte_carlo_rollout) {
    std::mt19937_64 g(5);
    const Cmdp m = ref::random_cmdp(g, 4, 3, 0.8, false);
    const Policy pi = random_policy(g, m);
    const Evaluation e = evaluate(m, pi);
    // Episodes cut at 200 steps (0.8^200 ~ 4e-20: nothing left to miss); returns are bounded by 1 / (1 - 0.8) = 5.
    const int episodes = 20000;
    double sum = 0, sum2 = 0, cost = 0;
    for (int n = 0; n < episodes; ++n) {
        std::size_t s = draw(g, m.mu0);
        double ret = 0, discount = 1;
        for (int t = 0; t < 200; ++t, discount *= m.gamma) {
            const std::size_t a = draw(g, pi[s]);
            ret += discount * m.reward[s][a];
            cost += discount * m.cost[s][a];
            s = draw(g, m.P[s][a]);
        }
        sum += ret;
        sum2 += ret * ret;
    }
    const double mean = sum / episodes, sd = std::sqrt(sum2 / episodes - mean * mean), se = sd / std::sqrt(double(episodes));
    BOOST_TEST(std::abs(mean - e.reward) < 5 * se, "Monte Carlo " << mean << " +- " << se << ", solve " << e.reward);
    BOOST_TEST(se < 0.02);  // the check above has teeth
    BOOST_TEST(std::abs(cost / episodes - e.cost) < 0.05 * e.cost);
}

BOOST_AUTO_TEST_CASE(occupancy_measures_sum_to_the_values) {
    std::mt19937_64 g(3);
    const Cmdp m = ref::random_cmdp(g, 5, 3, 0.9, false);
    const Policy pi = random_policy(g, m);
    const Table d = occupancy(m, pi);
    double total = 0, r = 0, c = 0;
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) {
            BOOST_TEST(d[s][a] >= 0);
            total += d[s][a];
            r += d[s][a] * m.reward[s][a];
            c += d[s][a] * m.cost[s][a];
        }
    BOOST_TEST(std::abs(total - 1 / (1 - m.gamma)) < 1e-12);  // unnormalised: sum_t gamma^t
    BOOST_TEST(std::abs(r - ref::truncated_value(m, pi, m.reward)) < 1e-11);
    BOOST_TEST(std::abs(c - ref::truncated_value(m, pi, m.cost)) < 1e-11);
    // The flow constraint of the dual LP: sum_a d(s',a) - gamma sum_{s,a} P(s'|s,a) d(s,a) = mu0(s').
    for (std::size_t t = 0; t < m.states; ++t) {
        double flow = 0;
        for (std::size_t a = 0; a < m.actions; ++a) flow += d[t][a];
        for (std::size_t s = 0; s < m.states; ++s)
            for (std::size_t a = 0; a < m.actions; ++a) flow -= m.gamma * m.P[s][a][t] * d[s][a];
        BOOST_TEST(std::abs(flow - m.mu0[t]) < 1e-12);
    }
    // The policy comes back from its occupancy measure.
    const Policy back = policy_from_occupancy(m, d);
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) BOOST_TEST(std::abs(back[s][a] - pi[s][a]) < 1e-12);
}

BOOST_AUTO_TEST_CASE(mixing_occupancies_mixes_values) {
    std::mt19937_64 g(8);
    const Cmdp m = ref::random_cmdp(g, 4, 2, 0.9, false);
    const Policy p = random_policy(g, m), q = ref::deterministic(m, 5);
    const Evaluation ep = evaluate(m, p), eq = evaluate(m, q);
    for (double w : {0.0, 0.25, 0.7, 1.0}) {
        const Policy x = mix(m, p, q, w);
        BOOST_TEST(std::abs(ref::truncated_value(m, x, m.reward) - (w * ep.reward + (1 - w) * eq.reward)) < 1e-11);
        BOOST_TEST(std::abs(ref::truncated_value(m, x, m.cost) - (w * ep.cost + (1 - w) * eq.cost)) < 1e-11);
    }
    // Mixing the policies themselves state by state is not the same thing: values are not linear in pi.
    Policy naive = p;
    for (std::size_t s = 0; s < m.states; ++s)
        for (std::size_t a = 0; a < m.actions; ++a) naive[s][a] = 0.5 * p[s][a] + 0.5 * q[s][a];
    BOOST_TEST(std::abs(evaluate(m, naive).reward - 0.5 * (ep.reward + eq.reward)) > 1e-6);
    BOOST_CHECK_THROW(mix(m, p, q, 1.5), ward::value_error);
}

BOOST_AUTO_TEST_CASE(unvisited_states_get_the_uniform_policy) {
    Cmdp m;
    m.states = 2;
    m.actions = 2;
    m.gamma = 0.5;
    m.P = {{{1, 0}, {1, 0}}, {{0, 1}, {0, 1}}};  // state 1 is never reached from state 0
    m.reward = {{1, 0}, {0, 0}};
    m.cost = {{0, 0}, {0, 0}};
    m.mu0 = {1, 0};
    const Table d = occupancy(m, {{1, 0}, {0, 1}});
    BOOST_TEST(d[1][0] == 0.0);
    BOOST_TEST(d[1][1] == 0.0);
    const Policy pi = policy_from_occupancy(m, d);
    BOOST_TEST(pi[1][0] == 0.5);
    BOOST_TEST(pi[0][0] == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
