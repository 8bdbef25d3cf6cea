// RLHF on the GPU against the same run on the CPU, on the language bandit (tests/rl/bandit.hpp): PPO
// with a Lagrangian and a cost, DPO under Lisa (its anchor weights on the GPU), RLOO with a reward model
// trained on the GPU, and a killed and resumed PPO run on the GPU (bit-identical to an uninterrupted
// one); DPO in bf16 on the GPU against f32 on the CPU. Samples are drawn on the host from the logits, so
// both devices draw the same completions while their logits agree to f32 rounding. Skipped (exit 77)
// where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <ward/cuda.cuh>
#include <ward/nn/clone.hpp>
#include <ward/rl.hpp>

#include "backend/cuda/compare.hpp"
#include "backend/cuda/require_gpu.hpp"
#include "rl/bandit.hpp"
#include "temp_dir.hpp"

using namespace ward;
using namespace rl_test;
using ward_test::on_host;

namespace {

/// Answer 2 preferred to the others, 1 to 0: DPO's and the reward model's data.
std::vector<rl::TokenPreference> preferences() {
    std::vector<rl::TokenPreference> out;
    for (int k = 0; k < 6; ++k) {
        out.push_back({{3}, {2}, {0}, {}, {}, {}});
        out.push_back({{3}, {2}, {1}, {}, {}, {}});
        out.push_back({{3}, {1}, {0}, {}, {}, {}});
    }
    return out;
}

std::vector<train::Example> refusals() {
    train::Example e;
    e.ids = {3, 0};
    e.loss_mask = {0, 1};
    return {e, e};
}

// Logged values of the two devices, relative to 1 + |value|: f32 forward and backward in different
// summation orders (~1e-6 per op) carried through a few optimiser steps. 1e-3 is far below what a wrong
// gradient, a skipped update or a lost constraint term moves them by.
void check_logs(const std::vector<rl::IterationLog>& got, const std::vector<rl::IterationLog>& want, const std::vector<std::string>& keys) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        for (const auto& k : keys) {
            BOOST_TEST_REQUIRE(want[i].count(k) == 1u, "the CPU run logs " << k);
            BOOST_TEST_REQUIRE(got[i].count(k) == 1u, "the GPU run logs " << k);
            const double w = want[i].at(k), g = got[i].at(k);
            BOOST_TEST(std::abs(g - w) <= 1e-3 * (1 + std::abs(w)), "entry " << i << " " << k << ": " << g << " vs " << w);
        }
}

void check_policies(const std::vector<double>& got, const std::vector<double>& want, double tolerance) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t y = 0; y < want.size(); ++y) BOOST_TEST(std::abs(got[y] - want[y]) <= tolerance, "y " << y << ": " << got[y] << " vs " << want[y]);
}

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(rl_rl_on_cuda)

BOOST_AUTO_TEST_CASE(ppo_with_a_lagrangian_follows_the_cpu) {
    const auto ref = bandit_model(1);
    const auto ref_gpu = nn::to_device<cuda>(ref);
    TableReward reward{{0.0, 0.2, 1.0, 0.5}}, harm{{0.0, 0.0, 1.0, 0.0}};
    auto make = [] { return rl::lagrangian(cmdp::LogLagrangeMultiplier({.threshold = 0.2, .lr = 0.5, .init = 0.5})); };
    rl::ActorCritic<float> cpu_ac(nn::clone(ref), 2);
    rl::ActorCritic<float, cuda> gpu_ac(nn::to_device<cuda>(ref), 2);  // value heads drawn on the GPU from the same seeds
    auto c_cpu = make(), c_gpu = make();
    const auto want = rl::ppo(cpu_ac, ref, prompts(), codec(), reward, harm, c_cpu, bandit_ppo(4));
    const auto got = rl::ppo(gpu_ac, ref_gpu, prompts(), codec(), reward, harm, c_gpu, bandit_ppo(4));
    check_logs(got.iterations, want.iterations,
               {"reward", "cost", "kl", "lambda", "mean_policy_loss", "mean_value_loss", "mean_cost_value_loss", "mean_clip_fraction"});
    check_policies(policy_probs(gpu_ac.model), policy_probs(cpu_ac.model), 1e-3);
    BOOST_TEST(std::abs(c_gpu.value() - c_cpu.value()) <= 1e-3 * (1 + c_cpu.value()));
    BOOST_TEST(c_cpu.value() != 0.5, "the multiplier moved, so its agreement means something");
}

BOOST_AUTO_TEST_CASE(a_killed_and_resumed_ppo_run_on_the_gpu_is_bit_identical) {
    ward_test::TempDir dir;
    const auto ref = nn::to_device<cuda>(bandit_model(1));
    TableReward reward{{0.0, 0.2, 1.0, 0.5}}, harm{{0.0, 0.0, 1.0, 0.0}};
    auto make = [] { return rl::lagrangian(cmdp::PidLagrangeMultiplier({.threshold = 0.2, .kp = 1.0, .ki = 0.5})); };
    rl::PpoOptions o = bandit_ppo(4);
    o.kl_estimator = rl::KlEstimator::k3;
    rl::ActorCritic<float, cuda> straight(nn::clone(ref), 2);
    auto c1 = make();
    const auto a = rl::ppo(straight, ref, prompts(), codec(), reward, harm, c1, o);

    o.checkpoint = dir.path / "ppo.safetensors";
    rl::ActorCritic<float, cuda> first(nn::clone(ref), 2);
    auto c2 = make();
    o.iterations = 2;  // the process "dies" after two iterations
    rl::ppo(first, ref, prompts(), codec(), reward, harm, c2, o);
    o.iterations = 4;
    rl::ActorCritic<float, cuda> resumed(nn::to_device<cuda>(bandit_model(77)), 9);  // every weight from the checkpoint
    auto c3 = make();
    const auto b = rl::ppo(resumed, ref, prompts(), codec(), reward, harm, c3, o);
    BOOST_TEST(b.loop.resumed_from == 8);  // 2 iterations x 2 minibatches x 2 epochs
    auto pa = nn::named_parameters<float, cuda>(straight), pb = nn::named_parameters<float, cuda>(resumed);
    BOOST_TEST_REQUIRE(pa.size() == pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i) BOOST_TEST(on_host(pa[i].var->value()) == on_host(pb[i].var->value()), pa[i].name);
    BOOST_TEST(c1.value() == c3.value());
    BOOST_TEST_REQUIRE(a.iterations.size() == b.iterations.size());
    for (std::size_t i = 0; i < a.iterations.size(); ++i)
        for (const auto& [k, v] : a.iterations[i])
            if (k.find("seconds") == std::string::npos) BOOST_TEST(b.iterations[i].at(k) == v, "iteration " << i << " " << k);
}

BOOST_AUTO_TEST_CASE(dpo_under_lisa_follows_the_cpu) {
    const auto ref = bandit_model(1);
    const auto ref_gpu = nn::to_device<cuda>(ref);
    rl::DpoOptions o;
    o.beta = 0.5;
    o.lr = 5e-3;
    o.batch_size = 6;
    o.epochs = 2;  // 6 steps: Lisa's states alternate 1 + 2
    o.seed = 3;
    o.quiet = true;
    const rl::LisaOnlineOptions lisa{.rho = 0.5, .alignment_steps = 1, .finetune_steps = 2, .batch_size = 2};
    auto l_cpu = rl::lisa(refusals(), lisa);
    auto l_gpu = rl::lisa<cuda>(refusals(), lisa);
    rl::NoScorer cost;
    auto p_cpu = nn::clone(ref);
    auto p_gpu = nn::clone(ref_gpu);
    const auto want = rl::dpo(p_cpu, ref, preferences(), l_cpu, o, {}, codec(), cost);
    const auto got = rl::dpo(p_gpu, ref_gpu, preferences(), l_gpu, o, {}, codec(), cost);
    check_logs(got.steps, want.steps, {"lisa.proximal", "lisa.aligning"});
    for (std::size_t s = 0; s < want.steps.size(); ++s)  // the DPO terms exist in the fine-tuning state, the CE in the alignment state
        for (const std::string key : {"dpo_loss", "reward_margin", "lisa.alignment_ce"}) {
            BOOST_TEST_REQUIRE(got.steps[s].count(key) == want.steps[s].count(key), "step " << s << " " << key);
            if (!want.steps[s].count(key)) continue;
            const double w = want.steps[s].at(key), g = got.steps[s].at(key);
            BOOST_TEST(std::abs(g - w) <= 1e-3 * (1 + std::abs(w)), "step " << s << " " << key << ": " << g << " vs " << w);
        }
    check_policies(policy_probs(p_gpu), policy_probs(p_cpu), 1e-3);
    BOOST_TEST(policy_probs(p_cpu)[2] > policy_probs(ref)[2], "DPO moved the policy towards the preferred answer");
}

BOOST_AUTO_TEST_CASE(rloo_with_a_reward_model_trained_on_the_gpu_follows_the_cpu) {
    const auto ref = bandit_model(1);
    const auto ref_gpu = nn::to_device<cuda>(ref);
    rl::RewardTrainOptions ro;
    ro.lr = 1e-2;
    ro.epochs = 3;
    ro.batch_size = 6;
    ro.quiet = true;
    rl::RewardModel<float> rm_cpu(nn::clone(ref), 4);
    rl::RewardModel<float, cuda> rm_gpu(nn::clone(ref_gpu), 4);
    const auto trained_cpu = rl::train_reward_model(rm_cpu, preferences(), ro);
    const auto trained_gpu = rl::train_reward_model(rm_gpu, preferences(), ro);
    BOOST_TEST_REQUIRE(trained_gpu.losses.size() == trained_cpu.losses.size());
    for (std::size_t s = 0; s < trained_cpu.losses.size(); ++s)
        BOOST_TEST(std::abs(trained_gpu.losses[s] - trained_cpu.losses[s]) <= 1e-3 * (1 + trained_cpu.losses[s]), "step " << s);
    BOOST_TEST(std::abs(rm_gpu.shift - rm_cpu.shift) <= 1e-3 * (1 + std::abs(rm_cpu.shift)));
    BOOST_TEST(std::abs(rm_gpu.scale - rm_cpu.scale) <= 1e-3 * rm_cpu.scale);

    rl::ModelScorer<float> r_cpu(rm_cpu, "rm");
    rl::ModelScorer<float, cuda> r_gpu(rm_gpu, "rm");
    rl::RlooOptions o;
    o.iterations = 4;
    o.k = 4;
    o.prompts_per_iteration = 4;
    o.lr = 3e-3;
    o.sampling = one_token();
    o.seed = 6;
    o.quiet = true;
    auto kl_cpu = rl::kl_penalty(0.1), kl_gpu = rl::kl_penalty(0.1);
    rl::NoScorer cost;
    auto p_cpu = nn::clone(ref);
    auto p_gpu = nn::clone(ref_gpu);
    const auto want = rl::rloo(p_cpu, ref, prompts(), codec(), r_cpu, cost, kl_cpu, o);
    const auto got = rl::rloo(p_gpu, ref_gpu, prompts(), codec(), r_gpu, cost, kl_gpu, o);
    check_logs(got.iterations, want.iterations, {"reward", "kl", "policy_loss"});
    check_policies(policy_probs(p_gpu), policy_probs(p_cpu), 1e-3);
}

BOOST_AUTO_TEST_CASE(bf16_dpo_on_the_gpu_follows_f32_on_the_cpu) {
    // bf16 weights and activations on the GPU, f32 master weights; the sequence sums and the loss in
    // f32 (rl::dpo): the policy ends within what bf16 can represent of the f32 run's (as on the CPU,
    // rl_dpo/bf16_reaches_the_same_optimum_as_f32).
    const auto ref = bandit_model(1);
    const auto ref16 = nn::to_dtype<bf16>(nn::to_device<cuda>(ref));
    auto none = rl::none();
    rl::NoScorer cost;
    auto p32 = nn::clone(ref);
    auto p16 = nn::clone(ref16);
    rl::dpo(p32, ref, bandit_preferences(), none, bandit_dpo(), {}, codec(), cost);
    rl::dpo(p16, ref16, bandit_preferences(), none, bandit_dpo(), {}, codec(), cost);
    const auto want = policy_probs(p32);
    BOOST_TEST(want[2] > policy_probs(ref)[2] + 0.2, "DPO learnt something, so the comparison means something");
    check_policies(policy_probs(p16), want, 0.02);
}

BOOST_AUTO_TEST_SUITE_END()
