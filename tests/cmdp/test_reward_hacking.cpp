// The worked example of harmless reward hacking: its figures checked against their definitions (truncated
// discounted sums of the reward, proxy cost and true cost of the reported policies), and the claims the
// explanation makes: on the boundary, high reward, a true cost far above the threshold.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/lagrangian.hpp>
#include <ward/cmdp/reward_hacking.hpp>

#include "cmdp/reference.hpp"

using namespace ward::cmdp;
namespace ref = ward::cmdp::testing;

BOOST_AUTO_TEST_SUITE(cmdp_reward_hacking)

BOOST_AUTO_TEST_CASE(figures_match_their_definitions) {
    const RewardHackingExample ex = reward_hacking_example();
    BOOST_CHECK_NO_THROW(validate(ex.cmdp));
    const RewardHackingReport r = analyse_reward_hacking(ex);
    const Cmdp& m = ex.cmdp;
    const Policy& learned = r.learned.solution.policy;
    const Policy& honest = r.honest.solution.policy;
    BOOST_TEST(std::abs(r.learned.solution.value - ref::truncated_value(m, learned, m.reward)) < 1e-9);
    BOOST_TEST(std::abs(r.learned.proxy_cost - ref::truncated_value(m, learned, m.cost)) < 1e-9);
    BOOST_TEST(std::abs(r.learned.true_cost - ref::truncated_value(m, learned, ex.true_cost)) < 1e-9);
    BOOST_TEST(std::abs(r.honest.solution.value - ref::truncated_value(m, honest, m.reward)) < 1e-9);
    BOOST_TEST(std::abs(r.honest.proxy_cost - ref::truncated_value(m, honest, m.cost)) < 1e-9);
    BOOST_TEST(std::abs(r.honest.true_cost - ref::truncated_value(m, honest, ex.true_cost)) < 1e-9);

    // Both optima sit on their boundary.
    BOOST_TEST(std::abs(r.learned.proxy_cost - m.threshold) < 1e-9);
    BOOST_TEST(std::abs(r.honest.true_cost - m.threshold) < 1e-9);
    // Low proxy cost, high true cost: more than 5 times the threshold, most of the unconstrained policy's harm.
    BOOST_TEST(r.learned.true_cost > 5 * m.threshold);
    BOOST_TEST(r.learned.true_cost > 0.6 * r.unconstrained_true_cost);
    // High reward: more than the policy constrained by the true cost, which is the best a safe learner gets.
    BOOST_TEST(r.learned.solution.value > r.honest.solution.value + 0.5);
    // The mechanism: harmful requests go through the role-play frame the proxy barely scores.
    BOOST_TEST(learned[1][2] > 0.9);
    BOOST_TEST(honest[1][0] > 0.8);  // the honest learner mostly refuses
    // Each optimum is the best its constraint allows (enumerated vertices, an independent reference).
    BOOST_TEST(std::abs(r.learned.solution.value - ref::constrained_optimum(ref::vertices(m), m.threshold)) < 1e-9);
    Cmdp truth = m;
    truth.cost = ex.true_cost;
    BOOST_TEST(std::abs(r.honest.solution.value - ref::constrained_optimum(ref::vertices(truth), m.threshold)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(a_lagrangian_learner_finds_the_same_hack) {
    const RewardHackingExample ex = reward_hacking_example();
    const RewardHackingReport r = analyse_reward_hacking(ex);
    PidLagrangeMultiplier pid(suggested_pid(ex.cmdp));
    const PrimalDualResult pd = solve_primal_dual(ex.cmdp, pid);
    BOOST_TEST(std::abs(pd.solution.value - r.learned.solution.value) < 1e-3 * r.learned.solution.value);
    BOOST_TEST(std::abs(pd.solution.multiplier - r.learned.solution.multiplier) < 1e-3 * r.learned.solution.multiplier);
    BOOST_TEST(ref::truncated_value(ex.cmdp, pd.solution.policy, ex.true_cost) > 5 * ex.cmdp.threshold);
}

BOOST_AUTO_TEST_CASE(explanation_states_the_figures) {
    const RewardHackingExample ex = reward_hacking_example();
    const RewardHackingReport r = analyse_reward_hacking(ex);
    const std::string text = explain_reward_hacking(ex, r);
    char row[128];
    std::snprintf(row, sizeof row, "%8.4f %11.4f %10.4f", r.learned.solution.value, r.learned.proxy_cost, r.learned.true_cost);
    BOOST_TEST(text.find(row) != std::string::npos, text);
    BOOST_TEST(text.find("constrained optimum sits on the boundary") != std::string::npos);
    BOOST_TEST(text.find("r - lambda * c_proxy") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
