// Tiny random-weight GPT-2, Llama (GQA, RoPE, SwiGLU) and Qwen2 (qkv bias, tied head) checkpoints
// written by Hugging Face transformers (tests/nn/fixtures/make_hf_reference.py): ward's logits and
// loss match transformers' within 1e-4 relative, every parameter gradient within 1e-3, and a model
// ward saves loads back to the same logits.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <ward/autograd.hpp>
#include <ward/io.hpp>
#include <ward/nn.hpp>
#include <ward/tensor.hpp>

using namespace ward;

namespace {

const std::filesystem::path fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";

/// max |a - b| / max(|b|): the error relative to the reference's scale.
double relative_error(const Tensor<float>& a, const Tensor<float>& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    double scale = std::max(1e-30, double(max(abs(b)).item()));
    return double(max(abs(a - b)).item()) / scale;
}

Tensor<float> next_token_loss_and_logits(nn::CausalLM<float>& model, const Tensor<std::int64_t>& ids, ag::Var<float>& loss) {
    auto r = model.forward(ids);
    const index_t B = ids.size(0), T = ids.size(1), V = model.config.vocab_size;
    ag::Var<float> shifted = ag::slice(r.logits, 1, 0, T - 1);
    Tensor<std::int64_t> targets = ids.slice(1, 1, T).contiguous();
    loss = ag::cross_entropy(ag::reshape(shifted, {B * (T - 1), V}), targets.reshape({B * (T - 1)}));
    return r.logits.value();
}

void check_family(const char* name) {
    auto dir = fixtures / name;
    auto model = nn::load_causal_lm<float>(dir);
    io::SafetensorsFile ref(dir / "reference.safetensors");
    auto ids = ref.get<std::int64_t>("ids");
    ag::Var<float> loss;
    Tensor<float> logits = next_token_loss_and_logits(model, ids, loss);
    double logit_err = relative_error(logits, ref.get<float>("logits"));
    BOOST_TEST(logit_err <= 1e-4, name << ": logits relative error " << logit_err);
    float want_loss = ref.get<float>("loss").item();
    BOOST_TEST(std::abs(loss.value().item() - want_loss) <= 1e-4 * std::abs(want_loss), name << ": loss " << loss.value().item() << " vs " << want_loss);
    loss.backward();
    int checked = 0;
    model.visit(
        [&](const std::string& pname, ag::Var<float>& v) {
            std::string key = "grad." + pname;
            BOOST_REQUIRE_MESSAGE(ref.contains(key), name << ": no reference gradient for " << pname);
            double err = relative_error(v.grad(), ref.get<float>(key));
            BOOST_TEST(err <= 1e-3, name << ": gradient of " << pname << " relative error " << err);
            ++checked;
        },
        "");
    BOOST_TEST(checked == static_cast<int>(ref.size()) - 3);  // every reference gradient was compared

    // Save, reload, same logits (and the same names as the file transformers wrote).
    auto out = std::filesystem::temp_directory_path() / ("ward_hf_roundtrip_" + std::string(name));
    nn::save_pretrained(model, out);
    auto again = nn::load_causal_lm<float>(out);
    BOOST_TEST(relative_error(again.forward(ids).logits.value(), logits) == 0.0);
    io::SafetensorsFile original(dir / "model.safetensors"), saved(out / "model.safetensors");
    BOOST_TEST(saved.names() == original.names(), boost::test_tools::per_element());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nn_hf_parity)

BOOST_AUTO_TEST_CASE(gpt2) { check_family("gpt2"); }
BOOST_AUTO_TEST_CASE(llama_gqa_rope_swiglu) { check_family("llama"); }
BOOST_AUTO_TEST_CASE(qwen2_qkv_bias_tied_head) { check_family("qwen2"); }

BOOST_AUTO_TEST_CASE(bad_directories_are_reported) {
    auto dir = std::filesystem::temp_directory_path() / "ward_hf_bad";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    BOOST_CHECK_THROW(nn::load_causal_lm<float>(dir), io_error);  // no config.json
    std::filesystem::copy_file(fixtures / "llama" / "config.json", dir / "config.json",
                               std::filesystem::copy_options::overwrite_existing);
    BOOST_CHECK_THROW(nn::load_causal_lm<float>(dir), io_error);  // no weights
    // weights of another model: shapes disagree with the config
    std::filesystem::copy_file(fixtures / "qwen2" / "model.safetensors", dir / "model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    BOOST_CHECK_THROW(nn::load_causal_lm<float>(dir), shape_error);
    // an unsupported architecture
    io::write_atomically(dir / "config.json", std::string(R"({"model_type": "bert", "vocab_size": 10})"));
    BOOST_CHECK_THROW(nn::load_causal_lm<float>(dir), parse_error);
}

BOOST_AUTO_TEST_SUITE_END()
