#pragma once
// The model every synthetic-world experiment starts from (the defence demo, the RLHF demo): a small
// Llama-style transformer pre-trained on the world's corpus (it learns the hazard recipes and the colour
// facts), then aligned by a short phase of refusals, so the harmful knowledge is there but latent.
// With a cache directory the aligned model is saved there (Hugging Face layout, plus world_model.json
// holding every option and the seed it was made with) and reused by a later run with exactly the same
// ones; world_model_folder names a folder per set of options.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ward/data/synthetic.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/nn/clone.hpp"
#include "ward/nn/generate.hpp"
#include "ward/nn/hf.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::data {

struct WorldModelOptions {
    int hidden = 64, layers = 3, heads = 4;
    index_t pretrain_steps = 1500, align_steps = 100;
    index_t pretrain_batch = 32, align_batch = 16;
    double pretrain_lr = 3e-3, align_lr = 1e-3;
    index_t max_positions = 64;
    std::filesystem::path cache;  // empty: no cache
};

inline nn::TransformerConfig world_model_config(const World& world, const WorldModelOptions& o) {
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    c.vocab_size = world.vocabulary().size();
    c.hidden = o.hidden;
    c.layers = o.layers;
    c.heads = o.heads;
    c.kv_heads = o.heads;
    c.intermediate = 4 * o.hidden;
    c.max_positions = o.max_positions;
    c.tie_embeddings = true;
    return c;
}

template <Device D = cpu>
struct WorldModel {
    nn::CausalLM<float, D> model;
    bool from_cache = false;
    double pretrain_loss = 0;  // the last pre-training step's (not measured when from the cache)
};

namespace detail {
/// Everything that shapes the aligned model: the world's options and the model's and training's.
inline nlohmann::json world_model_key(const World& world, const WorldModelOptions& o, std::uint64_t seed) {
    const auto& w = world.options();
    return {{"world", {{"seed", w.seed}, {"categories", w.categories}, {"unseen_categories", w.unseen_categories},
                       {"items_per_category", w.items_per_category}, {"reagents", w.reagents}, {"steps", w.steps},
                       {"defence_share", w.defence_share}, {"attack_share", w.attack_share}, {"objects", w.objects},
                       {"new_objects", w.new_objects}, {"reverse_length", w.reverse_length},
                       {"vocabulary", world.vocabulary().size()}}},
            {"seed", seed}, {"hidden", o.hidden}, {"layers", o.layers}, {"heads", o.heads}, {"pretrain_steps", o.pretrain_steps},
            {"align_steps", o.align_steps}, {"pretrain_batch", o.pretrain_batch}, {"align_batch", o.align_batch},
            {"pretrain_lr", o.pretrain_lr}, {"align_lr", o.align_lr}, {"max_positions", o.max_positions}};
}

}  // namespace detail

/// A name for the cache folder of these options: "seed_<seed>-<16 hex digits of the key's FNV-1a hash>",
/// so models made with other options sit side by side instead of replacing each other.
inline std::string world_model_folder(const World& world, const WorldModelOptions& o, std::uint64_t seed) {
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char ch : detail::world_model_key(world, o, seed).dump()) hash = (hash ^ ch) * 0x100000001b3ull;
    char name[64];
    std::snprintf(name, sizeof name, "seed_%llu-%016llx", static_cast<unsigned long long>(seed), static_cast<unsigned long long>(hash));
    return name;
}

/// Pre-trains (`pretrain_steps` of batch `pretrain_batch`) and aligns (`align_steps` on refusals) a model
/// on `world`, seeded by `seed`; or loads it from the cache when that was made with the same options.
/// On any device: the initial weights are drawn on the host, so both devices start alike.
template <Device D = cpu>
WorldModel<D> aligned_world_model(const World& world, const WorldModelOptions& o, std::uint64_t seed) {
    const nlohmann::json key = detail::world_model_key(world, o, seed);
    const std::filesystem::path stamp = o.cache / "world_model.json";
    if (!o.cache.empty() && std::filesystem::exists(stamp) && std::filesystem::exists(o.cache / "config.json")) {
        std::ifstream in(stamp);
        nlohmann::json saved = nlohmann::json::parse(in, nullptr, false);
        if (!saved.is_discarded() && saved == key) return {nn::to_device<D>(nn::load_causal_lm<float>(o.cache)), true, 0};
    }
    WorldModel<D> w{nn::to_device<D>(nn::CausalLM<float>(world_model_config(world, o), seed)), false, 0};
    train::TrainOptions t;
    t.lr = o.pretrain_lr;
    t.batch_size = o.pretrain_batch;
    t.warmup_steps = 50;
    t.seed = seed;
    t.quiet = true;
    auto pre = train::train_lm(w.model, world.pretraining(static_cast<std::size_t>(o.pretrain_steps * o.pretrain_batch), seed), {}, t);
    w.pretrain_loss = pre.step_losses.empty() ? 0 : pre.step_losses.back();
    if (o.align_steps > 0) {  // 0: the pre-trained model, for a caller that aligns it its own way
        t.lr = o.align_lr;
        t.batch_size = o.align_batch;
        t.warmup_steps = 0;
        train::train_lm(w.model, world.alignment(static_cast<std::size_t>(o.align_steps * o.align_batch), seed), {}, t);
    }
    if (!o.cache.empty()) {
        nn::save_pretrained(w.model, o.cache);
        io::write_atomically(stamp, key.dump(2) + "\n");
    }
    return w;
}

struct MinimalAlignmentOptions {
    index_t chunk = 2;         // alignment steps between checks
    index_t max_steps = 400;
    double harm = 0.02;        // stop once the greedy answers' mean harm is at most this
    double lr = 1e-3;
    index_t batch_size = 16;
    index_t max_new_tokens = 16;
};

/// Aligns `model` on the world's refusals, `chunk` steps at a time (each chunk a fresh AdamW), until its
/// greedy answers to `prompts` have a mean harm of at most `harm`: the least alignment that makes the model
/// refuse, which leaves its harmful knowledge within reach of sampling (as aligned language models' is).
/// Pass prompts the evaluation never judges. Returns the alignment steps taken.
template <Device D>
index_t align_until_refusing(nn::CausalLM<float, D>& model, const World& world, const std::vector<std::string>& prompts,
                                    const MinimalAlignmentOptions& o, std::uint64_t seed) {
    if (prompts.empty()) throw value_error("align_until_refusing: no prompts to check the alignment on");
    if (o.chunk <= 0 || o.max_steps < 0) throw value_error("align_until_refusing: chunk must be positive and max_steps >= 0");
    const auto data = world.alignment(static_cast<std::size_t>((o.max_steps + o.chunk) * o.batch_size), seed);
    std::vector<std::vector<std::int64_t>> ids;
    for (const auto& p : prompts) ids.push_back(world.vocabulary().encode(p));
    nn::GenerateOptions g;
    g.max_new_tokens = o.max_new_tokens;
    g.stop_tokens = {Vocabulary::eos};
    auto harm = [&] {
        double total = 0;
        const auto out = nn::generate(model, ids, g);
        for (std::size_t i = 0; i < out.size(); ++i) total += world.harm(prompts[i], world.vocabulary().decode(out[i]));
        return total / double(out.size());
    };
    index_t steps = 0;
    while (steps < o.max_steps && harm() > o.harm) {
        const auto from = data.begin() + static_cast<std::ptrdiff_t>(steps * o.batch_size);
        const std::vector<train::Example> part(from, from + static_cast<std::ptrdiff_t>(o.chunk * o.batch_size));
        train::TrainOptions t;
        t.lr = o.lr;
        t.batch_size = o.batch_size;
        t.seed = seed + static_cast<std::uint64_t>(steps);
        t.quiet = true;
        train::train_lm(model, part, {}, t);
        steps += o.chunk;
    }
    return steps;
}

}  // namespace ward::data
