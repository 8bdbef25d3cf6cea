#pragma once
// Training a model with a defence: paired batches in a seeded order, one Context per step (so the
// terms share its forward passes), a hard stop on a NaN or infinite loss, clipping, AdamW with
// warmup. run_defence is the loop itself, for procedures whose step is more than one loss
// (Vaccine's two passes, Lisa's alternation, TAR's inner attack).

#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/defence/term.hpp"
#include "ward/nn/module.hpp"
#include "ward/optim/adam.hpp"
#include "ward/optim/clip.hpp"
#include "ward/optim/schedule.hpp"
#include "ward/tensor.hpp"  // defences train on the CPU
#include "ward/train/progress.hpp"

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
    bool quiet = false;
};

/// What one step computed: its loss and its terms' values (the gradients are in the parameters).
struct StepOutcome {
    double loss = 0;
    std::map<std::string, double> terms;
};

struct DefenceResult {
    std::vector<double> losses;                        // per step
    std::vector<std::map<std::string, double>> terms;  // per step, by term name
    index_t steps = 0;
};

/// Throws when a defence's loss is not finite, naming the step and the terms.
inline void check_finite(double loss, index_t step, const std::map<std::string, double>& terms) {
    if (std::isfinite(loss)) return;
    std::string parts;
    for (const auto& [name, v] : terms) parts += (parts.empty() ? "" : ", ") + name + " = " + std::to_string(v);
    throw value_error("defence training stopped: the loss is " + std::to_string(loss) + " at step " + std::to_string(step + 1) +
                      (parts.empty() ? std::string() : " (" + parts + ")"));
}

/// The training loop: for each batch, `step(batch, step_index)` leaves gradients in the model's
/// trainable parameters and returns a StepOutcome; then clip, AdamW, zero the gradients.
template <FloatElement T, class Step>
DefenceResult run_defence(nn::CausalLM<T, cpu>& model, const std::vector<Pair>& pairs, const DefenceOptions& opt, Step&& step) {
    if (pairs.empty()) throw value_error("defence: no training pairs");
    if (opt.batch_size <= 0) throw value_error("defence: batch size must be positive");
    auto params = nn::parameters<T, cpu>(model);
    if (params.empty()) throw value_error("defence: the model has no trainable parameters");
    optim::AdamWOptions ao;
    ao.lr = opt.lr;
    ao.weight_decay = opt.weight_decay;
    optim::AdamW<T> adam(params, ao);
    optim::LinearWarmup warmup{opt.warmup_steps};

    const index_t per_epoch = (static_cast<index_t>(pairs.size()) + opt.batch_size - 1) / opt.batch_size;
    index_t total = per_epoch * opt.epochs;
    if (opt.max_steps >= 0) total = std::min(total, opt.max_steps);
    train::Progress progress(total, 10, opt.quiet);
    DefenceResult res;
    double tokens = 0;
    for (index_t epoch = 0, s = 0; epoch < opt.epochs && s < total; ++epoch) {
        const std::vector<std::size_t> order = shuffled_indices(pairs.size(), Generator(opt.seed, 0x5348u + static_cast<std::uint64_t>(epoch)));
        for (index_t b = 0; b < per_epoch && s < total; ++b, ++s) {
            std::vector<std::size_t> rows(order.begin() + b * opt.batch_size,
                                          order.begin() + std::min<index_t>((b + 1) * opt.batch_size, static_cast<index_t>(order.size())));
            PairedBatch<T, cpu> batch = make_paired_batch<T>(pairs, rows, opt.pad_id, opt.max_len);
            StepOutcome out = step(batch, s);
            check_finite(out.loss, s, out.terms);
            if (opt.clip_norm > 0) optim::clip_grad_norm(params, opt.clip_norm);
            adam.set_lr_multiplier(warmup(s));
            adam.step();
            adam.zero_grad();
            res.losses.push_back(out.loss);
            res.terms.push_back(std::move(out.terms));
            tokens += 2.0 * double(batch.harmful_inputs.numel());
            progress.update(s + 1, out.loss, tokens);
            ++res.steps;
        }
    }
    return res;
}

/// One step of a composite defence: a fresh Context, the loss, its gradient.
template <DefenceTerm X, FloatElement T>
StepOutcome defence_step(const nn::CausalLM<T, cpu>& model, const X& defence, const PairedBatch<T, cpu>& batch,
                         const nn::CausalLM<T, cpu>* reference, std::uint64_t seed) {
    Context<T, cpu> ctx(model, batch, reference, seed);
    ag::Var<T, cpu> loss = evaluate(defence, ctx);
    StepOutcome out{double(loss.value().item()), ctx.values()};
    if (std::isfinite(out.loss)) loss.backward();
    return out;
}

/// Trains `model` with a composite defence on `pairs`. Terms that compare with a frozen model
/// (retain, RMU, circuit breaker) read `reference`, e.g. nn::clone(model) taken before training.
template <DefenceTerm X, FloatElement T>
DefenceResult train(nn::CausalLM<T, cpu>& model, const X& defence, const std::vector<Pair>& pairs, const DefenceOptions& opt,
                    const nn::CausalLM<T, cpu>* reference = nullptr) {
    return run_defence(model, pairs, opt, [&](const PairedBatch<T, cpu>& batch, index_t s) {
        return defence_step(model, defence, batch, reference, opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(s));
    });
}

}  // namespace ward::defence
