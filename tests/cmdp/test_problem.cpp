// Validation of CMDPs and policies: each malformed input gets its own error type and a message that names
// the field; the infeasibility error carries the minimum achievable cost.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/problem.hpp>

#include "cmdp/reference.hpp"
#include "error_message.hpp"

#include <limits>

using namespace ward::cmdp;
using ward::testing::message_of;

namespace {

using ward::cmdp::testing::two_state;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(cmdp_problem)

BOOST_AUTO_TEST_CASE(a_valid_cmdp_passes) {
    BOOST_CHECK_NO_THROW(validate(two_state()));
    Cmdp m = two_state();
    m.P[1][0] = {0.3333333, 0.6666666};  // sums to 1 - 1e-7: within the default tolerance 1e-6
    BOOST_CHECK_NO_THROW(validate(m));
    BOOST_CHECK_THROW(validate(m, "cmdp", 1e-9), ward::value_error);
}

BOOST_AUTO_TEST_CASE(probabilities_must_sum_to_one) {
    Cmdp m = two_state();
    m.P[1][0] = {0.5, 0.4};
    const std::string msg = message_of<ward::value_error>([&] { validate(m, "f.json"); });
    BOOST_TEST(contains(msg, "f.json: P[1][0] sums to 0.9, not 1"), msg);
    m = two_state();
    m.mu0 = {0.5, 0.6};
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "mu0 sums to 1.1"));
}

BOOST_AUTO_TEST_CASE(negative_probabilities_are_rejected) {
    Cmdp m = two_state();
    m.P[0][1] = {1.5, -0.5};  // sums to 1, still not a distribution
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "P[0][1][1] = -0.5 is a negative probability"));
    m = two_state();
    m.mu0 = {1.2, -0.2};
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "mu0[1] = -0.2 is a negative probability"));
}

BOOST_AUTO_TEST_CASE(gamma_must_lie_in_zero_one) {
    Cmdp m = two_state();
    for (double g : {1.0, -0.1, 1.5}) {
        m.gamma = g;
        BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "is outside [0, 1)"));
    }
    m.gamma = 0.0;  // myopic: allowed
    BOOST_CHECK_NO_THROW(validate(m));
}

BOOST_AUTO_TEST_CASE(nan_and_infinity_are_named) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    Cmdp m = two_state();
    m.gamma = nan;
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "gamma is nan, not a finite number"));
    m = two_state();
    m.reward[1][0] = nan;
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "reward[1][0] is nan"));
    m = two_state();
    m.cost[0][1] = inf;
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "cost[0][1] is inf"));
    m = two_state();
    m.threshold = nan;
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "threshold is nan"));
    m = two_state();
    m.P[0][0] = {nan, 1};
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate(m); }), "P[0][0][0] is nan"));
}

BOOST_AUTO_TEST_CASE(mismatched_sizes_are_shape_errors) {
    Cmdp m = two_state();
    m.reward.pop_back();
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "reward has 1 entries, expected 2 (states)"));
    m = two_state();
    m.cost[1] = {0, 0, 0};
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "cost[1] has 3 entries, expected 2 (actions)"));
    m = two_state();
    m.P[1][1] = {1};
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "P[1][1] has 1 entries, expected 2 (states)"));
    m = two_state();
    m.mu0 = {1, 0, 0};
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "mu0 has 3 entries"));
    m = two_state();
    m.states = 0;
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "states must be at least 1"));
    m = two_state();
    m.state_names = {"only one"};
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate(m); }), "state names has 1 entries"));
}

BOOST_AUTO_TEST_CASE(policies_are_checked) {
    const Cmdp m = two_state();
    BOOST_CHECK_NO_THROW(validate_policy(m, {{0.6, 0.4}, {1, 0}}));
    BOOST_TEST(contains(message_of<ward::value_error>([&] { validate_policy(m, {{0.6, 0.3}, {1, 0}}); }), "pi[0] sums to 0.9"));
    BOOST_TEST(contains(message_of<ward::shape_error>([&] { validate_policy(m, {{1, 0}}); }), "pi has 1 entries"));
}

BOOST_AUTO_TEST_CASE(infeasibility_reports_the_minimum_cost) {
    const infeasible_error e("f.json", 0.25, 1.0);
    BOOST_TEST(e.minimum_cost() == 1.0);
    BOOST_TEST(std::string(e.what()) ==
               "f.json: infeasible constraint: the cost threshold 0.25 is below the minimum achievable expected discounted cost 1");
    const ward::value_error& base = e;  // callers that only know the ward::error family still catch it
    BOOST_TEST(contains(base.what(), "infeasible"));
}

BOOST_AUTO_TEST_SUITE_END()
