// The leave-one-out baseline worked by hand, and RLOO on the language bandit reaching the KL-regularised
// optimum pi_ref exp(r / beta) / Z.
#include <boost/test/unit_test.hpp>

#include "error_message.hpp"
#include "rl/bandit.hpp"

#include <cmath>

using namespace ward;
using namespace rl_test;

BOOST_AUTO_TEST_SUITE(rl_rloo)

BOOST_AUTO_TEST_CASE(leave_one_out_by_hand) {
    // Group (1, 2, 6): 1 - 4, 2 - 3.5, 6 - 1.5; group (0, 0, 3): -1.5, -1.5, 3.
    const auto a = rl::leave_one_out({1, 2, 6, 0, 0, 3}, 3);
    const std::vector<double> want = {-3.0, -1.5, 4.5, -1.5, -1.5, 3.0};
    for (std::size_t i = 0; i < want.size(); ++i) BOOST_TEST(a[i] == want[i]);
    BOOST_CHECK_THROW(rl::leave_one_out({1, 2, 3}, 2), shape_error);
    BOOST_CHECK_THROW(rl::leave_one_out({1, 2}, 1), value_error);
}

BOOST_AUTO_TEST_CASE(bandit_with_kl_penalty_reaches_the_regularised_optimum) {
    auto ref = bandit_model(1);
    const std::vector<double> r = {0.0, 0.2, 1.0, 0.5};
    const double beta = 0.5;
    const auto want = kl_optimum(policy_probs(ref), r, beta);
    auto model = nn::clone(ref);
    TableReward reward{r};
    rl::NoScorer cost;
    auto kl = rl::kl_penalty(beta);
    rl::RlooOptions o;
    o.iterations = 300;
    o.prompts_per_iteration = 1;
    o.k = 64;
    o.lr = 3e-3;
    o.sampling = one_token();
    o.seed = 3;
    o.quiet = true;
    const auto res = rl::rloo(model, ref, prompts(), codec(), reward, cost, kl, o);
    const auto p = policy_probs(model);
    for (std::size_t y = 0; y < p.size(); ++y) BOOST_TEST(std::abs(p[y] - want[y]) < 0.05, "y " << y << ": " << p[y] << " vs " << want[y]);
    BOOST_TEST(res.iterations.size() == 300u);
    BOOST_CHECK_THROW(rl::rloo(model, ref, prompts(), codec(), reward, cost, kl, [&] { auto x = o; x.k = 1; return x; }()), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
