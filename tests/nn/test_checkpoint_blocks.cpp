// CausalLM::checkpoint_blocks (activation checkpointing per block) against the same model recorded
// whole, for GPT-2 and Llama: the same logits and the same gradient of every parameter, bit for
// bit, also through the per-layer outputs a defence term reads and through LoRA with dropout; the
// same training run; and the peak of tensor memory in a step well below the whole graph's.
#include <boost/test/unit_test.hpp>

#include <vector>

#include <ward/core/stats.hpp>
#include <ward/nn.hpp>
#include <ward/train/lm_trainer.hpp>

#include "train/tiny_llama.hpp"

using namespace ward;
using ag::Var;

namespace {

nn::TransformerConfig tiny_gpt2() {
    nn::TransformerConfig c;
    c.family = nn::Family::gpt2;
    c.vocab_size = 24;
    c.hidden = 32;
    c.layers = 3;
    c.heads = c.kv_heads = 4;
    c.intermediate = 128;
    c.max_positions = 32;
    return c;
}

std::vector<nn::TransformerConfig> configs() { return {tiny_gpt2(), ward_test::tiny_llama()}; }

Tensor<std::int64_t> ids_of(std::vector<std::int64_t> v, index_t rows) {
    const index_t cols = static_cast<index_t>(v.size()) / rows;
    return Tensor<std::int64_t>::from_vector(std::move(v), {rows, cols});
}

/// Next-token loss plus terms on the per-layer outputs (as RepNoise's read them): layer 0's MLP
/// output and the last layer's output.
Var<float> loss_with_layer_terms(const nn::CausalLM<float>& m) {
    const auto ids = ids_of({1, 5, 9, 13, 17, 21, 2, 1, 6, 10, 14, 18, 22, 2}, 2);
    const auto targets = ids_of({5, 9, 13, 17, 21, 2, 3, 6, 10, 14, 18, 22, 2, 3}, 2);
    auto r = m.forward(ids, {.collect_layers = true});
    return ag::cross_entropy(r.logits, targets) + ag::mean(ag::square(r.mlp_out.front())) * 0.1 +
           ag::mean(r.hidden.back()) * 0.5;
}

std::vector<std::vector<float>> gradients(nn::CausalLM<float> m) {
    std::vector<std::vector<float>> out;
    for (const auto& p : nn::parameters<float, cpu>(m)) out.push_back(p.grad.to_vector());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nn_checkpoint_blocks)

BOOST_AUTO_TEST_CASE(same_logits_and_gradients_as_the_whole_graph) {
    for (const auto& c : configs()) {
        BOOST_TEST_CONTEXT((c.family == nn::Family::gpt2 ? "gpt2" : "llama")) {
            nn::CausalLM<float> whole(c, 3);
            nn::CausalLM<float> ck = nn::clone(whole);
            ck.checkpoint_blocks = true;
            const auto ids = ids_of({1, 5, 9, 13, 17, 21}, 2);
            BOOST_TEST(ck.forward(ids).logits.value().to_vector() == whole.forward(ids).logits.value().to_vector(),
                       boost::test_tools::per_element());
            loss_with_layer_terms(whole).backward();
            loss_with_layer_terms(ck).backward();
            const auto a = gradients(whole), b = gradients(ck);
            BOOST_REQUIRE(a.size() == b.size());
            for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(a[i] == b[i], boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(lora_with_dropout_gets_the_same_gradients) {
    for (const auto& c : configs()) {
        BOOST_TEST_CONTEXT((c.family == nn::Family::gpt2 ? "gpt2" : "llama")) {
            auto adapted = [&] {
                nn::CausalLM<float> m(c, 4);
                m.for_each_linear([](const std::string&, nn::Linear<float>& lin) { lin.attach_lora(4, 8.0, 0.2, 21); });
                m.for_each_linear([](const std::string&, nn::Linear<float>& lin) {  // B = 0 would hide A's gradient
                    lin.lora->b = Var<float>(Tensor<float>::full(lin.lora->b.shape(), 0.01f), true);
                });
                return m;
            };
            nn::CausalLM<float> whole = adapted(), ck = adapted();
            ck.checkpoint_blocks = true;
            loss_with_layer_terms(whole).backward();
            loss_with_layer_terms(ck).backward();
            const auto a = gradients(whole), b = gradients(ck);
            BOOST_REQUIRE(a.size() == b.size());
            BOOST_REQUIRE(!a.empty());
            for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(a[i] == b[i], boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(training_runs_are_identical) {
    const auto data = ward_test::tiny_corpus();
    train::TrainOptions opt;
    opt.lr = 5e-3;
    opt.epochs = 3;
    opt.batch_size = 2;
    opt.quiet = true;
    nn::CausalLM<float> whole(ward_test::tiny_llama(), 5);
    nn::CausalLM<float> ck(ward_test::tiny_llama(), 5);
    ck.checkpoint_blocks = true;
    const auto a = train::train_lm(whole, data, {}, opt).step_losses;
    const auto b = train::train_lm(ck, data, {}, opt).step_losses;
    BOOST_TEST(a.size() == 6u);
    BOOST_TEST(a == b, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_step_holds_less_tensor_memory) {
    nn::TransformerConfig c = ward_test::tiny_llama();
    c.layers = 8;
    c.hidden = 64;
    c.intermediate = 256;
    c.max_positions = 128;
    std::vector<std::int64_t> v;
    for (int i = 0; i < 4 * 128; ++i) v.push_back(1 + i % 23);
    const auto ids = ids_of(v, 4);
    auto peak_of_a_step = [&](bool checkpointed) {
        nn::CausalLM<float> m(c, 6);
        m.checkpoint_blocks = checkpointed;
        auto params = nn::parameters<float, cpu>(m);  // gradients allocated before the measurement
        stats::reset_peak();
        const auto base = stats::host_bytes_in_use.load();
        ag::cross_entropy(m.forward(ids).logits, ids).backward();
        return double(stats::host_bytes_peak.load() - base);
    };
    const double whole = peak_of_a_step(false), ck = peak_of_a_step(true);
    BOOST_TEST_MESSAGE("peak tensor bytes of a step: whole graph " << whole << ", checkpointed blocks " << ck);
    BOOST_TEST(ck < 0.5 * whole);
}

BOOST_AUTO_TEST_SUITE_END()
