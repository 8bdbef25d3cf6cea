// The occupancy-measure LP against a problem worked by hand, against enumeration of deterministic policies
// on random CMDPs, its multiplier against finite differences of the optimal value in the threshold, and the
// infeasible, slack and zero-threshold edges.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/lp.hpp>

#include "cmdp/reference.hpp"
#include "error_message.hpp"

#include <random>

using namespace ward::cmdp;
namespace ref = ward::cmdp::testing;

namespace {

using ref::two_state;

}  // namespace

BOOST_AUTO_TEST_SUITE(cmdp_lp)

BOOST_AUTO_TEST_CASE(two_state_problem_worked_by_hand) {
    const Solution s = solve_lp(two_state(2.0 / 3));
    BOOST_TEST(std::abs(s.value - 5.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(s.cost - 2.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(s.multiplier - 2.5) < 1e-12);
    BOOST_TEST(std::abs(s.policy[0][1] - 0.4) < 1e-12);
    BOOST_TEST(std::abs(s.policy[0][0] - 0.6) < 1e-12);
}

BOOST_AUTO_TEST_CASE(a_slack_constraint_has_multiplier_zero) {
    const Solution s = solve_lp(two_state(2.0));  // always act costs 4/3 < 2
    BOOST_TEST(std::abs(s.value - 10.0 / 3) < 1e-12);
    BOOST_TEST(s.multiplier == 0.0);
    // Exactly at the unconstrained optimum's cost the constraint is active but costs no reward: lambda = 0 too,
    // although GLPK's dual may be any value in [0, 5/2].
    const Solution edge = solve_lp(two_state(4.0 / 3));
    BOOST_TEST(std::abs(edge.value - 10.0 / 3) < 1e-12);
    BOOST_TEST(edge.multiplier == 0.0);
}

BOOST_AUTO_TEST_CASE(random_cmdps_match_enumerated_vertices) {
    std::mt19937_64 g(2024);
    double worst = 0;
    int randomised_states_max = 0;
    for (int trial = 0; trial < 40; ++trial) {
        const Cmdp m = ref::random_cmdp(g, 2 + trial % 4, 2 + trial % 3, trial % 2 ? 0.9 : 0.7);
        const double want = ref::constrained_optimum(ref::vertices(m), m.threshold);
        const Solution s = solve_lp(m);
        worst = std::max(worst, std::abs(s.value - want) / std::abs(want));
        BOOST_TEST(s.cost <= m.threshold + 1e-9);
        BOOST_TEST(std::abs(s.value - ref::truncated_value(m, s.policy, m.reward)) < 1e-9);
        // A basic optimum with the cost row active randomises in at most one state.
        int randomised = 0;
        for (const auto& row : s.policy) randomised += std::count_if(row.begin(), row.end(), [](double p) { return p > 1e-9; }) > 1;
        randomised_states_max = std::max(randomised_states_max, randomised);
    }
    BOOST_TEST(worst < 1e-9, "worst relative error " << worst);
    BOOST_TEST(randomised_states_max == 1);
}

BOOST_AUTO_TEST_CASE(multiplier_is_the_slope_of_the_optimal_value) {
    std::mt19937_64 g(77);
    int compared = 0;
    for (int trial = 0; trial < 30; ++trial) {
        const Cmdp m = ref::random_cmdp(g, 2 + trial % 3, 2 + trial % 2, 0.8);
        const auto v = ref::vertices(m);
        const double h = 1e-6;
        const double left = (ref::constrained_optimum(v, m.threshold) - ref::constrained_optimum(v, m.threshold - h)) / h;
        const double right = (ref::constrained_optimum(v, m.threshold + h) - ref::constrained_optimum(v, m.threshold)) / h;
        const double lambda = solve_lp(m).multiplier;
        // The optimal value is concave and piecewise linear in the threshold: any optimal multiplier lies
        // between the one-sided slopes, and equals the slope away from kinks.
        BOOST_TEST(lambda <= left * (1 + 1e-6) + 1e-9);
        BOOST_TEST(lambda >= right * (1 - 1e-6) - 1e-9);
        if (std::abs(left - right) > 1e-6 * std::abs(left)) continue;
        ++compared;
        BOOST_TEST(std::abs(lambda - left) <= 1e-6 * std::abs(left), "lambda " << lambda << " slope " << left);
    }
    BOOST_TEST(compared >= 25);
}

BOOST_AUTO_TEST_CASE(infeasible_threshold_reports_the_minimum_cost) {
    std::mt19937_64 g(1);
    const Cmdp m0 = ref::random_cmdp(g, 3, 2, 0.9);
    const double cheapest = ref::min_cost(ref::vertices(m0));
    BOOST_TEST(std::abs(minimum_cost(m0) - cheapest) < 1e-9);
    Cmdp m = m0;
    m.threshold = 0.9 * cheapest;
    try {
        solve_lp(m);
        BOOST_ERROR("an infeasible threshold was solved");
    } catch (const infeasible_error& e) {
        BOOST_TEST(std::abs(e.minimum_cost() - cheapest) < 1e-9);
        BOOST_TEST(std::string(e.what()).find("is below the minimum achievable expected discounted cost") != std::string::npos);
    }
    m.threshold = cheapest;  // exactly the minimum: feasible, the cheapest policy's reward
    BOOST_CHECK_NO_THROW(solve_lp(m));
}

BOOST_AUTO_TEST_CASE(zero_threshold_with_free_actions) {
    // Threshold 0 with some zero-cost actions: only those may be used, the multiplier stays finite.
    Cmdp m = two_state(0.0);
    const Solution s = solve_lp(m);
    BOOST_TEST(s.value == 0.0);  // only "wait" is free, and it earns nothing
    BOOST_TEST(std::isfinite(s.multiplier));
    BOOST_TEST(s.policy[0][0] == 1.0);
    // All costs 0: any threshold >= 0 is slack.
    m.cost = {{0, 0}, {0, 0}};
    const Solution free = solve_lp(m);
    BOOST_TEST(std::abs(free.value - 10.0 / 3) < 1e-12);
    BOOST_TEST(free.multiplier == 0.0);
    m.threshold = -1e-3;
    BOOST_TEST(ward::testing::message_of<infeasible_error>([&] { solve_lp(m); }).find("minimum achievable expected discounted cost 0") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_cmdps_are_rejected_before_glpk) {
    Cmdp m = two_state(0.5);
    m.gamma = 1.0;  // the flow LP would be unbounded or singular
    BOOST_CHECK_THROW(solve_lp(m), ward::value_error);
}

BOOST_AUTO_TEST_SUITE_END()
