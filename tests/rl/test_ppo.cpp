// PPO on the one-step language bandit reaches the known optimum (with and without a KL penalty), and a
// killed and resumed run (with a Lagrangian and an adaptive KL controller, whose state rides in the
// checkpoint) ends bit-identical to an uninterrupted one.
#include <boost/test/unit_test.hpp>

#include "rl/bandit.hpp"
#include "temp_dir.hpp"

using namespace ward;
using namespace rl_test;

namespace {
/// PPO on the KL-penalised bandit reaches pi_ref(y) exp(r(y) / beta) / Z, in any element type.
template <FloatElement T>
void check_regularised_optimum() {
    const auto ref = nn::to_dtype<T>(bandit_model(1));
    const auto p_ref = policy_probs(ref);
    const std::vector<double> r = {0.0, 0.2, 1.0, 0.5};
    const double beta = 0.5;
    const auto want = kl_optimum(p_ref, r, beta);
    rl::ActorCritic<T> ac(nn::clone(ref), 2);
    TableReward reward{r};
    rl::NoScorer cost;
    auto kl = rl::kl_penalty(beta);
    rl::ppo(ac, ref, prompts(), codec(), reward, cost, kl, bandit_ppo(60));
    const auto p = policy_probs(ac.model);
    for (std::size_t y = 0; y < p.size(); ++y) BOOST_TEST(std::abs(p[y] - want[y]) < 0.05, "y " << y << ": " << p[y] << " vs " << want[y]);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_ppo)

BOOST_AUTO_TEST_CASE(bandit_without_penalty_finds_the_best_arm) {
    auto ref = bandit_model(1);
    rl::ActorCritic<float> ac(nn::clone(ref), 2);
    TableReward reward{{0.0, 0.2, 1.0, 0.5}};
    rl::NoScorer cost;
    auto none = rl::none();
    auto res = rl::ppo(ac, ref, prompts(), codec(), reward, cost, none, bandit_ppo(40));
    const auto p = policy_probs(ac.model);
    BOOST_TEST(p[2] > 0.95, "pi(best) = " << p[2]);
    BOOST_TEST(res.iterations.size() == 40u);
    BOOST_TEST(res.iterations.back().at("reward") > 0.9);
}

BOOST_AUTO_TEST_CASE(bandit_with_kl_penalty_reaches_the_regularised_optimum) { check_regularised_optimum<float>(); }

// bf16 weights, activations, token log-probs and values (f32 master weights): the same optimum, within
// the same tolerance.
BOOST_AUTO_TEST_CASE(bf16_reaches_the_regularised_optimum) { check_regularised_optimum<bf16>(); }

BOOST_AUTO_TEST_CASE(killed_and_resumed_run_matches_uninterrupted) {
    ward_test::TempDir d;
    auto ref = bandit_model(1);
    TableReward reward{{0.0, 0.2, 1.0, 0.5}}, harm{{0.0, 0.0, 1.0, 0.0}};  // the best answer is the costly one
    auto make = [] {
        return rl::lagrangian(cmdp::PidLagrangeMultiplier({.threshold = 0.2, .kp = 1.0, .ki = 0.5})) + rl::adaptive_kl({.init = 0.1, .target = 0.5, .horizon = 500});
    };
    rl::PpoOptions o = bandit_ppo(6);
    o.rollouts = 24;
    o.minibatch = 8;  // 3 minibatches x 2 epochs = 6 updates per iteration
    o.kl_estimator = rl::KlEstimator::k3;
    rl::ActorCritic<float> straight(nn::clone(ref), 2);
    auto c1 = make();
    const auto a = rl::ppo(straight, ref, prompts(), codec(), reward, harm, c1, o);

    o.checkpoint = d.path / "ppo.safetensors";
    o.iterations = 4;  // the process "dies" after 4 iterations
    rl::ActorCritic<float> first(nn::clone(ref), 2);
    auto c2 = make();
    rl::ppo(first, ref, prompts(), codec(), reward, harm, c2, o);
    o.iterations = 6;
    rl::ActorCritic<float> resumed(bandit_model(55), 9);  // other weights: everything comes from the checkpoint
    auto c3 = make();
    const auto b = rl::ppo(resumed, ref, prompts(), codec(), reward, harm, c3, o);
    BOOST_TEST(b.loop.resumed_from == 24);
    auto pa = nn::named_parameters<float, cpu>(straight), pb = nn::named_parameters<float, cpu>(resumed);
    BOOST_REQUIRE(pa.size() == pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i)
        BOOST_TEST(pa[i].var->value().to_vector() == pb[i].var->value().to_vector(), boost::test_tools::per_element());
    BOOST_REQUIRE(a.iterations.size() == 6u);
    BOOST_REQUIRE(b.iterations.size() == 6u);
    for (std::size_t i = 0; i < 6; ++i)
        for (const auto& [k, v] : a.iterations[i])
            if (k.find("seconds") == std::string::npos) BOOST_TEST(b.iterations[i].at(k) == v, "iteration " << i << " " << k);
    BOOST_TEST(a.iterations.back().at("lambda") > 0.0);  // the multiplier and the controller did move
    BOOST_TEST(a.iterations.back().at("kl_coef") != 0.1);
    BOOST_TEST(a.rollout_seconds > 0.0);
    BOOST_TEST(a.update_seconds > 0.0);
}

BOOST_AUTO_TEST_CASE(a_cost_constraint_without_a_cost_scorer_says_so) {
    auto ref = bandit_model(1);
    rl::ActorCritic<float> ac(nn::clone(ref), 2);
    TableReward reward{{0.0, 0.2, 1.0, 0.5}};
    rl::NoScorer cost;
    auto shaping = rl::reward_shaping(1.0);
    try {
        rl::ppo(ac, ref, prompts(), codec(), reward, cost, shaping, bandit_ppo(1));
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("needs a cost scorer") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
