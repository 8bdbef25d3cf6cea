#pragma once
// The runs that tests/train/test_crash_safety.cpp kills, shared by the test and by the program it
// kills (crash_child.cpp): a tiny Llama, a fixed corpus and fixed defence pairs, and the options of
// each training loop with a checkpoint after every step.
#include <cstdint>
#include <filesystem>
#include <vector>

#include <ward/defence.hpp>
#include <ward/defence/lisa.hpp>
#include <ward/nn.hpp>
#include <ward/train/lm_trainer.hpp>

#include "tiny_llama.hpp"

namespace crash_world {

using namespace ward;

inline nn::TransformerConfig config() { return ward_test::tiny_llama(); }

inline std::vector<train::Example> corpus() {
    std::vector<train::Example> out;
    for (std::int64_t i = 0; i < 12; ++i) {
        std::vector<std::int64_t> ids = {1, 2 + i % 5, 7 + i % 4, 11 + i % 6, 17 + i % 3, 2};
        out.push_back({ids, std::vector<std::uint8_t>(ids.size(), 1)});
    }
    return out;
}

inline std::vector<defence::Pair> pairs() {
    std::vector<defence::Pair> out;
    for (std::int64_t i = 0; i < 8; ++i) out.push_back({{1, 2 + i % 4}, {5, 6 + i % 3, 9}, {20, 21}});
    return out;
}

inline constexpr index_t steps = 60;  // per run: long enough for a dozen kills, short enough to finish

inline train::TrainOptions lm_options(const std::filesystem::path& checkpoint) {
    train::TrainOptions o;
    o.lr = 3e-3;
    o.epochs = 30;
    o.batch_size = 3;
    o.grad_accumulation = 2;
    o.warmup_steps = 3;
    o.max_steps = steps;
    o.checkpoint = checkpoint;
    o.checkpoint_every = 1;
    o.seed = 5;
    o.quiet = true;
    return o;
}

inline defence::DefenceOptions defence_options(const std::filesystem::path& checkpoint) {
    defence::DefenceOptions o;
    o.lr = 1e-3;
    o.epochs = 30;
    o.batch_size = 2;
    o.max_steps = steps;
    o.max_len = 16;
    o.checkpoint = checkpoint;
    o.checkpoint_every = 1;
    o.seed = 6;
    o.quiet = true;
    return o;
}

inline defence::LisaOptions lisa_options(const std::filesystem::path& checkpoint) {
    defence::LisaOptions o;
    o.steps = steps;
    o.alignment_steps = 3;
    o.finetune_steps = 7;
    o.rho = 0.5;
    o.lr = 3e-3;
    o.batch_size = 2;
    o.checkpoint = checkpoint;
    o.checkpoint_every = 1;
    o.seed = 7;
    o.quiet = true;
    return o;
}

/// The two models the save test alternates between: other weights, saved in the same shards (the
/// same file names: the case where replacing file by file would mix the two).
inline nn::CausalLM<float> model(int which) { return nn::CausalLM<float>(config(), which == 0 ? 101 : 202); }
inline nn::SaveOptions save_options() { return {.max_shard_bytes = 40'000u}; }

}  // namespace crash_world
