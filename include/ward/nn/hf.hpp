#pragma once
// Hugging Face model directories: config.json + model.safetensors (or sharded, with
// model.safetensors.index.json). load_causal_lm reads GPT2LMHeadModel, LlamaForCausalLM and
// Qwen2ForCausalLM checkpoints into a CausalLM with the same parameter names; save_pretrained
// writes a directory that transformers loads unchanged.

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/nn/transformer.hpp"

namespace ward::nn {

namespace detail {
inline nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw parse_error(path.string() + ": " + e.what());
    }
}
template <class V>
V field(const nlohmann::json& j, const char* key, const std::filesystem::path& file) {
    if (!j.contains(key) || j[key].is_null()) throw parse_error(file.string() + ": missing field '" + key + "'");
    try {
        return j[key].get<V>();
    } catch (const nlohmann::json::exception&) {
        throw parse_error(file.string() + ": field '" + key + "' has the wrong type");
    }
}
template <class V>
V field_or(const nlohmann::json& j, const char* key, V fallback) {
    return j.contains(key) && !j[key].is_null() ? j[key].get<V>() : fallback;
}
}  // namespace detail

/// The model's shape from a Hugging Face config.json (model_type gpt2, llama, qwen2 or mistral).
inline TransformerConfig config_from_hf(const std::filesystem::path& file) {
    nlohmann::json j = detail::read_json(file);
    TransformerConfig c;
    std::string type = detail::field_or<std::string>(j, "model_type", "");
    if (type == "gpt2") {
        c.family = Family::gpt2;
        c.vocab_size = detail::field<index_t>(j, "vocab_size", file);
        c.hidden = detail::field<index_t>(j, "n_embd", file);
        c.layers = detail::field<index_t>(j, "n_layer", file);
        c.heads = c.kv_heads = detail::field<index_t>(j, "n_head", file);
        c.intermediate = detail::field_or<index_t>(j, "n_inner", 4 * c.hidden);
        c.max_positions = detail::field<index_t>(j, "n_positions", file);
        c.norm_eps = detail::field_or<double>(j, "layer_norm_epsilon", 1e-5);
        c.tie_embeddings = detail::field_or<bool>(j, "tie_word_embeddings", true);
        std::string act = detail::field_or<std::string>(j, "activation_function", "gelu_new");
        if (act != "gelu_new" && act != "gelu_pytorch_tanh")
            throw parse_error(file.string() + ": activation_function '" + act + "' is not supported (ward's GPT-2 uses tanh GELU)");
    } else if (type == "llama" || type == "qwen2" || type == "mistral") {
        c.family = Family::llama;
        c.vocab_size = detail::field<index_t>(j, "vocab_size", file);
        c.hidden = detail::field<index_t>(j, "hidden_size", file);
        c.layers = detail::field<index_t>(j, "num_hidden_layers", file);
        c.heads = detail::field<index_t>(j, "num_attention_heads", file);
        c.kv_heads = detail::field_or<index_t>(j, "num_key_value_heads", c.heads);
        c.intermediate = detail::field<index_t>(j, "intermediate_size", file);
        c.max_positions = detail::field_or<index_t>(j, "max_position_embeddings", 2048);
        c.norm_eps = detail::field_or<double>(j, "rms_norm_eps", 1e-6);
        c.rope_theta = detail::field_or<double>(j, "rope_theta", 10000.0);
        // transformers 5 writes RoPE settings as rope_parameters {rope_type, rope_theta, ...}.
        if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
            const auto& rp = j["rope_parameters"];
            std::string kind = detail::field_or<std::string>(rp, "rope_type", "default");
            if (kind != "default")
                throw parse_error(file.string() + ": rope_type '" + kind + "' is not supported (only default RoPE)");
            c.rope_theta = detail::field_or<double>(rp, "rope_theta", c.rope_theta);
        }
        c.tie_embeddings = detail::field_or<bool>(j, "tie_word_embeddings", false);
        c.qkv_bias = type == "qwen2" || detail::field_or<bool>(j, "attention_bias", false);
        std::string act = detail::field_or<std::string>(j, "hidden_act", "silu");
        if (act != "silu") throw parse_error(file.string() + ": hidden_act '" + act + "' is not supported (SwiGLU uses silu)");
        if (j.contains("head_dim") && !j["head_dim"].is_null() && j["head_dim"].get<index_t>() != c.hidden / c.heads)
            throw parse_error(file.string() + ": head_dim other than hidden_size / num_attention_heads is not supported");
        if (j.contains("rope_scaling") && j["rope_scaling"].is_object() &&
            detail::field_or<std::string>(j["rope_scaling"], "rope_type", detail::field_or<std::string>(j["rope_scaling"], "type", "default")) != "default")
            throw parse_error(file.string() + ": rope_scaling is not supported (only default RoPE)");
    } else {
        throw parse_error(file.string() + ": model_type '" + type + "' is not supported (gpt2, llama, qwen2, mistral)");
    }
    if (j.contains("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_id = j["bos_token_id"].get<std::int64_t>();
    if (j.contains("eos_token_id") && j["eos_token_id"].is_number_integer()) c.eos_id = j["eos_token_id"].get<std::int64_t>();
    c.validate();
    return c;
}

/// The config.json Hugging Face needs to rebuild this model.
inline nlohmann::json config_to_hf(const TransformerConfig& c) {
    nlohmann::json j;
    if (c.family == Family::gpt2) {
        j = {{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}, {"vocab_size", c.vocab_size},
             {"n_embd", c.hidden}, {"n_layer", c.layers}, {"n_head", c.heads}, {"n_inner", c.intermediate},
             {"n_positions", c.max_positions}, {"layer_norm_epsilon", c.norm_eps}, {"activation_function", "gelu_new"},
             {"tie_word_embeddings", c.tie_embeddings}};
    } else {
        j = {{"model_type", c.qkv_bias ? "qwen2" : "llama"},
             {"architectures", {c.qkv_bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
             {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden}, {"num_hidden_layers", c.layers},
             {"num_attention_heads", c.heads}, {"num_key_value_heads", c.kv_heads}, {"intermediate_size", c.intermediate},
             {"max_position_embeddings", c.max_positions}, {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta},
             {"tie_word_embeddings", c.tie_embeddings}, {"hidden_act", "silu"}};
    }
    if (c.bos_id >= 0) j["bos_token_id"] = c.bos_id;
    if (c.eos_id >= 0) j["eos_token_id"] = c.eos_id;
    return j;
}

namespace detail {
/// Tensors a checkpoint may carry that are not parameters (causal-mask buffers, RoPE caches, a tied head).
inline bool is_known_buffer(const std::string& name, const TransformerConfig& c) {
    auto ends_with = [&](const char* s) {
        std::string t(s);
        return name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0;
    };
    return ends_with(".attn.bias") || ends_with(".attn.masked_bias") || ends_with("rotary_emb.inv_freq") ||
           (c.tie_embeddings && name == "lm_head.weight");
}
}  // namespace detail

/// Loads a Hugging Face model directory. Every parameter must be present with its shape; tensors
/// that are neither parameters nor known buffers are an error (a sign of another architecture).
template <FloatElement T, Device D = cpu>
CausalLM<T, D> load_causal_lm(const std::filesystem::path& dir) {
    TransformerConfig c = config_from_hf(dir / "config.json");
    CausalLM<T, D> model(c, 0);
    // Which file holds which tensor.
    std::vector<std::filesystem::path> files;
    if (std::filesystem::exists(dir / "model.safetensors")) {
        files.push_back(dir / "model.safetensors");
    } else if (std::filesystem::exists(dir / "model.safetensors.index.json")) {
        auto index = detail::read_json(dir / "model.safetensors.index.json");
        if (!index.contains("weight_map") || !index["weight_map"].is_object())
            throw parse_error((dir / "model.safetensors.index.json").string() + ": no weight_map");
        std::set<std::string> shards;
        for (const auto& item : index["weight_map"].items()) shards.insert(item.value().template get<std::string>());
        for (const auto& s : shards) files.push_back(dir / s);
    } else {
        throw io_error(dir.string() + ": no model.safetensors or model.safetensors.index.json");
    }
    std::map<std::string, std::shared_ptr<io::SafetensorsFile>> where;
    for (const auto& f : files) {
        auto file = std::make_shared<io::SafetensorsFile>(f);
        for (const auto& n : file->names()) where[n] = file;
    }
    std::set<std::string> used;
    auto find = [&](const std::string& name) -> std::pair<std::string, io::SafetensorsFile*> {
        if (auto it = where.find(name); it != where.end()) return {name, it->second.get()};
        // GPT2Model checkpoints (and some GPT2LMHeadModel ones) have no "transformer." prefix.
        const std::string prefix = "transformer.";
        if (name.rfind(prefix, 0) == 0)
            if (auto it = where.find(name.substr(prefix.size())); it != where.end()) return {it->first, it->second.get()};
        throw parse_error(dir.string() + ": checkpoint has no tensor '" + name + "'");
    };
    model.visit(
        [&](const std::string& name, Var<T, D>& v) {
            auto [stored, file] = find(name);
            const auto& info = file->info(stored);
            if (!(info.shape == v.shape()))
                throw shape_error(file->path().string() + ": tensor '" + stored + "' has shape " + info.shape.str() +
                                  " but the config implies " + v.shape().str());
            v = Var<T, D>(file->template get_as<T, D>(stored), true);
            used.insert(stored);
        },
        "");
    for (const auto& [name, file] : where)
        if (!used.count(name) && !detail::is_known_buffer(name, c))
            throw parse_error(file->path().string() + ": unexpected tensor '" + name + "' for a " +
                              (c.family == Family::gpt2 ? "GPT-2" : "Llama-style") + " model");
    return model;
}

/// Writes config.json and model.safetensors (atomically) with Hugging Face's names.
template <FloatElement T, Device D>
void save_pretrained(CausalLM<T, D>& model, const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    io::SafetensorsWriter w;
    model.visit([&](const std::string& name, Var<T, D>& v) { w.add(name, v.value()); }, "");
    w.add_metadata("format", "pt");
    w.save(dir / "model.safetensors");
    io::write_atomically(dir / "config.json", config_to_hf(model.config).dump(2) + "\n");
}

}  // namespace ward::nn
