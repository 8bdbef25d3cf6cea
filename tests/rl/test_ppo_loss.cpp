// PPO's clipped surrogate and clipped value loss against tokens worked by hand, masks respected, and
// their gradients against finite differences (at points away from the clip's kinks).
#include <boost/test/unit_test.hpp>

#include <ward/autograd/gradcheck.hpp>
#include <ward/rl/ppo_loss.hpp>

#include <cmath>

using namespace ward;
using Vars = std::vector<ag::Var<double>>;

namespace {
Tensor<double> row(std::vector<double> v) {
    const auto n = static_cast<index_t>(v.size());
    return Tensor<double>::from_vector(v, {1, n});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_ppo_loss)

BOOST_AUTO_TEST_CASE(clipped_surrogate_by_hand) {
    // token 0: ratio 0.5 / 0.4 = 1.25, A = 1: max(-1.25, -1.2) = -1.2 (clipped);
    // token 1: ratio 1, A = -1: 1; token 2 is masked out whatever it holds.
    const auto logp = row({std::log(0.5), std::log(0.3), 5.0}), old = row({std::log(0.4), std::log(0.3), 0.0});
    const auto adv = row({1.0, -1.0, 100.0}), mask = row({1, 1, 0});
    const double loss = rl::ppo_policy_loss(ag::Var<double>(logp), old, adv, mask, 0.2).value().item();
    BOOST_TEST(std::abs(loss - (-1.2 + 1.0) / 2) < 1e-14);
    BOOST_TEST(std::abs(rl::clip_fraction(logp, old, mask, 0.2) - 0.5) < 1e-15);
    // A negative advantage with a ratio below 1 - eps is clipped the other way: ratio 0.5, A = -2:
    // max(1.0, 0.8 * 2) = 1.6.
    const double low = rl::ppo_policy_loss(ag::Var<double>(row({std::log(0.25)})), row({std::log(0.5)}), row({-2.0}), row({1}), 0.2).value().item();
    BOOST_TEST(std::abs(low - 1.6) < 1e-14);
}

BOOST_AUTO_TEST_CASE(clipped_value_loss_by_hand) {
    // token 0: plain (1 - 2)^2 = 1, clipped (0.5 + 0.2 - 2)^2 = 1.69; token 1: plain 0, clipped (0.5 - 0.2)^2 = 0.09.
    const auto v = row({1.0, 0.0}), old = row({0.5, 0.5}), ret = row({2.0, 0.0}), mask = row({1, 1});
    BOOST_TEST(std::abs(rl::ppo_value_loss(ag::Var<double>(v), old, ret, mask, 0.2).value().item() - 0.5 * (1.69 + 0.09) / 2) < 1e-14);
    BOOST_TEST(std::abs(rl::ppo_value_loss(ag::Var<double>(v), old, ret, mask, 0.0).value().item() - 0.5 * (1.0 + 0.0) / 2) < 1e-14);
}

BOOST_AUTO_TEST_CASE(gradients_match_finite_differences) {
    const auto old = row({-1.0, -0.5, -2.0, -0.7}), adv = row({1.0, -0.5, 0.3, -1.2}), mask = row({1, 1, 1, 0});
    // ratios exp(0.1), exp(-0.3), exp(0.05): inside, below and inside the clip range, none on a kink
    auto g = ag::gradcheck([&](const Vars& x) { return rl::ppo_policy_loss(x[0], old, adv, mask, 0.2); }, {row({-0.9, -0.8, -1.95, 0.4})});
    BOOST_TEST(g.ok, g.worst);
    const auto vold = row({0.5, 0.0, 1.0, 0.2}), ret = row({1.0, -1.0, 0.4, 3.0});
    g = ag::gradcheck([&](const Vars& x) { return rl::ppo_value_loss(x[0], vold, ret, mask, 0.2); }, {row({0.6, 0.5, 1.1, 0.3})});
    BOOST_TEST(g.ok, g.worst);
}

BOOST_AUTO_TEST_CASE(shapes_must_match) {
    BOOST_CHECK_THROW(rl::ppo_policy_loss(ag::Var<double>(row({0.0, 0.0})), row({0.0}), row({0.0, 0.0}), row({1, 1}), 0.2), shape_error);
    BOOST_CHECK_THROW(rl::ppo_policy_loss(ag::Var<double>(row({0.0})), row({0.0}), row({0.0}), row({1}), 0.0), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
