#pragma once
// Training a model with a defence: paired batches in a seeded order, one Context per step (so the
// terms share its forward passes), on the shared training loop (train/loop.hpp: a hard stop on a
// NaN or infinite loss, clipping, AdamW with warmup, checkpoints and bit-identical resume).
// run_defence is the loop for procedures whose step is more than one loss (Vaccine's two passes,
// TAR's inner attack).

#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/defence/term.hpp"
#include "ward/nn/module.hpp"
#include "ward/tensor.hpp"  // the CPU backend (ward/cuda.cuh adds the GPU's)
#include "ward/train/loop.hpp"

namespace ward::defence {

struct DefenceOptions {
    double lr = 2e-5;
    double weight_decay = 0.0;
    index_t epochs = 1;
    index_t batch_size = 4;
    index_t max_len = 1024;
    index_t warmup_steps = 0;
    double clip_norm = 1.0;  // 0: no clipping
    index_t max_steps = -1;  // -1: all epochs
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    std::filesystem::path checkpoint;  // empty: none; else written every checkpoint_every steps and at the end
    index_t checkpoint_every = 0;
    bool resume = true;                // continue from the checkpoint when it exists
    bool quiet = false;
};

/// What one step computed: its loss and its terms' values (the gradients are in the parameters).
using StepOutcome = train::StepOutcome;

struct DefenceResult {
    std::vector<double> losses;                        // per step (resumed ones included)
    std::vector<std::map<std::string, double>> terms;  // per step, by term name
    index_t steps = 0;
    index_t resumed_from = 0;                          // the step the checkpoint gave, 0 if none
};

/// The training loop: for each batch, `step(batch, step_index)` leaves gradients in the model's
/// trainable parameters and returns a StepOutcome; then the shared loop clips, steps AdamW and
/// checkpoints. Batches come in an order fixed by (seed, epoch), so a resumed run sees the same ones;
/// they are laid out on the host and handed to `step` on the model's device.
template <FloatElement T, Device D, class Step>
DefenceResult run_defence(nn::CausalLM<T, D>& model, const std::vector<Pair>& pairs, const DefenceOptions& opt, Step&& step) {
    if (pairs.empty()) throw value_error("defence: no training pairs");
    if (opt.batch_size <= 0) throw value_error("defence: batch size must be positive");
    const index_t per_epoch = (static_cast<index_t>(pairs.size()) + opt.batch_size - 1) / opt.batch_size;
    index_t total = per_epoch * opt.epochs;
    if (opt.max_steps >= 0) total = std::min(total, opt.max_steps);

    std::vector<std::size_t> order;
    index_t order_epoch = -1;
    auto loop_step = [&](index_t s) {
        const index_t epoch = s / per_epoch, b = s % per_epoch;
        if (epoch != order_epoch) {
            order = shuffled_indices(pairs.size(), Generator(opt.seed, 0x5348u + static_cast<std::uint64_t>(epoch)));
            order_epoch = epoch;
        }
        std::vector<std::size_t> rows(order.begin() + b * opt.batch_size,
                                      order.begin() + std::min<index_t>((b + 1) * opt.batch_size, static_cast<index_t>(order.size())));
        PairedBatch<T, D> batch = make_paired_batch<T>(pairs, rows, opt.pad_id, opt.max_len).template to<D>();
        StepOutcome out = step(batch, s);
        out.tokens = 2.0 * double(batch.harmful_inputs.numel());
        return out;
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = opt.warmup_steps,
                                  .clip_norm = opt.clip_norm, .checkpoint = opt.checkpoint,
                                  .checkpoint_every = opt.checkpoint_every, .resume = opt.resume, .quiet = opt.quiet,
                                  .name = "defence training"};
    train::LoopResult r = train::run_loop(nn::parameters<T, D>(model), total, loop, loop_step);
    return {std::move(r.losses), std::move(r.terms), r.steps, r.resumed_from};
}

/// One step of a composite defence: a fresh Context, the loss, its gradient.
template <DefenceTerm X, FloatElement T, Device D>
StepOutcome defence_step(const nn::CausalLM<T, D>& model, const X& defence, const PairedBatch<T, D>& batch,
                         const std::type_identity_t<nn::CausalLM<T, D>>* reference, std::uint64_t seed) {
    Context<T, D> ctx(model, batch, reference, seed);
    ag::Var<T, D> loss = evaluate(defence, ctx);
    StepOutcome out{double(loss.value().item()), ctx.values()};
    if (std::isfinite(out.loss)) loss.backward();
    return out;
}

/// Trains `model` with a composite defence on `pairs`. Terms that compare with a frozen model
/// (retain, RMU, circuit breaker) read `reference`, e.g. nn::clone(model) taken before training.
template <DefenceTerm X, FloatElement T, Device D>
DefenceResult train(nn::CausalLM<T, D>& model, const X& defence, const std::vector<Pair>& pairs, const DefenceOptions& opt,
                    const std::type_identity_t<nn::CausalLM<T, D>>* reference = nullptr) {
    return run_defence(model, pairs, opt, [&](const PairedBatch<T, D>& batch, index_t s) {
        return defence_step(model, defence, batch, reference, opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(s));
    });
}

}  // namespace ward::defence
