// DPO and its variants against values worked by hand and finite differences; rDPO's loss is unbiased
// under label noise (its expectation over flips is the clean loss); on the language bandit DPO reaches
// its known optimum (the implied reward differences equal the data's preference log-odds); a killed
// and resumed run, with a Lagrangian learning from samples, ends bit-identical to an uninterrupted one.
#include <boost/test/unit_test.hpp>

#include <ward/autograd/gradcheck.hpp>

#include "error_message.hpp"
#include "rl/bandit.hpp"
#include "temp_dir.hpp"

#include <cmath>

using namespace ward;
using namespace rl_test;
using ward::testing::message_of;
using Vars = std::vector<ag::Var<double>>;

namespace {
Tensor<double> vec(std::vector<double> v) {
    const auto n = static_cast<index_t>(v.size());
    return Tensor<double>::from_vector(v, {n});
}
double softplus(double x) { return std::log1p(std::exp(x)); }
double loss_of(rl::DpoVariant v, double beta, double eps, double c, double r, double rc, double rr) {
    return rl::dpo_loss(ag::Var<double>(vec({c})), ag::Var<double>(vec({r})), vec({rc}), vec({rr}), beta, v, eps).value().item();
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_dpo)

BOOST_AUTO_TEST_CASE(losses_worked_by_hand) {
    // h = (-1 + 1.5) - (-2 + 1.5) = 1; beta 0.5: beta h = 0.5.
    const double s = softplus(-0.5), t = softplus(0.5);  // -log sigmoid(0.5), -log sigmoid(-0.5)
    BOOST_TEST(std::abs(loss_of(rl::DpoVariant::sigmoid, 0.5, 0, -1, -2, -1.5, -1.5) - s) < 1e-14);
    BOOST_TEST(std::abs(loss_of(rl::DpoVariant::conservative, 0.5, 0.1, -1, -2, -1.5, -1.5) - (0.9 * s + 0.1 * t)) < 1e-14);
    BOOST_TEST(std::abs(loss_of(rl::DpoVariant::robust, 0.5, 0.1, -1, -2, -1.5, -1.5) - (0.9 * s - 0.1 * t) / 0.8) < 1e-14);
    // IPO, beta 0.25: (h - 1 / (2 beta))^2 = (1 - 2)^2.
    BOOST_TEST(std::abs(loss_of(rl::DpoVariant::ipo, 0.25, 0, -1, -2, -1.5, -1.5) - 1.0) < 1e-14);
    BOOST_TEST(std::abs(loss_of(rl::DpoVariant::conservative, 0.5, 0.0, -1, -2, -1.5, -1.5) - s) < 1e-14);  // eps 0: plain DPO
}

BOOST_AUTO_TEST_CASE(robust_dpo_is_unbiased_under_flipped_labels) {
    // With labels flipped with probability eps, the expected rDPO loss is the clean sigmoid loss.
    const double eps = 0.2, beta = 0.7;
    for (double h : {-2.0, -0.3, 0.0, 0.8, 3.0}) {
        const double clean = loss_of(rl::DpoVariant::sigmoid, beta, 0, h, 0, 0, 0);
        const double noisy = (1 - eps) * loss_of(rl::DpoVariant::robust, beta, eps, h, 0, 0, 0) + eps * loss_of(rl::DpoVariant::robust, beta, eps, 0, h, 0, 0);
        BOOST_TEST(std::abs(noisy - clean) < 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(gradients_match_finite_differences) {
    const auto rc = vec({-1.0, -0.5, -2.0}), rr = vec({-1.5, -0.2, -1.0});
    for (auto v : {rl::DpoVariant::sigmoid, rl::DpoVariant::conservative, rl::DpoVariant::robust, rl::DpoVariant::ipo}) {
        auto g = ag::gradcheck([&](const Vars& x) { return rl::dpo_loss(x[0], x[1], rc, rr, 0.3, v, 0.15); }, {vec({-0.7, -1.1, -2.5}), vec({-1.2, -0.1, -0.6})});
        BOOST_TEST(g.ok, rl::to_string(v) << ": " << g.worst);
    }
    BOOST_CHECK_THROW(loss_of(rl::DpoVariant::robust, 0.5, 0.5, 0, 0, 0, 0), value_error);
    BOOST_CHECK_THROW(loss_of(rl::DpoVariant::sigmoid, 0.0, 0.0, 0, 0, 0, 0), value_error);
}

BOOST_AUTO_TEST_CASE(bandit_reaches_the_known_optimum) {
    // At DPO's optimum beta log(pi(y) / pi_ref(y)) = r(y) + const, with r recovered from the preference
    // frequencies: the implied differences are log 3 between consecutive answers.
    auto ref = bandit_model(1);
    auto policy = nn::clone(ref);
    auto none = rl::none();
    rl::NoScorer cost;
    const auto res = rl::dpo(policy, ref, bandit_preferences(), none, bandit_dpo(), {}, codec(), cost);
    const auto p = policy_probs(policy), q = policy_probs(ref);
    auto implied = [&](int y) { return std::log(p[static_cast<std::size_t>(y)] / q[static_cast<std::size_t>(y)]); };
    BOOST_TEST(std::abs(implied(1) - implied(0) - std::log(3.0)) < 0.05, implied(1) - implied(0));
    BOOST_TEST(std::abs(implied(2) - implied(1) - std::log(3.0)) < 0.05, implied(2) - implied(1));
    BOOST_TEST(res.steps.size() == 150u);
    BOOST_TEST(res.steps.back().at("reward_accuracy") > 0.5);
}

BOOST_AUTO_TEST_CASE(bf16_reaches_the_same_optimum_as_f32) {
    // bf16 weights and activations with f32 master weights, from the same start: the sequence sums and
    // the loss are taken in f32 (a bf16 sum would shift every margin by up to 1/16 nat), so the policy
    // ends where the f32 run ends, within what bf16 weights can represent.
    auto ref = bandit_model(1);
    auto policy = nn::clone(ref);
    const auto ref16 = nn::to_dtype<bf16>(ref);
    auto policy16 = nn::to_dtype<bf16>(ref);
    auto none = rl::none();
    rl::NoScorer cost;
    rl::dpo(policy, ref, bandit_preferences(), none, bandit_dpo(), {}, codec(), cost);
    const auto res = rl::dpo(policy16, ref16, bandit_preferences(), none, bandit_dpo(), {}, codec(), cost);
    const auto want = policy_probs(policy), got = policy_probs(policy16), q = policy_probs(ref16);
    for (std::size_t y = 0; y < want.size(); ++y) BOOST_TEST(std::abs(got[y] - want[y]) < 0.02, "y " << y << ": " << got[y] << " vs " << want[y]);
    auto implied = [&](int y) { return std::log(got[static_cast<std::size_t>(y)] / q[static_cast<std::size_t>(y)]); };
    BOOST_TEST(std::abs(implied(2) - implied(0) - 2 * std::log(3.0)) < 0.15, implied(2) - implied(0));
    BOOST_TEST(res.steps.back().at("reward_accuracy") > 0.5);
}

BOOST_AUTO_TEST_CASE(killed_and_resumed_run_matches_uninterrupted) {
    ward_test::TempDir d;
    auto ref = bandit_model(1);
    TableReward harm{{0.0, 1.0, 0.0, 0.0}};  // answer 1 is the costly one
    auto make = [] { return rl::lagrangian(cmdp::LogLagrangeMultiplier({.threshold = 0.1, .lr = 0.5, .init = 0.5})); };
    rl::DpoOptions o = bandit_dpo();
    o.epochs = 6;
    o.batch_size = 10;  // 36 steps
    const auto prompts = rl_test::prompts();
    auto straight = nn::clone(ref);
    auto c1 = make();
    const auto a = rl::dpo(straight, ref, bandit_preferences(), c1, o, prompts, codec(), harm);

    o.checkpoint = d.path / "dpo.safetensors";
    o.checkpoint_every = 4;
    o.max_steps = 10;  // the process "dies" after 10 steps (last checkpoint at 8 ... and 10 at the end)
    auto first = nn::clone(ref);
    auto c2 = make();
    rl::dpo(first, ref, bandit_preferences(), c2, o, prompts, codec(), harm);
    o.max_steps = -1;
    auto resumed = bandit_model(77);  // other weights: everything comes from the checkpoint
    auto c3 = make();
    const auto b = rl::dpo(resumed, ref, bandit_preferences(), c3, o, prompts, codec(), harm);
    BOOST_TEST(b.loop.resumed_from == 10);
    auto pa = nn::named_parameters<float, cpu>(straight), pb = nn::named_parameters<float, cpu>(resumed);
    for (std::size_t i = 0; i < pa.size(); ++i)
        BOOST_TEST(pa[i].var->value().to_vector() == pb[i].var->value().to_vector(), boost::test_tools::per_element());
    BOOST_TEST(c1.value() == c3.value());
    BOOST_TEST(c1.value() != 0.5);  // the multiplier did move
    BOOST_TEST(a.steps.back().at("lambda") == c1.value());  // and its trajectory is in the log
    BOOST_TEST(a.steps.back().at("cost_threshold") == 0.1);
    BOOST_REQUIRE(a.steps.size() == b.steps.size());
    for (std::size_t s = 0; s < a.steps.size(); ++s) BOOST_TEST(a.steps[s] == b.steps[s]);  // the whole history, lambda included
}

BOOST_AUTO_TEST_CASE(a_sampling_constraint_needs_prompts) {
    auto ref = bandit_model(1);
    auto policy = nn::clone(ref);
    auto kl = rl::kl_penalty(0.1);
    rl::NoScorer cost;
    const std::string msg = message_of<value_error>([&] { rl::dpo(policy, ref, bandit_preferences(), kl, bandit_dpo(), {}, codec(), cost); });
    BOOST_TEST(msg.find("learns from samples") != std::string::npos, msg);
}

BOOST_AUTO_TEST_SUITE_END()
