// The Lagrangian solvers against enumeration of deterministic policies: bisection on lambda, and primal-dual
// iteration with the plain, log and PID multipliers (value within 1e-3, multiplier against the finite-difference
// slope of the optimal value); PID damping the oscillation of a lagging learner; the edge cases.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/lagrangian.hpp>

#include "cmdp/reference.hpp"
#include "error_message.hpp"

#include <random>

using namespace ward::cmdp;
namespace ref = ward::cmdp::testing;
using ward::testing::message_of;

namespace {

using ref::two_state;

double relative(double got, double want) { return std::abs(got - want) / std::max(std::abs(want), 1e-300); }

/// max - min of lambda over the second half of a trace: the amplitude of its steady oscillation.
double lambda_swing(const PrimalDualResult& r) {
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t k = r.trace.size() / 2; k < r.trace.size(); ++k) {
        lo = std::min(lo, r.trace[k].multiplier);
        hi = std::max(hi, r.trace[k].multiplier);
    }
    return hi - lo;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cmdp_lagrangian)

BOOST_AUTO_TEST_CASE(two_state_problem_worked_by_hand) {
    const Cmdp m = two_state(2.0 / 3);
    const Solution b = solve_bisection(m);
    BOOST_TEST(std::abs(b.value - 5.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(b.cost - 2.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(b.multiplier - 2.5) < 1e-9);
    BOOST_TEST(std::abs(b.policy[0][1] - 0.4) < 1e-12);
    LagrangeMultiplier plain(suggested_ascent(m));
    const PrimalDualResult pd = solve_primal_dual(m, plain);
    BOOST_TEST(std::abs(pd.solution.value - 5.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(pd.solution.multiplier - 2.5) < 1e-12);  // the slope between the two policies visited
    BOOST_TEST(pd.policies_visited == 2u);                         // always wait, always act: the iterates chatter
    BOOST_TEST(pd.trace.size() == 10000u);
}

BOOST_AUTO_TEST_CASE(random_cmdps_agree_with_enumeration) {
    std::mt19937_64 g(31);
    double worst_bisection = 0, worst[3] = {0, 0, 0}, worst_lambda = 0;
    int lambdas_compared = 0;
    for (int trial = 0; trial < 24; ++trial) {
        const Cmdp m = ref::random_cmdp(g, 2 + trial % 3, 2 + trial % 2, trial % 2 ? 0.9 : 0.7);
        const auto v = ref::vertices(m);
        const double want = ref::constrained_optimum(v, m.threshold);
        const double h = 1e-6;
        const double left = (want - ref::constrained_optimum(v, m.threshold - h)) / h;
        const double right = (ref::constrained_optimum(v, m.threshold + h) - want) / h;
        const bool smooth = std::abs(left - right) <= 1e-6 * std::abs(left);

        const Solution b = solve_bisection(m);
        worst_bisection = std::max(worst_bisection, relative(b.value, want));
        LagrangeMultiplier plain(suggested_ascent(m));
        LogLagrangeMultiplier log(suggested_log_ascent(m));
        PidLagrangeMultiplier pid(suggested_pid(m));
        const PrimalDualResult results[3] = {solve_primal_dual(m, plain), solve_primal_dual(m, log), solve_primal_dual(m, pid)};
        for (int k = 0; k < 3; ++k) {
            const Solution& s = results[k].solution;
            worst[k] = std::max(worst[k], relative(s.value, want));
            BOOST_TEST(s.cost <= m.threshold + 1e-9);
            BOOST_TEST(std::abs(s.value - ref::truncated_value(m, s.policy, m.reward)) < 1e-9);  // reported = achieved
            if (smooth) worst_lambda = std::max(worst_lambda, relative(s.multiplier, left));
        }
        if (smooth) {
            worst_lambda = std::max(worst_lambda, relative(b.multiplier, left));
            ++lambdas_compared;
        }
    }
    BOOST_TEST(worst_bisection < 1e-9, "bisection: worst relative error " << worst_bisection);
    BOOST_TEST(worst[0] < 1e-3, "plain ascent: worst relative error " << worst[0]);
    BOOST_TEST(worst[1] < 1e-3, "log ascent: worst relative error " << worst[1]);
    BOOST_TEST(worst[2] < 1e-3, "PID: worst relative error " << worst[2]);
    BOOST_TEST(worst_lambda < 1e-3, "multipliers against the finite-difference slope: worst " << worst_lambda);
    BOOST_TEST(lambdas_compared >= 20);
    BOOST_TEST_MESSAGE("worst relative errors: bisection " << worst_bisection << ", plain " << worst[0] << ", log " << worst[1]
                                                           << ", PID " << worst[2] << ", lambda " << worst_lambda);
}

BOOST_AUTO_TEST_CASE(pid_damps_the_oscillation_of_a_lagging_learner) {
    // A natural-policy-gradient learner moves its policy a little per step, so plain ascent keeps raising
    // lambda while the cost is still high, overshoots, and cycles. PID's proportional and derivative terms
    // react to the violation and to its rise before the integral has wound up.
    const Cmdp m = two_state(2.0 / 3);
    const PrimalDualOptions o{.iterations = 2000, .learner = Learner::natural_gradient, .policy_lr = 0.2};
    LagrangeMultiplier plain({.threshold = m.threshold, .lr = 0.5});
    PidLagrangeMultiplier pid({.threshold = m.threshold, .kp = 2.0, .ki = 0.5, .kd = 2.0});  // same integral gain
    const PrimalDualResult a = solve_primal_dual(m, plain, o), p = solve_primal_dual(m, pid, o);
    BOOST_TEST(lambda_swing(a) > 2.0, "plain ascent's lambda swings by " << lambda_swing(a));  // it does oscillate
    BOOST_TEST(lambda_swing(p) < 0.05 * lambda_swing(a), "PID " << lambda_swing(p) << " vs plain " << lambda_swing(a));
    // Under PID the learner itself settles on the optimal stochastic policy, with lambda at lambda* = 5/2.
    const PrimalDualStep& last = p.trace.back();
    BOOST_TEST(std::abs(last.multiplier - 2.5) < 1e-3);
    BOOST_TEST(std::abs(last.cost - 2.0 / 3) < 1e-3);
    BOOST_TEST(std::abs(last.value - 5.0 / 3) < 1e-3);
    // The plain learner's iterates are far from it, yet the best mixture of them is not.
    double worst_cost = 0;
    for (std::size_t k = a.trace.size() / 2; k < a.trace.size(); ++k) worst_cost = std::max(worst_cost, a.trace[k].cost);
    BOOST_TEST(worst_cost > 1.0);
    BOOST_TEST(std::abs(a.solution.value - 5.0 / 3) < 1e-3 * 5.0 / 3);
}

BOOST_AUTO_TEST_CASE(slack_constraint_gives_lambda_zero) {
    const Cmdp m = two_state(2.0);
    const Solution b = solve_bisection(m);
    BOOST_TEST(std::abs(b.value - 10.0 / 3) < 1e-12);
    BOOST_TEST(b.multiplier == 0.0);
    PidLagrangeMultiplier pid({.threshold = 2.0});
    const PrimalDualResult r = solve_primal_dual(m, pid, {.iterations = 50});
    BOOST_TEST(r.solution.multiplier == 0.0);
    BOOST_TEST(r.mean_multiplier == 0.0);
}

BOOST_AUTO_TEST_CASE(zero_threshold_gives_no_nan) {
    // Threshold 0, reachable only by the free action: the best response must be pushed all the way to the
    // cheapest policy, and the final mixture has lo.cost > 0 = hi.cost: no division by zero.
    const Cmdp m = two_state(0.0);
    const Solution b = solve_bisection(m);
    BOOST_TEST(b.value == 0.0);
    BOOST_TEST(b.cost == 0.0);
    BOOST_TEST(std::isfinite(b.multiplier));
    BOOST_TEST(b.multiplier > 0.0);
    LagrangeMultiplier plain(suggested_ascent(m));
    const PrimalDualResult r = solve_primal_dual(m, plain);
    BOOST_TEST(r.solution.value == 0.0);
    BOOST_TEST(std::isfinite(r.solution.multiplier));
    BOOST_TEST(std::isfinite(r.mean_multiplier));
    // All costs 0 and threshold 0: nothing to trade, lambda stays 0.
    Cmdp free = m;
    free.cost = {{0, 0}, {0, 0}};
    const AscentOptions o = suggested_ascent(free);
    BOOST_TEST(std::isfinite(o.lr));
    LogLagrangeMultiplier log(suggested_log_ascent(free));
    const PrimalDualResult lr = solve_primal_dual(free, log, {.iterations = 20});
    BOOST_TEST(std::abs(lr.solution.value - 10.0 / 3) < 1e-12);
    BOOST_TEST(lr.solution.multiplier == 0.0);
}

BOOST_AUTO_TEST_CASE(infeasible_and_misused) {
    Cmdp m = two_state(0.0);
    m.cost = {{0.5, 1}, {0.5, 0.5}};  // every step costs at least 0.5: minimum 0.5 / (1 - 0.5) = 1
    m.threshold = 0.5;
    BOOST_TEST(message_of<infeasible_error>([&] { solve_bisection(m); }).find("minimum achievable expected discounted cost 1") !=
               std::string::npos);
    LagrangeMultiplier plain({.threshold = 0.5});
    try {
        solve_primal_dual(m, plain);
        BOOST_ERROR("an infeasible threshold was solved");
    } catch (const infeasible_error& e) {
        BOOST_TEST(std::abs(e.minimum_cost() - 1.0) < 1e-12);
    }
    const Cmdp ok = two_state(2.0 / 3);
    LagrangeMultiplier other({.threshold = 0.5});
    BOOST_TEST(message_of<ward::value_error>([&] { solve_primal_dual(ok, other); }).find("is not the CMDP's") != std::string::npos);
    LagrangeMultiplier slow({.threshold = ok.threshold, .lr = 1e-6});
    BOOST_TEST(message_of<ward::value_error>([&] { solve_primal_dual(ok, slow, {.iterations = 3}); })
                   .find("none of the 1 policies visited meets the threshold") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
