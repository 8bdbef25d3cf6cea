#pragma once
// Hugging Face model directories: config.json + model.safetensors (or sharded, with
// model.safetensors.index.json). load_causal_lm reads GPT2LMHeadModel, LlamaForCausalLM and
// Qwen2ForCausalLM checkpoints into a CausalLM with the same parameter names; save_pretrained
// writes a directory that transformers loads unchanged, in one file or in shards.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/json_field.hpp"
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
/// A field of config.json: parse_error naming the file and field where it is missing (field) or of
/// the wrong type (both), never nlohmann's type_error.
template <class V>
V field(const nlohmann::json& j, const char* key, const std::filesystem::path& file, std::string_view prefix = {}) {
    return io::json_field<V>(j, key, file.string(), prefix);
}
template <class V>
V field_or(const nlohmann::json& j, const char* key, V fallback, const std::filesystem::path& file,
           std::string_view prefix = {}) {
    return io::json_field_or<V>(j, key, std::move(fallback), file.string(), prefix);
}
}  // namespace detail

/// The token ids that end generation, as transformers reads them: generation_config.json's
/// eos_token_id (one id or a list, e.g. Llama-3's two end tokens), else config.json's; empty when
/// neither names one. A field of the wrong type, or an id below 0, is a parse_error naming the file.
inline std::vector<std::int64_t> stop_token_ids(const std::filesystem::path& dir) {
    for (const char* name : {"generation_config.json", "config.json"}) {
        const auto file = dir / name;
        if (!std::filesystem::exists(file)) continue;
        const nlohmann::json j = detail::read_json(file);
        if (!j.is_object()) throw parse_error(file.string() + ": expected a JSON object");
        auto it = j.find("eos_token_id");
        if (it == j.end() || it->is_null()) continue;
        std::vector<std::int64_t> ids;
        auto take = [&](const nlohmann::json& v) {
            if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
                throw parse_error(file.string() + ": eos_token_id must be a token id >= 0 or a list of them, got " + v.dump());
            ids.push_back(v.get<std::int64_t>());
        };
        if (it->is_array()) {
            for (const auto& v : *it) take(v);
        } else {
            take(*it);
        }
        return ids;
    }
    return {};
}

/// The model's shape from a Hugging Face config.json (model_type gpt2, llama, qwen2 or mistral).
/// Every size is checked (validate()) before any is used; a missing field, or one of the wrong type
/// or out of range, is a parse_error naming the file and the field.
inline TransformerConfig config_from_hf(const std::filesystem::path& file) {
    nlohmann::json j = detail::read_json(file);
    if (!j.is_object()) throw parse_error(file.string() + ": the top level is not a JSON object");
    TransformerConfig c;
    std::string type = detail::field_or<std::string>(j, "model_type", "", file);
    if (type == "gpt2") {
        c.family = Family::gpt2;
        c.vocab_size = detail::field<index_t>(j, "vocab_size", file);
        c.hidden = detail::field<index_t>(j, "n_embd", file);
        c.layers = detail::field<index_t>(j, "n_layer", file);
        c.heads = c.kv_heads = detail::field<index_t>(j, "n_head", file);
        if (auto inner = io::json_field_opt<index_t>(j, "n_inner", file.string())) {
            c.intermediate = *inner;
        } else {  // transformers' default, 4 * n_embd
            if (c.hidden > std::numeric_limits<index_t>::max() / 4)
                throw parse_error(file.string() + ": field 'n_embd' = " + std::to_string(c.hidden) + " is too large");
            c.intermediate = 4 * c.hidden;
        }
        c.max_positions = detail::field<index_t>(j, "n_positions", file);
        c.norm_eps = detail::field_or<double>(j, "layer_norm_epsilon", 1e-5, file);
        c.tie_embeddings = detail::field_or<bool>(j, "tie_word_embeddings", true, file);
        std::string act = detail::field_or<std::string>(j, "activation_function", "gelu_new", file);
        if (act != "gelu_new" && act != "gelu_pytorch_tanh")
            throw parse_error(file.string() + ": activation_function '" + act + "' is not supported (ward's GPT-2 uses tanh GELU)");
    } else if (type == "llama" || type == "qwen2" || type == "mistral") {
        c.family = Family::llama;
        c.vocab_size = detail::field<index_t>(j, "vocab_size", file);
        c.hidden = detail::field<index_t>(j, "hidden_size", file);
        c.layers = detail::field<index_t>(j, "num_hidden_layers", file);
        c.heads = detail::field<index_t>(j, "num_attention_heads", file);
        c.kv_heads = detail::field_or<index_t>(j, "num_key_value_heads", c.heads, file);
        c.intermediate = detail::field<index_t>(j, "intermediate_size", file);
        c.max_positions = detail::field_or<index_t>(j, "max_position_embeddings", 2048, file);
        c.norm_eps = detail::field_or<double>(j, "rms_norm_eps", 1e-6, file);
        c.rope_theta = detail::field_or<double>(j, "rope_theta", 10000.0, file);
        // transformers 5 writes RoPE settings as rope_parameters {rope_type, rope_theta, ...}.
        if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
            const auto& rp = j["rope_parameters"];
            std::string kind = detail::field_or<std::string>(rp, "rope_type", "default", file, "rope_parameters.");
            if (kind != "default")
                throw parse_error(file.string() + ": rope_type '" + kind + "' is not supported (only default RoPE)");
            c.rope_theta = detail::field_or<double>(rp, "rope_theta", c.rope_theta, file, "rope_parameters.");
        }
        c.tie_embeddings = detail::field_or<bool>(j, "tie_word_embeddings", false, file);
        c.qkv_bias = type == "qwen2" || detail::field_or<bool>(j, "attention_bias", false, file);
        std::string act = detail::field_or<std::string>(j, "hidden_act", "silu", file);
        if (act != "silu") throw parse_error(file.string() + ": hidden_act '" + act + "' is not supported (SwiGLU uses silu)");
        if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
            const auto& rs = j["rope_scaling"];
            const std::string kind = detail::field_or<std::string>(
                rs, "rope_type", detail::field_or<std::string>(rs, "type", "default", file, "rope_scaling."), file, "rope_scaling.");
            if (kind != "default") throw parse_error(file.string() + ": rope_scaling is not supported (only default RoPE)");
        }
    } else {
        throw parse_error(file.string() + ": model_type '" + type + "' is not supported (gpt2, llama, qwen2, mistral)");
    }
    // Special token ids: null or a list (Llama 3 lists several eos ids) leaves the id unset (-1).
    for (const auto& [key, slot] : {std::pair{"bos_token_id", &c.bos_id}, std::pair{"eos_token_id", &c.eos_id}}) {
        if (!j.contains(key) || !j[key].is_number_integer()) continue;
        const auto id = io::json_as<std::int64_t>(j[key], file.string() + ": field '" + key + "'");
        if (id < 0) throw parse_error(file.string() + ": field '" + key + "' = " + std::to_string(id) + " is not a token id");
        *slot = id;
    }
    try {
        c.validate();
    } catch (const value_error& e) {
        throw parse_error(file.string() + ": " + e.what());
    }
    // Only now, with heads known to be positive, may the head size be worked out.
    if (c.family == Family::llama) {
        if (auto head_dim = io::json_field_opt<index_t>(j, "head_dim", file.string()); head_dim && *head_dim != c.hidden / c.heads)
            throw parse_error(file.string() + ": head_dim other than hidden_size / num_attention_heads is not supported");
    }
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
        if (name.empty() || name == "." || name == ".." || name.find_first_of(std::string("/\0", 2)) != std::string::npos)
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
/// index puts elsewhere or leaves out (parse_error). All of this is checked against the files'
/// headers before the model is allocated, so a config.json whose sizes the weights do not bear
/// out fails with a shape_error instead of asking for memory it describes.
template <FloatElement T, Device D = cpu>
CausalLM<T, D> load_causal_lm(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    TransformerConfig c = config_from_hf(dir / "config.json");
    auto is_file = [](const fs::path& p) {
        std::error_code ec;  // a name the file system refuses (too long, say) is a file that is not there
        return fs::exists(p, ec);
    };
    // Which file holds which tensor.
    std::map<std::string, std::shared_ptr<io::SafetensorsFile>> where;
    if (is_file(dir / detail::single_file)) {
        auto file = std::make_shared<io::SafetensorsFile>(dir / detail::single_file);
        for (const auto& n : file->names()) where[n] = file;
    } else if (is_file(dir / detail::index_file)) {
        const fs::path index = dir / detail::index_file;
        std::map<std::string, std::shared_ptr<io::SafetensorsFile>> shards;
        for (const auto& [name, shard] : detail::read_weight_map(index)) {
            auto& file = shards[shard];
            if (!file) {
                if (!is_file(dir / shard))
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
    auto find = [&](const std::string& name) -> std::pair<std::string, io::SafetensorsFile*> {
        if (auto it = where.find(name); it != where.end()) return {name, it->second.get()};
        // GPT2Model checkpoints (and some GPT2LMHeadModel ones) have no "transformer." prefix.
        const std::string prefix = "transformer.";
        if (name.rfind(prefix, 0) == 0)
            if (auto it = where.find(name.substr(prefix.size())); it != where.end()) return {it->first, it->second.get()};
        throw parse_error(dir.string() + ": checkpoint has no tensor '" + name + "'");
    };
    // Every parameter's shape against the headers, before anything is allocated: the first missing
    // or mismatched tensor stops the walk, so even an absurd layer count costs nothing.
    std::set<std::string> used;
    try {
        parameter_shapes(c, [&](const std::string& name, const Shape& shape) {
            auto [stored, file] = find(name);
            const auto& info = file->info(stored);
            if (!(info.shape == shape))
                throw shape_error(file->path().string() + ": tensor '" + stored + "' has shape " + info.shape.str() +
                                  " but " + (dir / "config.json").string() + " implies " + shape.str());
            used.insert(stored);
        });
    } catch (const value_error& e) {  // sizes that overflow
        throw parse_error((dir / "config.json").string() + ": " + e.what());
    }
    for (const auto& [name, file] : where)
        if (!used.count(name) && !detail::is_known_buffer(name, c))
            throw parse_error(file->path().string() + ": unexpected tensor '" + name + "' for a " +
                              (c.family == Family::gpt2 ? "GPT-2" : "Llama-style") + " model");
    // Each parameter is written once, straight from the mapping into its own memory, and the mapped
    // pages are let go behind the copy: the peak is the model plus a few MB, not the model plus the
    // files.
    auto model = CausalLM<T, D>::uninitialised(c);
    model.visit(
        [&](const std::string& name, Var<T, D>& v) {
            auto [stored, file] = find(name);
            if (!(file->info(stored).shape == v.shape()))  // parameter_shapes and the model disagree: a bug here
                throw shape_error(file->path().string() + ": tensor '" + stored + "' has shape " +
                                  file->info(stored).shape.str() + ", the model's parameter " + v.shape().str());
            file->convert_into(stored, v.value(), /*drop_behind=*/true);
        },
        "");
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
