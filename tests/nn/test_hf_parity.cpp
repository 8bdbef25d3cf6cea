// Tiny random-weight GPT-2, Llama (GQA, RoPE, SwiGLU) and Qwen2 (qkv bias, tied head) checkpoints
// written by Hugging Face transformers (tests/nn/fixtures/make_hf_reference.py): ward's logits and
// loss match transformers' within 1e-4 relative, every parameter gradient within 1e-3, and a model
// ward saves loads back to the same logits. Sharded checkpoints (model.safetensors.index.json):
// transformers' (llama_sharded/, make_hf_sharded.py) loads to the same logits, ward's own follow
// transformers' layout and load back bit for bit, a save in one layout removes the other, and an
// index that disagrees with its shards is reported naming the files.
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ward/autograd.hpp>
#include <ward/io.hpp>
#include <ward/nn.hpp>
#include <ward/tensor.hpp>

#include "error_message.hpp"

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

/// A fresh directory under the system's temporary directory, removed with its contents at scope exit.
struct ScratchDir {
    std::filesystem::path path;
    explicit ScratchDir(const std::string& tag) {
        std::string pattern = (std::filesystem::temp_directory_path() / ("ward_hf_" + tag + "_XXXXXX")).string();
        BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

/// Every name in a directory (hidden ones too), sorted.
std::vector<std::string> listing(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

nlohmann::json read_json(const std::filesystem::path& file) {
    std::ifstream in(file);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << file);
    return nlohmann::json::parse(in);
}

/// What a sharded directory of n shards must hold, by Hugging Face's naming.
std::vector<std::string> sharded_listing(std::size_t n) {
    std::vector<std::string> names{"config.json", "model.safetensors.index.json"};
    for (std::size_t k = 1; k <= n; ++k) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, n);
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// Parameter names in the model's order, with their bytes as float32.
std::vector<std::pair<std::string, std::size_t>> parameter_bytes(nn::CausalLM<float>& model) {
    std::vector<std::pair<std::string, std::size_t>> out;
    model.visit([&](const std::string& name, ag::Var<float>& v) { out.emplace_back(name, v.value().numel() * sizeof(float)); }, "");
    return out;
}

/// Multiplies one parameter by f, so that a reload can tell this model's weights from earlier ones.
void scale_parameter(nn::CausalLM<float>& model, const std::string& which, float f) {
    model.visit(
        [&](const std::string& name, ag::Var<float>& v) {
            if (name != which) return;
            std::vector<float> values = v.value().to_vector();
            for (float& x : values) x *= f;
            v = ag::Var<float>(Tensor<float>::from_vector(values, v.shape()), true);
        },
        "");
}

using ward::testing::message_of;

bool mentions(const std::string& message, const std::string& what) { return message.find(what) != std::string::npos; }

/// Writes `config` as dir/config.json and returns the message of the E that loading dir throws.
template <class E>
std::string load_failure(const std::filesystem::path& dir, const nlohmann::json& config) {
    io::write_atomically(dir / "config.json", config.dump(2));
    return message_of<E>([&] { nn::load_causal_lm<float>(dir); });
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

BOOST_AUTO_TEST_CASE(config_sizes_are_checked_before_they_are_used) {
    ScratchDir dir("config_sizes");
    std::filesystem::copy_file(fixtures / "llama" / "model.safetensors", dir.path / "model.safetensors");
    const nlohmann::json good = read_json(fixtures / "llama" / "config.json");
    const std::string config = (dir.path / "config.json").string();
    auto with = [&](const char* key, const nlohmann::json& value) {
        nlohmann::json j = good;
        j[key] = value;
        return j;
    };
    BOOST_REQUIRE(good.contains("head_dim"));  // hidden_size / num_attention_heads is compared with it
    // No attention heads: a parse_error, not a division by zero.
    std::string msg = load_failure<parse_error>(dir.path, with("num_attention_heads", 0));
    BOOST_TEST(mentions(msg, config), msg);
    BOOST_TEST(mentions(msg, "heads 0"), msg);
    msg = load_failure<parse_error>(dir.path, with("num_key_value_heads", 3));
    BOOST_TEST(mentions(msg, config), msg);
    BOOST_TEST(mentions(msg, "do not divide"), msg);
    // RoPE rotates pairs of dimensions: an odd head size loads no model that can run.
    nlohmann::json odd = good;
    odd["hidden_size"] = 36;
    odd["head_dim"] = 9;
    msg = load_failure<parse_error>(dir.path, odd);
    BOOST_TEST(mentions(msg, config + ": transformer config: rotary embeddings need an even head size"), msg);
    // GPT-2's default n_inner, 4 * n_embd, must not overflow.
    nlohmann::json gpt2 = read_json(fixtures / "gpt2" / "config.json");
    gpt2["n_embd"] = std::int64_t(1) << 62;
    gpt2["n_head"] = 1;
    msg = load_failure<parse_error>(dir.path, gpt2);
    BOOST_TEST(mentions(msg, config + ": field 'n_embd' = 4611686018427387904 is too large"), msg);

    // Fields of the wrong type or out of range name the file and the field.
    const std::vector<std::pair<nlohmann::json, std::string>> wrong = {
        {with("vocab_size", "101"), "field 'vocab_size' must be an integer, got \"101\""},
        {with("vocab_size", 101.5), "field 'vocab_size' must be an integer, got 101.5"},
        {with("vocab_size", 1e300), "field 'vocab_size' must be an integer"},
        {with("num_attention_heads", std::uint64_t(1) << 63), "field 'num_attention_heads' = 9223372036854775808 is out of range"},
        {with("tie_word_embeddings", "no"), "field 'tie_word_embeddings' must be true or false, got \"no\""},
        {with("rms_norm_eps", "small"), "field 'rms_norm_eps' must be a number, got \"small\""},
        {with("head_dim", "8"), "field 'head_dim' must be an integer"},
        {with("model_type", 7), "field 'model_type' must be a string, got 7"},
        {with("rope_parameters", {{"rope_type", 1}}), "field 'rope_parameters.rope_type' must be a string, got 1"},
        {with("rope_scaling", {{"type", false}}), "field 'rope_scaling.type' must be a string, got false"},
        {with("eos_token_id", -2), "field 'eos_token_id' = -2 is not a token id"},
        {with("bos_token_id", std::uint64_t(1) << 63), "field 'bos_token_id' = 9223372036854775808 is out of range"},
        {nlohmann::json::array({1, 2}), "the top level is not a JSON object"},
    };
    for (const auto& [j, says] : wrong) {
        msg = load_failure<parse_error>(dir.path, j);
        BOOST_TEST(mentions(msg, config + ": " + says), msg);
    }
    // Several eos ids (Llama 3) or none: the config names no single one.
    io::write_atomically(dir.path / "config.json", with("eos_token_id", nlohmann::json::array({5, 7})).dump());
    BOOST_TEST(nn::config_from_hf(dir.path / "config.json").eos_id == -1);
    BOOST_TEST(nn::config_from_hf(dir.path / "config.json").bos_id == 1);
}

BOOST_AUTO_TEST_CASE(config_sizes_are_checked_against_the_weights_before_the_model_is_allocated) {
    ScratchDir dir("config_vs_weights");
    const auto weights = dir.path / "model.safetensors";
    std::filesystem::copy_file(fixtures / "llama" / "model.safetensors", weights);
    const nlohmann::json good = read_json(fixtures / "llama" / "config.json");
    const std::string config = (dir.path / "config.json").string();
    auto with = [&](std::initializer_list<std::pair<const char*, nlohmann::json>> changes) {
        nlohmann::json j = good;
        for (const auto& [key, value] : changes) j[key] = value;
        return j;
    };
    // Each of these would ask for terabytes (or, for the layers, a loop without end) if the model
    // were built from the config first; the headers refuse them with nothing allocated.
    std::string msg = load_failure<shape_error>(dir.path, with({{"vocab_size", std::int64_t(1) << 40}}));
    BOOST_TEST(mentions(msg, weights.string()), msg);
    BOOST_TEST(mentions(msg, "'model.embed_tokens.weight' has shape (101, 32) but " + config + " implies (1099511627776, 32)"), msg);
    msg = load_failure<shape_error>(dir.path, with({{"hidden_size", std::int64_t(1) << 40}, {"head_dim", std::int64_t(1) << 38}}));
    BOOST_TEST(mentions(msg, "'model.embed_tokens.weight' has shape (101, 32) but " + config + " implies (101, 1099511627776)"), msg);
    msg = load_failure<shape_error>(dir.path, with({{"intermediate_size", std::int64_t(1) << 50}}));
    BOOST_TEST(mentions(msg, "'model.layers.0.mlp.gate_proj.weight' has shape (48, 32) but " + config + " implies (1125899906842624, 32)"), msg);
    msg = load_failure<parse_error>(dir.path, with({{"num_hidden_layers", std::int64_t(1) << 50}}));
    BOOST_TEST(mentions(msg, "checkpoint has no tensor 'model.layers.2.input_layernorm.weight'"), msg);
    // Sizes whose products overflow index_t: refused before any shape is formed.
    msg = load_failure<parse_error>(dir.path, with({{"hidden_size", std::int64_t(1) << 62}, {"num_attention_heads", 1},
                                                    {"num_key_value_heads", 1}, {"head_dim", std::int64_t(1) << 62}}));
    BOOST_TEST(mentions(msg, config), msg);
    BOOST_TEST(mentions(msg, "too large"), msg);
    // The untouched config still loads.
    io::write_atomically(dir.path / "config.json", good.dump(2));
    BOOST_CHECK_NO_THROW(nn::load_causal_lm<float>(dir.path));
}

BOOST_AUTO_TEST_CASE(parameter_shapes_name_every_parameter_the_model_holds) {
    // The loader checks headers against parameter_shapes before it builds the model, so the two
    // must agree name for name and shape for shape, in every family and option.
    for (const char* family : {"gpt2", "llama", "qwen2"})
        for (bool tie : {false, true}) {
            nn::TransformerConfig c = nn::config_from_hf(fixtures / family / "config.json");
            c.tie_embeddings = tie;
            nn::CausalLM<float> model(c, 0);
            std::vector<std::pair<std::string, Shape>> held, listed;
            model.visit([&](const std::string& name, ag::Var<float>& v) { held.emplace_back(name, v.shape()); }, "");
            nn::parameter_shapes(c, [&](const std::string& name, const Shape& shape) { listed.emplace_back(name, shape); });
            BOOST_TEST_REQUIRE(listed.size() == held.size(), family << (tie ? " tied" : " untied"));
            for (std::size_t i = 0; i < held.size(); ++i) {
                BOOST_TEST(listed[i].first == held[i].first, family << " #" << i);
                BOOST_TEST(listed[i].second.str() == held[i].second.str(), held[i].first);
            }
        }
}

BOOST_AUTO_TEST_CASE(llama_sharded_by_transformers_loads_to_the_reference_logits) {
    const auto dir = fixtures / "llama_sharded";
    // The fixture really is sharded: no single file, an index over more than one shard.
    BOOST_REQUIRE(!std::filesystem::exists(dir / "model.safetensors"));
    const auto index = read_json(dir / "model.safetensors.index.json");
    std::set<std::string> shards;
    for (const auto& item : index["weight_map"].items()) shards.insert(item.value().get<std::string>());
    BOOST_TEST(shards.size() >= 2u);
    auto model = nn::load_causal_lm<float>(dir);
    io::SafetensorsFile ref(fixtures / "llama" / "reference.safetensors");
    auto ids = ref.get<std::int64_t>("ids");
    Tensor<float> logits = model.forward(ids).logits.value();
    double err = relative_error(logits, ref.get<float>("logits"));
    BOOST_TEST(err <= 1e-4, "logits relative error " << err);
    // The shards hold llama/'s weights, so the logits are those of the single-file model exactly.
    auto single = nn::load_causal_lm<float>(fixtures / "llama");
    BOOST_TEST(logits.to_vector() == single.forward(ids).logits.value().to_vector());
}

BOOST_AUTO_TEST_CASE(sharded_save_follows_transformers_layout_and_loads_back_bitwise) {
    auto model = nn::load_causal_lm<float>(fixtures / "llama");
    // The embedding and the head (101 x 32 floats, 12928 bytes each) pass the limit: a shard each.
    const std::size_t limit = 10000;
    // A fixed name, like the single-file round trips: check_ward_saved.py loads it in transformers.
    const auto dir = std::filesystem::temp_directory_path() / "ward_hf_roundtrip_llama_sharded";
    std::filesystem::remove_all(dir);
    nn::save_pretrained(model, dir, {.max_shard_bytes = limit});

    auto index = read_json(dir / "model.safetensors.index.json");
    const auto& map = index["weight_map"];
    std::set<std::string> shard_files;
    for (const auto& item : map.items()) shard_files.insert(item.value().get<std::string>());
    const std::size_t n = shard_files.size();
    BOOST_TEST(n >= 3u);
    BOOST_TEST(listing(dir) == sharded_listing(n), boost::test_tools::per_element());

    // Every parameter exactly once: in the map, and in the one shard the map names.
    const auto params = parameter_bytes(model);
    std::size_t total = 0, stored = 0;
    for (const auto& [name, bytes] : params) {
        total += bytes;
        BOOST_TEST_REQUIRE(map.contains(name), "weight_map lacks " << name);
    }
    BOOST_TEST(map.size() == params.size());
    BOOST_TEST(index["metadata"]["total_size"].get<std::size_t>() == total);
    for (const auto& file : shard_files) {
        io::SafetensorsFile shard(dir / file);
        BOOST_TEST(shard.metadata().at("format") == "pt");
        std::vector<std::string> want;
        for (const auto& item : map.items())
            if (item.value() == file) want.push_back(item.key());
        BOOST_TEST(shard.names() == want, boost::test_tools::per_element());  // both sorted
        stored += shard.size();
    }
    BOOST_TEST(stored == params.size());

    // Shards in the model's order, each filled until the next tensor would pass the limit; only a
    // tensor larger than the limit makes a shard larger than it, and it is then alone.
    std::vector<std::size_t> shard_bytes(n + 1, 0), shard_count(n + 1, 0);
    std::size_t previous = 1;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto& [name, bytes] = params[i];
        const std::string file = map[name];
        const std::size_t k = std::stoul(file.substr(6, 5));
        BOOST_TEST_REQUIRE((k == previous || k == previous + 1), name << " is in shard " << k << " after shard " << previous);
        if (k == previous + 1)  // a new shard only when this tensor did not fit in the last one
            BOOST_TEST(shard_bytes[previous] + bytes > limit, name << " would have fitted in shard " << previous);
        shard_bytes[k] += bytes;
        ++shard_count[k];
        previous = k;
    }
    BOOST_TEST(previous == n);
    for (std::size_t k = 1; k <= n; ++k)
        BOOST_TEST((shard_bytes[k] <= limit || shard_count[k] == 1), "shard " << k << " holds " << shard_bytes[k] << " bytes");
    BOOST_TEST(map["model.embed_tokens.weight"] != map["lm_head.weight"]);

    auto again = nn::load_causal_lm<float>(dir);
    io::SafetensorsFile ref(fixtures / "llama" / "reference.safetensors");
    auto ids = ref.get<std::int64_t>("ids");
    BOOST_TEST(again.forward(ids).logits.value().to_vector() == model.forward(ids).logits.value().to_vector());
}

BOOST_AUTO_TEST_CASE(saving_one_layout_over_another_leaves_no_stale_weights) {
    ScratchDir dir("relayout");
    auto model = nn::load_causal_lm<float>(fixtures / "llama");
    io::SafetensorsFile ref(fixtures / "llama" / "reference.safetensors");
    auto ids = ref.get<std::int64_t>("ids");
    auto logits_of = [&](nn::CausalLM<float>& m) { return m.forward(ids).logits.value().to_vector(); };
    auto shards_in_index = [&] {
        const auto index = read_json(dir.path / "model.safetensors.index.json");
        std::set<std::string> files;
        for (const auto& item : index["weight_map"].items()) files.insert(item.value().get<std::string>());
        return files.size();
    };
    const std::vector<std::string> single{"config.json", "model.safetensors"};
    const auto original = logits_of(model);

    nn::save_pretrained(model, dir.path, {.max_shard_bytes = 10000});
    const std::size_t many = shards_in_index();
    BOOST_TEST(listing(dir.path) == sharded_listing(many), boost::test_tools::per_element());

    // Single over sharded: the index and every shard go; the new weights load.
    scale_parameter(model, "model.norm.weight", 0.5f);
    const auto halved = logits_of(model);
    BOOST_TEST_REQUIRE(halved != original);
    nn::save_pretrained(model, dir.path);
    BOOST_TEST(listing(dir.path) == single, boost::test_tools::per_element());
    auto loaded = nn::load_causal_lm<float>(dir.path);
    BOOST_TEST(logits_of(loaded) == halved);

    // Sharded over single: model.safetensors (which the loader would prefer) goes.
    scale_parameter(model, "model.norm.weight", 3.0f);
    const auto tripled = logits_of(model);
    BOOST_TEST_REQUIRE(tripled != halved);
    nn::save_pretrained(model, dir.path, {.max_shard_bytes = 40000});
    const std::size_t few = shards_in_index();
    BOOST_TEST_REQUIRE(few < many);
    BOOST_TEST(listing(dir.path) == sharded_listing(few), boost::test_tools::per_element());
    loaded = nn::load_causal_lm<float>(dir.path);
    BOOST_TEST(logits_of(loaded) == tripled);

    // Sharded over sharded of another count: the shards named ...-of-<few> go.
    nn::save_pretrained(model, dir.path, {.max_shard_bytes = 10000});
    BOOST_TEST(listing(dir.path) == sharded_listing(many), boost::test_tools::per_element());
    loaded = nn::load_causal_lm<float>(dir.path);
    BOOST_TEST(logits_of(loaded) == tripled);

    // A limit the whole model fits in writes one model.safetensors, as transformers does.
    nn::save_pretrained(model, dir.path, {.max_shard_bytes = std::size_t(1) << 30});
    BOOST_TEST(listing(dir.path) == single, boost::test_tools::per_element());
    loaded = nn::load_causal_lm<float>(dir.path);
    BOOST_TEST(logits_of(loaded) == tripled);
}

BOOST_AUTO_TEST_CASE(an_index_that_disagrees_with_its_shards_is_reported_naming_the_files) {
    ScratchDir dir("bad_index");
    const auto fixture = fixtures / "llama_sharded";
    const auto index = dir.path / "model.safetensors.index.json";
    auto reset = [&] {
        for (const auto& e : std::filesystem::directory_iterator(dir.path)) std::filesystem::remove(e.path());
        for (const auto& e : std::filesystem::directory_iterator(fixture))
            std::filesystem::copy_file(e.path(), dir.path / e.path().filename());
    };
    auto load = [&] { nn::load_causal_lm<float>(dir.path); };
    auto rewrite = [&](const nlohmann::json& j) { io::write_atomically(index, j.dump(2)); };
    reset();
    BOOST_REQUIRE_NO_THROW(load());  // the copy itself is sound
    const nlohmann::json good = read_json(index);
    const std::string first = "model-00001-of-00003.safetensors", second = "model-00002-of-00003.safetensors";
    std::string in_first;  // a tensor the first shard holds
    for (const auto& item : good["weight_map"].items())
        if (item.value() == first) in_first = item.key();
    BOOST_REQUIRE(!in_first.empty());

    // The index puts a tensor in a shard that does not hold it.
    nlohmann::json moved = good;
    moved["weight_map"][in_first] = second;
    rewrite(moved);
    std::string msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    BOOST_TEST(mentions(msg, "'" + in_first + "'"), msg);
    BOOST_TEST(mentions(msg, second), msg);

    // A shard holds a tensor the index leaves out.
    nlohmann::json dropped = good;
    dropped["weight_map"].erase(in_first);
    rewrite(dropped);
    msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, (dir.path / first).string()), msg);
    BOOST_TEST(mentions(msg, "'" + in_first + "'"), msg);

    // A shard the index names is missing.
    rewrite(good);
    std::filesystem::remove(dir.path / second);
    msg = message_of<io_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    BOOST_TEST(mentions(msg, second), msg);
    reset();

    // Malformed indexes: not JSON, no weight_map object, a file name that is not a string, a path
    // out of the directory.
    io::write_atomically(index, std::string(R"({"weight_map": {"lm_head.weight": )"));
    msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    rewrite({{"metadata", {{"total_size", 1}}}, {"weight_map", {1, 2}}});
    msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    BOOST_TEST(mentions(msg, "weight_map"), msg);
    nlohmann::json number = good;
    number["weight_map"][in_first] = 1;
    rewrite(number);
    msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    BOOST_TEST(mentions(msg, "'" + in_first + "'"), msg);
    nlohmann::json outside = good;
    outside["weight_map"][in_first] = "../" + first;
    rewrite(outside);
    msg = message_of<parse_error>(load);
    BOOST_TEST(mentions(msg, index.string()), msg);
    BOOST_TEST(mentions(msg, "../" + first), msg);

    // Beside a model.safetensors the index is not read: the single file wins, as in transformers.
    std::filesystem::copy_file(fixtures / "llama" / "model.safetensors", dir.path / "model.safetensors");
    BOOST_CHECK_NO_THROW(load());
}

BOOST_AUTO_TEST_CASE(stop_tokens_come_from_generation_config_then_config) {
    ScratchDir dir("stop_tokens");
    auto write = [&](const char* name, const std::string& text) { std::ofstream(dir.path / name) << text; };
    BOOST_TEST(nn::stop_token_ids(dir.path).empty());  // neither file: no stop token
    write("config.json", R"({"model_type": "llama", "eos_token_id": 2})");
    BOOST_TEST(nn::stop_token_ids(dir.path) == std::vector<std::int64_t>{2});
    // Llama-3 Instruct's generation_config.json names two end tokens, and wins over config.json.
    write("generation_config.json", R"({"bos_token_id": 128000, "eos_token_id": [128001, 128009], "do_sample": true})");
    BOOST_TEST(nn::stop_token_ids(dir.path) == (std::vector<std::int64_t>{128001, 128009}));
    write("generation_config.json", R"({"temperature": 0.6})");  // no eos here: config.json's
    BOOST_TEST(nn::stop_token_ids(dir.path) == std::vector<std::int64_t>{2});
    write("generation_config.json", R"({"eos_token_id": ["</s>"]})");
    const std::string msg = ward::testing::message_of<parse_error>([&] { nn::stop_token_ids(dir.path); });
    BOOST_TEST(msg.find("generation_config.json") != std::string::npos, msg);
    BOOST_TEST(msg.find("eos_token_id") != std::string::npos, msg);
    write("generation_config.json", R"({"eos_token_id": -1})");
    BOOST_CHECK_THROW(nn::stop_token_ids(dir.path), parse_error);
}

BOOST_AUTO_TEST_SUITE_END()
