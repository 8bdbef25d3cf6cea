// Loading a checkpoint holds one copy of the weights: a sharded Llama-style checkpoint of 117M
// parameters loads with a peak of resident memory at most 1.1 times the weights in the target dtype
// (bf16 as stored, and f32 converted from bf16), measured by a fresh process (load_probe.cpp).
// Under AddressSanitizer resident memory means something else (shadow, quarantine): skipped there.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include <ward/io.hpp>
#include <ward/nn.hpp>

#include "skip.hpp"
#include "temp_dir.hpp"

using namespace ward;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

nn::TransformerConfig llama_config() {
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    c.vocab_size = 32000;
    c.hidden = 1024;
    c.layers = 4;
    c.heads = 16;
    c.kv_heads = 16;
    c.intermediate = 2816;
    c.max_positions = 256;
    c.tie_embeddings = false;  // as in Llama-2
    return c;
}

std::size_t parameter_count(const nn::TransformerConfig& c) {
    std::size_t n = 0;
    nn::parameter_shapes(c, [&](const std::string&, const Shape& s) { n += static_cast<std::size_t>(s.numel()); });
    return n;
}

/// Peak resident bytes added by load_causal_lm(dir) in the dtype, measured by load_probe (built beside
/// this test) in a fresh process, or nullopt where /proc cannot say (the probe exits 77).
std::optional<double> load_peak_bytes(const std::filesystem::path& dir, const std::string& dtype, std::size_t params) {
    const auto probe = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "load_probe";
    const std::string command = "'" + probe.string() + "' '" + dir.string() + "' " + dtype;
    FILE* out = ::popen(command.c_str(), "r");
    BOOST_REQUIRE(out);
    std::size_t loaded = 0;
    long long added = -1;
    const int read = std::fscanf(out, "%zu %lld", &loaded, &added);
    const int status = ::pclose(out);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return std::nullopt;
    BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0 && read == 2, command << " failed");
    BOOST_REQUIRE_EQUAL(loaded, params);
    return double(added);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nn_load_memory)

BOOST_AUTO_TEST_CASE(a_sharded_checkpoint_loads_with_one_copy_of_the_weights_resident) {
    if (sanitized) return ward_test::skip("resident memory under AddressSanitizer is not the program's own");
    ward_test::TempDir dir("ward-load-memory");
    const auto c = llama_config();
    const std::size_t params = parameter_count(c);
    BOOST_REQUIRE_GT(params, 100'000'000u);
    {
        nn::CausalLM<bf16> model(c, 3);
        nn::save_pretrained(model, dir.path, {.max_shard_bytes = 100u << 20});  // 3 shards of bf16
    }
    BOOST_REQUIRE(std::filesystem::exists(dir.path / "model.safetensors.index.json"));

    const auto bf16_peak = load_peak_bytes(dir.path, "bf16", params);
    if (!bf16_peak) return ward_test::skip("/proc/self/status or clear_refs is not available");
    const double bf16_bytes = double(params) * 2, f32_bytes = double(params) * 4;
    BOOST_TEST_MESSAGE("bf16 load: peak added " << *bf16_peak / 1e6 << " MB for " << bf16_bytes / 1e6 << " MB of weights");
    BOOST_TEST(*bf16_peak <= 1.1 * bf16_bytes);
    BOOST_TEST(*bf16_peak >= 0.9 * bf16_bytes);  // the measurement sees the weights at all

    const auto f32_peak = load_peak_bytes(dir.path, "f32", params);
    BOOST_REQUIRE(f32_peak);
    BOOST_TEST_MESSAGE("f32 load: peak added " << *f32_peak / 1e6 << " MB for " << f32_bytes / 1e6 << " MB of weights");
    BOOST_TEST(*f32_peak <= 1.1 * f32_bytes);
    BOOST_TEST(*f32_peak >= 0.9 * f32_bytes);
}

BOOST_AUTO_TEST_CASE(an_uninitialised_model_is_filled_exactly_by_the_loader) {
    // The loader starts from unwritten memory: every value must come from the file.
    ward_test::TempDir dir("ward-load-exact");
    nn::TransformerConfig c = llama_config();
    c.vocab_size = 300;
    c.layers = 2;
    c.hidden = 64;
    c.heads = c.kv_heads = 4;
    c.intermediate = 96;
    nn::CausalLM<bf16> model(c, 5);
    nn::save_pretrained(model, dir.path);
    auto bf = nn::load_causal_lm<bf16>(dir.path);
    auto f = nn::load_causal_lm<float>(dir.path);
    std::size_t checked = 0;
    std::map<std::string, Tensor<bf16>> saved;
    model.visit([&](const std::string& name, ag::Var<bf16>& v) { saved[name] = v.value(); }, "");
    bf.visit([&](const std::string& name, ag::Var<bf16>& v) {
        const auto a = saved.at(name).to_vector(), b = v.value().to_vector();
        BOOST_REQUIRE_EQUAL(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) BOOST_REQUIRE(a[i] == b[i]);
        checked += a.size();
    }, "");
    f.visit([&](const std::string& name, ag::Var<float>& v) {
        const auto a = saved.at(name).to_vector();
        const auto b = v.value().to_vector();
        for (std::size_t i = 0; i < a.size(); ++i) BOOST_REQUIRE_EQUAL(float(a[i]), b[i]);
    }, "");
    BOOST_TEST(checked == parameter_count(c));
}

BOOST_AUTO_TEST_SUITE_END()
