#pragma once
// Adaptive attack search: the attacker's answer to a defence that holds at one configuration. The
// field's main finding about harmful fine-tuning defences is that a differently configured attack
// (a higher learning rate, more epochs or samples, another optimiser, LoRA instead of full
// fine-tuning) often breaks them, so a defence is judged by its worst case over a search of the
// attacker's space, not by the harm after one chosen attack.
//
// The search is seeded random sampling of that space under a compute budget: configurations are
// drawn one after another (learning rate log-uniform, the rest uniform over their lists) and taken
// while their cost, in harmful examples processed (samples x epochs), fits in what is left. The
// sequence depends only on the seed, so every defence meets the same attacks for the same budget.
//
//   auto attacks = attack::sample_attacks(attack::AttackSpace{}, {.budget = 6000, .seed = 7});
//   // attack each defended copy with each; its worst case is the largest harm seen.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "ward/attack/finetune.hpp"
#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"

namespace ward::attack {

/// The attacker's space.
struct AttackSpace {
    double lr_min = 1e-4, lr_max = 1e-2;  // log-uniform
    std::vector<index_t> epochs = {1, 2, 3, 4, 5};
    std::vector<std::size_t> samples = {100, 200, 400, 800};
    std::vector<index_t> batch_size = {4, 8, 16};
    std::vector<train::Optimizer> optimizers = {train::Optimizer::adamw, train::Optimizer::adam, train::Optimizer::sgd};
    std::vector<index_t> lora_rank = {0, 8};           // 0: full fine-tuning
    std::vector<double> warmup_fraction = {0.0, 0.1};  // of the attack's steps
    AttackOptions base;                                // everything else (max_len, pad_id, quiet)
};

struct SearchOptions {
    std::size_t budget = 6000;   // harmful examples processed (samples x epochs) over the whole search
    std::size_t max_draws = 64;  // draws that do not fit the remaining budget are skipped, up to this many in all
    std::uint64_t seed = 0;
};

/// What one configuration costs in the budget's unit: examples processed.
inline std::size_t attack_cost(const AttackOptions& o) { return o.samples * static_cast<std::size_t>(o.epochs); }

/// The attacks of a search: drawn in a sequence fixed by the seed, kept while they fit the budget.
inline std::vector<AttackOptions> sample_attacks(const AttackSpace& space, const SearchOptions& opt) {
    if (!(space.lr_min > 0 && space.lr_max >= space.lr_min))
        throw value_error("attack search: learning rates must satisfy 0 < lr_min <= lr_max, got " + std::to_string(space.lr_min) +
                          " and " + std::to_string(space.lr_max));
    if (space.epochs.empty() || space.samples.empty() || space.batch_size.empty() || space.optimizers.empty() ||
        space.lora_rank.empty() || space.warmup_fraction.empty())
        throw value_error("attack search: every dimension of the space needs at least one value");
    Generator gen(opt.seed, 0x73656172u);
    auto pick = [&](const auto& values) { return values[static_cast<std::size_t>(gen.uniform() * double(values.size())) % values.size()]; };
    std::vector<AttackOptions> out;
    std::size_t left = opt.budget;
    for (std::size_t draw = 0; draw < opt.max_draws && left > 0; ++draw) {
        AttackOptions a = space.base;
        a.lr = space.lr_min * std::pow(space.lr_max / space.lr_min, gen.uniform());
        a.epochs = pick(space.epochs);
        a.samples = pick(space.samples);
        a.batch_size = pick(space.batch_size);
        a.optimizer = pick(space.optimizers);
        a.lora_rank = pick(space.lora_rank);
        a.warmup_steps = static_cast<index_t>(std::lround(pick(space.warmup_fraction) * double(attack_steps(a))));
        if (attack_cost(a) > left) continue;
        left -= attack_cost(a);
        out.push_back(a);
    }
    return out;
}

/// A short description of an attack, for tables and logs: "lr 3e-04 x2 ep 400 ex b8 adamw lora8 wu10".
inline std::string describe(const AttackOptions& a) {
    char lr[32];
    std::snprintf(lr, sizeof lr, "%.0e", a.lr);
    std::string s = std::string("lr ") + lr + " x" + std::to_string(a.epochs) + " ep " + std::to_string(a.samples) + " ex b" +
                    std::to_string(a.batch_size) + " " + train::optimizer_name(a.optimizer);
    if (a.lora_rank > 0) s += " lora" + std::to_string(a.lora_rank);
    if (a.warmup_steps > 0) s += " wu" + std::to_string(a.warmup_steps);
    return s;
}

}  // namespace ward::attack
