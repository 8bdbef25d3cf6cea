// CausalLM on the GPU against the same weights on the CPU: GPT-2 and a GQA Llama, their logits and
// every layer's hidden states, every parameter's gradient, a left-padded batch, and greedy
// generation with the KV cache (the same tokens). Skipped (exit 77) where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include <ward/cuda.cuh>
#include <ward/autograd.hpp>
#include <ward/nn.hpp>
#include <ward/nn/clone.hpp>

#include "backend/cuda/compare.hpp"
#include "backend/cuda/require_gpu.hpp"

using namespace ward;
using ward_test::max_rel_diff;
using ward_test::on_host;

namespace {

nn::TransformerConfig tiny(nn::Family family) {
    nn::TransformerConfig c;
    c.family = family;
    c.vocab_size = 61;
    c.hidden = 48;
    c.layers = 3;
    c.heads = 4;
    c.kv_heads = family == nn::Family::llama ? 2 : 4;
    c.intermediate = 96;
    c.max_positions = 64;
    c.tie_embeddings = family == nn::Family::gpt2;
    return c;
}

Tensor<std::int64_t> random_ids(std::uint64_t seed, index_t B, index_t T, index_t vocab) {
    Generator g(seed);
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * T));
    for (auto& id : ids) id = static_cast<std::int64_t>(g.uniform() * double(vocab)) % vocab;
    return Tensor<std::int64_t>::from_vector(ids, {B, T});
}

// f32 through a few layers in a different summation order (cuBLASLt's and the CUDA kernels' against
// oneDNN's): agreement to ~1e-6 per op, so 1e-4 leaves room for the depth without hiding an error of
// an op, which moves values by far more.
constexpr double tolerance = 1e-4;

const nn::Family families[] = {nn::Family::gpt2, nn::Family::llama};

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(nn_models_on_cuda)

BOOST_AUTO_TEST_CASE(to_device_copies_every_parameter_exactly) {
    nn::CausalLM<float> model(tiny(nn::Family::llama), 7);
    nn::CausalLM<float, cuda> on_gpu = nn::to_device<cuda>(model);
    nn::CausalLM<float> back = nn::to_device<cpu>(on_gpu);
    auto a = nn::named_parameters<float, cpu>(model), b = nn::named_parameters<float, cpu>(back);
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        BOOST_TEST(a[i].name == b[i].name);
        BOOST_TEST(on_host(a[i].var->value()) == on_host(b[i].var->value()), a[i].name);
        BOOST_TEST(a[i].var->requires_grad() == b[i].var->requires_grad());
    }
}

BOOST_AUTO_TEST_CASE(forward_matches_the_cpu_layer_by_layer) {
    for (auto family : families) {
        nn::CausalLM<float> model(tiny(family), 3);
        auto gpu = nn::to_device<cuda>(model);
        Tensor<std::int64_t> ids = random_ids(5, 3, 17, model.config.vocab_size);
        ag::NoGrad ng;
        auto want = model.forward(ids, {.collect_layers = true});
        auto got = gpu.forward(ids.to<cuda>(), {.collect_layers = true});
        BOOST_TEST(max_rel_diff(on_host(got.logits.value()), on_host(want.logits.value())) <= tolerance);
        BOOST_TEST_REQUIRE(got.hidden.size() == want.hidden.size());
        for (std::size_t l = 0; l < want.hidden.size(); ++l) {
            BOOST_TEST(max_rel_diff(on_host(got.hidden[l].value()), on_host(want.hidden[l].value())) <= tolerance, "layer " << l);
            BOOST_TEST(max_rel_diff(on_host(got.mlp_out[l].value()), on_host(want.mlp_out[l].value())) <= tolerance, "layer " << l);
        }
    }
}

BOOST_AUTO_TEST_CASE(gradients_of_every_parameter_match_the_cpu) {
    for (auto family : families) {
        nn::CausalLM<float> model(tiny(family), 4);
        auto gpu = nn::to_device<cuda>(model);
        Tensor<std::int64_t> ids = random_ids(6, 2, 13, model.config.vocab_size);
        Tensor<std::int64_t> targets = random_ids(8, 2, 13, model.config.vocab_size);
        ag::cross_entropy(model.forward(ids).logits, targets).backward();
        ag::cross_entropy(gpu.forward(ids.to<cuda>()).logits, targets.to<cuda>()).backward();
        auto want = nn::named_parameters<float, cpu>(model);
        auto got = nn::named_parameters<float, cuda>(gpu);
        for (std::size_t i = 0; i < want.size(); ++i)
            BOOST_TEST(max_rel_diff(on_host(got[i].var->grad()), on_host(want[i].var->grad())) <= tolerance, want[i].name);
    }
}

BOOST_AUTO_TEST_CASE(a_left_padded_batch_matches_the_cpu) {
    nn::CausalLM<float> model(tiny(nn::Family::llama), 9);
    auto gpu = nn::to_device<cuda>(model);
    const index_t B = 2, T = 9;
    Tensor<std::int64_t> ids = random_ids(10, B, T, model.config.vocab_size);
    // Row 0 has 3 padding positions on the left; its positions start at 0 on its first real token.
    std::vector<float> mask(B * T, 1.f);
    std::vector<std::int64_t> pos(B * T);
    for (index_t t = 0; t < T; ++t) {
        mask[t] = t < 3 ? 0.f : 1.f;
        pos[t] = t < 3 ? 0 : t - 3;
        pos[T + t] = t;
    }
    nn::ForwardContext<float, cpu> ctx;
    ctx.padding_mask = Tensor<float>::from_vector(mask, {B, T});
    ctx.position_ids = Tensor<std::int64_t>::from_vector(pos, {B, T});
    nn::ForwardContext<float, cuda> gctx;
    gctx.padding_mask = ctx.padding_mask.to<cuda>();
    gctx.position_ids = ctx.position_ids.to<cuda>();
    ag::NoGrad ng;
    auto want = model.forward(ids, {}, {}, ctx).logits.value();
    auto got = gpu.forward(ids.to<cuda>(), {}, {}, gctx).logits.value();
    // Rows of padding attend to nothing real; compare the real positions.
    BOOST_TEST(max_rel_diff(on_host(got.slice(1, 3, T)), on_host(want.slice(1, 3, T))) <= tolerance);
}

BOOST_AUTO_TEST_CASE(greedy_generation_with_the_cache_gives_the_cpu_tokens) {
    for (auto family : families) {
        nn::CausalLM<float> model(tiny(family), 11);
        auto gpu = nn::to_device<cuda>(model);
        std::vector<std::vector<std::int64_t>> prompts{{1, 2, 3, 4, 5}, {7, 8}, {9}};
        nn::GenerateOptions opt;
        opt.max_new_tokens = 12;
        auto want = nn::generate(model, prompts, opt);
        auto got = nn::generate(gpu, prompts, opt);
        BOOST_TEST(got == want, "family " << int(family));
        opt.use_cache = false;  // the cache against recomputing everything, on the GPU alone
        BOOST_TEST(nn::generate(gpu, prompts, opt) == got);
    }
}

BOOST_AUTO_TEST_CASE(a_model_with_adapters_is_refused) {
    nn::CausalLM<float> model(tiny(nn::Family::llama), 12);
    model.for_each_linear([](const std::string&, nn::Linear<float, cpu>& lin) {
        if (!lin.lora) lin.attach_lora(2, 4.0, 0.0, 1);
    });
    BOOST_CHECK_THROW(nn::to_device<cuda>(model), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
