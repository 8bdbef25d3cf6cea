#pragma once
// The harmful fine-tuning attack: causal-LM fine-tuning on harmful request/answer pairs, full or
// through LoRA adapters (merged into the weights afterwards), with AdamW, Adam or SGD, over a grid of
// learning rates, sample counts and epochs. The defaults are the RepNoise paper's grid (1k and 10k
// samples, learning rates 3e-5, 6e-5, 8e-5, batch 4, one epoch, full fine-tuning with AdamW); a toy
// model needs its own. attack/search.hpp searches the attacker's whole space.

#include <string>
#include <vector>

#include "ward/nn/clone.hpp"
#include "ward/nn/lora.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::attack {

struct AttackOptions {
    double lr = 3e-5;
    std::size_t samples = 1000;  // the first `samples` harmful examples are used
    index_t epochs = 1;
    index_t batch_size = 4;
    index_t max_len = 1024;
    index_t warmup_steps = 0;
    train::Optimizer optimizer = train::Optimizer::adamw;
    index_t lora_rank = 0;       // > 0: train LoRA adapters of this rank on every linear layer, then merge them
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    bool quiet = true;
};

struct AttackGrid {
    std::vector<double> lr = {3e-5, 6e-5, 8e-5};
    std::vector<std::size_t> samples = {1000, 10000};
    std::vector<index_t> epochs = {1};
    AttackOptions base;  // everything else
    /// Every combination, learning rate varying fastest.
    std::vector<AttackOptions> expand() const {
        std::vector<AttackOptions> out;
        for (index_t e : epochs)
            for (std::size_t n : samples)
                for (double l : lr) {
                    AttackOptions o = base;
                    o.lr = l;
                    o.samples = n;
                    o.epochs = e;
                    out.push_back(o);
                }
        return out;
    }
};

/// Optimiser steps the attack takes (its compute, for budgets).
inline index_t attack_steps(const AttackOptions& o) {
    return o.epochs * ((static_cast<index_t>(o.samples) + o.batch_size - 1) / o.batch_size);
}

/// The linear layers a LoRA attack adapts: every projection of both families.
inline const std::vector<std::string>& lora_attack_targets() {
    static const std::vector<std::string> t = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                               "c_attn", "c_proj", "c_fc"};
    return t;
}

/// Fine-tunes `model` in place on the first opt.samples harmful examples (loss on the answers). A
/// LoRA attack leaves the adapters merged, so the attacked model is a plain model again.
template <FloatElement T, Device D>
train::TrainResult harmful_finetune(nn::CausalLM<T, D>& model, const std::vector<train::Example>& harmful, const AttackOptions& opt) {
    if (harmful.size() < opt.samples)
        throw value_error("harmful_finetune: " + std::to_string(opt.samples) + " samples asked, " + std::to_string(harmful.size()) + " given");
    std::vector<train::Example> data(harmful.begin(), harmful.begin() + static_cast<std::ptrdiff_t>(opt.samples));
    if (opt.lora_rank > 0) nn::add_lora(model, {.targets = lora_attack_targets(), .rank = opt.lora_rank, .alpha = 2.0 * double(opt.lora_rank),
                                                .dropout = 0.0, .seed = opt.seed});
    train::TrainOptions t;
    t.lr = opt.lr;
    t.optimizer = opt.optimizer;
    t.epochs = opt.epochs;
    t.batch_size = opt.batch_size;
    t.max_len = opt.max_len;
    t.warmup_steps = opt.warmup_steps;
    t.pad_id = opt.pad_id;
    t.seed = opt.seed;
    t.quiet = opt.quiet;
    train::TrainResult r = train::train_lm(model, data, {}, t);
    if (opt.lora_rank > 0) {
        nn::merge_lora(model);
        nn::set_requires_grad<T, D>(model, true);
    }
    return r;
}

template <FloatElement T, Device D = cpu>
struct AttackRun {
    AttackOptions options;
    train::TrainResult training;
    nn::CausalLM<T, D> model;  // the attacked copy
};

/// Attacks a copy of `model` at every point of the grid; `visit(run)` sees each attacked copy as it
/// is made (to judge it) and may drop it afterwards, so the grid never holds every copy at once.
template <FloatElement T, Device D, class Visit>
void harmful_finetune_grid(const nn::CausalLM<T, D>& model, const std::vector<train::Example>& harmful, const AttackGrid& grid,
                           Visit&& visit) {
    for (const AttackOptions& o : grid.expand()) {
        AttackRun<T, D> run{o, {}, nn::clone(model)};
        run.training = harmful_finetune(run.model, harmful, o);
        visit(run);
    }
}

}  // namespace ward::attack
