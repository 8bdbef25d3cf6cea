#pragma once
// Hugging Face model directories: config.json + model.safetensors (or sharded, with
// model.safetensors.index.json). load_causal_lm reads GPT2LMHeadModel, LlamaForCausalLM and
// Qwen2ForCausalLM checkpoints into a CausalLM with the same parameter names; save_pretrained
// writes a directory that transformers loads unchanged, in one file or in shards.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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
inline const std::string single_file = "model.safetensors";
inline const std::string index_file = "model.safetensors.index.json";

/// Hugging Face's name for shard k (from 1) of n.
inline std::string shard_name(std::size_t k, std::size_t n) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, n);
    return name;
}
/// Whether a file name is a shard name of any count (a digit wherever the pattern has a 0).
inline bool is_shard_name(const std::string& f) {
    const std::string pattern = "model-00000-of-00000.safetensors";
    if (f.size() != pattern.size()) return false;
    for (std::size_t i = 0; i < f.size(); ++i)
        if (pattern[i] == '0' ? (f[i] < '0' || f[i] > '9') : f[i] != pattern[i]) return false;
    return true;
}

/// The weight_map of a model.safetensors.index.json (tensor name -> shard file name): parse_error
/// naming the file when it is not JSON, has no weight_map object, or maps a tensor to anything but
/// the name of a file next to it.
inline std::map<std::string, std::string> read_weight_map(const std::filesystem::path& file) {
    nlohmann::json index = read_json(file);
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw parse_error(file.string() + ": no weight_map object");
    std::map<std::string, std::string> map;
    for (const auto& item : index["weight_map"].items()) {
        const auto& shard = item.value();
        if (!shard.is_string())
            throw parse_error(file.string() + ": weight_map entry '" + item.key() + "' is " + shard.type_name() +
                              ", not a shard file name");
        std::string name = shard.get<std::string>();
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
            throw parse_error(file.string() + ": weight_map entry '" + item.key() + "' names '" + name +
                              "', which is not a file in the index's directory");
        map.emplace(item.key(), std::move(name));
    }
    return map;
}

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

/// Loads a Hugging Face model directory: config.json and model.safetensors, or the shards that
/// model.safetensors.index.json lists. Where both are present model.safetensors wins, as in
/// transformers (save_pretrained removes the layout it did not write). Every parameter must be
/// present with its shape; tensors that are neither parameters nor known buffers are an error (a
/// sign of another architecture). The index and its shards must agree: each tensor in the shard
/// the index names (parse_error), each shard present (io_error), no shard holding a tensor the
/// index puts elsewhere or leaves out (parse_error).
template <FloatElement T, Device D = cpu>
CausalLM<T, D> load_causal_lm(const std::filesystem::path& dir) {
    TransformerConfig c = config_from_hf(dir / "config.json");
    CausalLM<T, D> model(c, 0);
    // Which file holds which tensor.
    std::map<std::string, std::shared_ptr<io::SafetensorsFile>> where;
    if (std::filesystem::exists(dir / detail::single_file)) {
        auto file = std::make_shared<io::SafetensorsFile>(dir / detail::single_file);
        for (const auto& n : file->names()) where[n] = file;
    } else if (std::filesystem::exists(dir / detail::index_file)) {
        const std::filesystem::path index = dir / detail::index_file;
        std::map<std::string, std::shared_ptr<io::SafetensorsFile>> shards;
        for (const auto& [name, shard] : detail::read_weight_map(index)) {
            auto& file = shards[shard];
            if (!file) {
                if (!std::filesystem::exists(dir / shard))
                    throw io_error(index.string() + ": shard '" + shard + "' (with tensor '" + name + "') is missing");
                file = std::make_shared<io::SafetensorsFile>(dir / shard);
            }
            if (!file->contains(name))
                throw parse_error(index.string() + ": tensor '" + name + "' is not in shard '" + shard +
                                  "', where the index puts it");
            where[name] = file;
        }
        for (const auto& [shard, file] : shards)
            for (const auto& n : file->names())
                if (auto it = where.find(n); it == where.end() || it->second != file)
                    throw parse_error(file->path().string() + ": tensor '" + n + "' is not placed in this shard by " +
                                      index.string());
    } else {
        throw io_error(dir.string() + ": no " + detail::single_file + " or " + detail::index_file);
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

/// How save_pretrained lays out the weights.
struct SaveOptions {
    /// The most bytes of tensor data in one file; 0 writes one model.safetensors. With a limit the
    /// tensors go, in the model's order, into model-00001-of-0000N.safetensors ... listed by
    /// model.safetensors.index.json, a new shard starting when the next tensor would pass the limit
    /// (so one larger than the limit gets a shard of its own): transformers' max_shard_size. As in
    /// transformers, weights that fit in one shard are written as model.safetensors.
    std::size_t max_shard_bytes = 0;
};

/// Writes config.json and the weights with Hugging Face's names, atomically as a whole: the files
/// are written into a fresh directory beside `dir`, which then takes its place in one rename
/// (io::write_directory_atomically), so a kill at any moment leaves the old checkpoint or the new
/// one, complete, whether one file or sharded. Other files in `dir` (a tokenizer, a README) are
/// kept; weights of the other layout (model.safetensors, an index, shards of another count) are
/// not, so the loader cannot pick up old weights.
template <FloatElement T, Device D>
void save_pretrained(CausalLM<T, D>& model, const std::filesystem::path& dir, const SaveOptions& options = {}) {
    std::vector<io::SafetensorsWriter> shards(1);
    std::vector<std::pair<std::string, std::size_t>> placed;  // tensor name, its shard
    std::size_t filled = 0, total = 0;
    model.visit(
        [&](const std::string& name, Var<T, D>& v) {
            const std::size_t bytes = static_cast<std::size_t>(v.value().numel()) * sizeof(T);
            if (options.max_shard_bytes > 0 && shards.back().size() > 0 && filled + bytes > options.max_shard_bytes) {
                shards.emplace_back();
                filled = 0;
            }
            shards.back().add(name, v.value());
            placed.emplace_back(name, shards.size() - 1);
            filled += bytes;
            total += bytes;
        },
        "");
    for (auto& shard : shards) shard.add_metadata("format", "pt");
    auto write = [&](const std::filesystem::path& out) {
        if (shards.size() == 1) {
            shards[0].save(out / detail::single_file);
        } else {
            for (std::size_t k = 0; k < shards.size(); ++k) shards[k].save(out / detail::shard_name(k + 1, shards.size()));
            nlohmann::json index;
            index["metadata"]["total_size"] = total;
            index["weight_map"] = nlohmann::json::object();
            for (const auto& [name, k] : placed) index["weight_map"][name] = detail::shard_name(k + 1, shards.size());
            io::write_atomically(out / detail::index_file, index.dump(2) + "\n");
        }
        io::write_atomically(out / "config.json", config_to_hf(model.config).dump(2) + "\n");
    };
    auto keep = [](const std::string& f) { return f != detail::single_file && f != detail::index_file && !detail::is_shard_name(f); };
    io::write_directory_atomically(dir, write, keep);
}

}  // namespace ward::nn
