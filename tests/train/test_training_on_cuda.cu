// Training on the GPU against the same run on the CPU: causal-LM fine-tuning (accumulation,
// clipping, warmup, AdamW), a killed and resumed run on the GPU (bit-identical to an uninterrupted
// one), RepNoise through defence::train and Lisa's two states; mixed precision on the GPU (bf16
// through the bf16 kernels, f32 master weights) against f32 on the CPU. Skipped (exit 77) where no
// GPU exists.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <ward/cuda.cuh>
#include <ward/defence.hpp>
#include <ward/nn.hpp>
#include <ward/nn/clone.hpp>
#include <ward/train/lm_trainer.hpp>

#include "backend/cuda/compare.hpp"
#include "backend/cuda/require_gpu.hpp"
#include "temp_dir.hpp"
#include "tiny_llama.hpp"

using namespace ward;
using ward_test::on_host;
using ward_test::tiny_llama;

namespace {

std::vector<train::Example> corpus() { return ward_test::tiny_corpus(); }

std::vector<defence::Pair> pairs() {
    std::vector<defence::Pair> out;
    for (int i = 0; i < 8; ++i) out.push_back({{1, std::int64_t(2 + i % 4)}, {5, std::int64_t(6 + i % 3), 7}, {11, 12}});
    return out;
}

// Per-step losses of the two devices, relative to 1 + |loss| (a defence's loss may cross 0): f32 forward and backward in different summation
// orders (~1e-6 per op) carried through a few optimiser steps; 1e-3 is far below what a wrong
// gradient or a skipped update moves a loss by (>= 1e-2 here, the loss falling by ~0.3 per step).
void check_losses(const std::vector<double>& got, const std::vector<double>& want) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t s = 0; s < want.size(); ++s)
        BOOST_TEST(std::abs(got[s] - want[s]) <= 1e-3 * (1 + std::abs(want[s])), "step " << s << ": " << got[s] << " vs " << want[s]);
}

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(train_training_on_cuda)

BOOST_AUTO_TEST_CASE(fine_tuning_follows_the_cpu_step_by_step) {
    auto data = corpus();
    train::TrainOptions opt;
    opt.lr = 5e-3;
    opt.epochs = 4;
    opt.batch_size = 3;
    opt.grad_accumulation = 2;
    opt.warmup_steps = 2;
    opt.clip_norm = 0.5;
    opt.quiet = true;
    nn::CausalLM<float> model(tiny_llama(), 11);
    auto gpu = nn::to_device<cuda>(model);
    auto want = train::train_lm(model, data, data, opt);
    auto got = train::train_lm(gpu, data, data, opt);
    check_losses(got.step_losses, want.step_losses);
    check_losses(got.eval_losses, want.eval_losses);
    BOOST_TEST(got.step_losses.back() < got.step_losses.front() - 0.5);
}

BOOST_AUTO_TEST_CASE(a_killed_and_resumed_run_on_the_gpu_is_bit_identical) {
    auto data = corpus();
    ward_test::TempDir dir;
    train::TrainOptions opt;
    opt.lr = 5e-3;
    opt.epochs = 6;
    opt.batch_size = 3;
    opt.grad_accumulation = 2;
    opt.quiet = true;
    auto straight = nn::to_device<cuda>(nn::CausalLM<float>(tiny_llama(), 11));
    train::train_lm(straight, data, {}, opt);

    opt.checkpoint = dir.path / "run.safetensors";
    opt.checkpoint_every = 1;
    opt.max_steps = 3;
    auto first = nn::to_device<cuda>(nn::CausalLM<float>(tiny_llama(), 11));
    train::train_lm(first, data, {}, opt);
    opt.max_steps = -1;
    auto resumed = nn::to_device<cuda>(nn::CausalLM<float>(tiny_llama(), 99));  // all state from the file
    auto res = train::train_lm(resumed, data, {}, opt);
    BOOST_TEST(res.resumed_from == 3);
    auto a = nn::named_parameters<float, cuda>(straight), b = nn::named_parameters<float, cuda>(resumed);
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(on_host(a[i].var->value()) == on_host(b[i].var->value()), a[i].name);
}

BOOST_AUTO_TEST_CASE(repnoise_training_follows_the_cpu) {
    nn::TransformerConfig c = tiny_llama();
    nn::CausalLM<float> model(c, 1);
    auto gpu = nn::to_device<cuda>(model);
    defence::DefenceOptions opt;
    opt.lr = 1e-2;
    opt.epochs = 2;
    opt.quiet = true;
    auto want = defence::train(model, defence::repnoise(1.0, 1e-3), pairs(), opt);
    auto got = defence::train(gpu, defence::repnoise(1.0, 1e-3), pairs(), opt);
    check_losses(got.losses, want.losses);
    BOOST_TEST_REQUIRE(got.terms.size() == want.terms.size());
    for (std::size_t s = 0; s < want.terms.size(); ++s)
        for (const auto& [name, v] : want.terms[s])
            BOOST_TEST(std::abs(got.terms[s].at(name) - v) <= 1e-3 * (1 + std::abs(v)), "step " << s << " term " << name);
}

BOOST_AUTO_TEST_CASE(lisa_alternates_its_states_as_on_the_cpu) {
    auto data = corpus();
    defence::LisaOptions opt;
    opt.steps = 8;
    opt.alignment_steps = 2;
    opt.finetune_steps = 2;
    opt.lr = 5e-3;
    opt.batch_size = 2;
    opt.rho = 0.5;
    opt.quiet = true;
    std::vector<train::Example> alignment(data.begin(), data.begin() + 2), user(data.begin() + 2, data.end());
    nn::CausalLM<float> model(tiny_llama(), 5);
    auto gpu = nn::to_device<cuda>(model);
    auto want = defence::lisa_finetune(model, alignment, user, opt);
    auto got = defence::lisa_finetune(gpu, alignment, user, opt);
    check_losses(got.losses, want.losses);
    BOOST_TEST(got.alignment == want.alignment);
    BOOST_TEST(got.switches == want.switches);
}

BOOST_AUTO_TEST_CASE(bf16_on_the_gpu_follows_f32_on_the_cpu) {
    // bf16 weights and activations on the GPU (attention, GELU, norms, cross-entropy and the weight
    // gradients through their bf16 kernels), f32 master weights and AdamW state, against the f32 run
    // on the CPU from the same weights: the loss after 20 steps within 1e-2 relative, what
    // train_mixed_precision asks of bf16 on the CPU. GPT-2's family (GELU, layer norm, tied head) and
    // Llama's (RMS norm, SwiGLU, grouped-query heads).
    for (nn::Family family : {nn::Family::gpt2, nn::Family::llama}) {
        nn::TransformerConfig c = tiny_llama();
        if (family == nn::Family::gpt2) c.family = family, c.kv_heads = c.heads, c.tie_embeddings = true;
        const auto data = corpus();
        train::TrainOptions opt;
        opt.lr = 3e-3;
        opt.batch_size = 2;
        opt.epochs = 100;
        opt.max_steps = 20;
        opt.clip_norm = 1.0;
        opt.quiet = true;
        nn::CausalLM<float> f32(c, 3);
        auto mixed = nn::to_dtype<bf16>(nn::to_device<cuda>(f32));
        const double before = train::evaluate_lm(f32, data, 4, 0);
        train::train_lm(f32, data, {}, opt);
        train::train_lm(mixed, data, {}, opt);
        const double want = train::evaluate_lm(f32, data, 4, 0), got = train::evaluate_lm(mixed, data, 4, 0);
        const char* name = family == nn::Family::gpt2 ? "gpt2" : "llama";
        BOOST_TEST(want < 0.8 * before, name << ": 20 steps learn something, so the comparison means something");
        BOOST_TEST(std::abs(got - want) <= 1e-2 * want, name << ": bf16 on the GPU " << got << ", f32 on the CPU " << want);
    }
}

BOOST_AUTO_TEST_SUITE_END()
