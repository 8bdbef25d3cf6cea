// Generation: KV-cache decoding gives the same tokens as recomputing the whole sequence each step;
// a left-padded batch gives each row what it gets alone; sampling is fixed by the seed; stop tokens
// end a row; per-layer representations and perturbations reach the output and its gradient.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <ward/autograd.hpp>
#include <ward/nn.hpp>
#include <ward/tensor.hpp>

using namespace ward;

namespace {
const std::filesystem::path fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";
const std::vector<std::vector<std::int64_t>> prompts = {{5, 17, 3, 44, 9}, {61, 2}, {7, 7, 30}};
}  // namespace

BOOST_AUTO_TEST_SUITE(nn_generate)

BOOST_AUTO_TEST_CASE(kv_cache_matches_full_recompute) {
    for (const char* family : {"gpt2", "llama"}) {
        auto model = nn::load_causal_lm<float>(fixtures / family);
        nn::GenerateOptions opt;
        opt.max_new_tokens = 8;
        auto cached = nn::generate(model, prompts, opt);
        opt.use_cache = false;
        auto full = nn::generate(model, prompts, opt);
        for (std::size_t b = 0; b < prompts.size(); ++b) {
            BOOST_TEST(cached[b].size() == 8u);
            BOOST_TEST(cached[b] == full[b], boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(padded_batch_rows_match_single_runs) {
    auto model = nn::load_causal_lm<float>(fixtures / "qwen2");
    nn::GenerateOptions opt;
    opt.max_new_tokens = 6;
    auto batched = nn::generate(model, prompts, opt);
    for (std::size_t b = 0; b < prompts.size(); ++b) {
        auto alone = nn::generate(model, {prompts[b]}, opt);
        BOOST_TEST(batched[b] == alone[0], boost::test_tools::per_element());
    }
    // greedy against an independent argmax over a full forward pass of the prompt
    auto logits = model.forward(Tensor<std::int64_t>::from_vector(prompts[0], {1, 5})).logits.value();
    BOOST_TEST(batched[0][0] == argmax(logits.select(1, 4), -1)(0));
    auto gpt2 = nn::load_causal_lm<float>(fixtures / "gpt2");
    auto g_batched = nn::generate(gpt2, prompts, opt);  // learned positions count real tokens only
    for (std::size_t b = 0; b < prompts.size(); ++b)
        BOOST_TEST(g_batched[b] == nn::generate(gpt2, {prompts[b]}, opt)[0], boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sampling_is_seeded_and_stop_tokens_end_rows) {
    auto model = nn::load_causal_lm<float>(fixtures / "llama");
    nn::GenerateOptions opt;
    opt.max_new_tokens = 12;
    opt.temperature = 1.0;
    opt.top_k = 20;
    opt.top_p = 0.9;
    opt.seed = 3;
    auto a = nn::generate(model, prompts, opt), b = nn::generate(model, prompts, opt);
    for (std::size_t i = 0; i < prompts.size(); ++i) BOOST_TEST(a[i] == b[i], boost::test_tools::per_element());
    opt.seed = 4;
    auto c = nn::generate(model, prompts, opt);
    BOOST_TEST((a != c));
    // top_k = 1 is greedy whatever the temperature
    opt.top_k = 1;
    auto k1 = nn::generate(model, prompts, opt);
    nn::GenerateOptions greedy;
    greedy.max_new_tokens = 12;
    auto g = nn::generate(model, prompts, greedy);
    for (std::size_t i = 0; i < prompts.size(); ++i) BOOST_TEST(k1[i] == g[i], boost::test_tools::per_element());
    // stopping on the greedy path's third token ends row 0 there
    greedy.stop_tokens = {g[0][2]};
    auto stopped = nn::generate(model, prompts, greedy);
    auto first = std::find(g[0].begin(), g[0].end(), g[0][2]) - g[0].begin();
    BOOST_TEST(stopped[0].size() == static_cast<std::size_t>(first + 1));
}

BOOST_AUTO_TEST_CASE(layer_representations_and_perturbations) {
    auto model = nn::load_causal_lm<float>(fixtures / "llama");
    auto ids = Tensor<std::int64_t>::from_vector({1, 2, 3, 4}, {1, 4});
    nn::ForwardOptions opt;
    opt.collect_layers = true;
    auto r = model.forward(ids, opt);
    BOOST_TEST(r.hidden.size() == 2u);
    BOOST_TEST(r.mlp_out.size() == 2u);
    BOOST_TEST((r.hidden[1].shape() == Shape{1, 4, 32}));
    // the final norm of the last hidden state gives the logits (the logit lens at the top layer)
    auto lens = model.lm_head(model.final_norm(r.hidden[1]));
    BOOST_TEST(max(abs(lens.value() - r.logits.value())).item() == 0.0f);
    // a zero perturbation changes nothing; its gradient is d loss / d hidden state of that layer
    ag::Var<float> delta(Tensor<float>::zeros({1, 4, 32}), true);
    opt.perturb_layer = 0;
    auto p = model.forward(ids, opt, delta);
    BOOST_TEST(max(abs(p.logits.value() - r.logits.value())).item() == 0.0f);
    auto loss = ag::sum(ag::square(p.logits));
    auto grads = ag::grad(loss, {delta, p.hidden[0]});
    BOOST_TEST(max(abs(grads[0] - grads[1])).item() == 0.0f);  // perturbing h0 by delta: same gradient
    BOOST_TEST(max(abs(grads[0])).item() > 0.0f);
    BOOST_CHECK_THROW(model.forward(ids, {false, 5}, delta), index_error);
}

BOOST_AUTO_TEST_SUITE_END()
