#pragma once
// Causal-LM fine-tuning: tokenised examples (ids plus which positions carry loss), padded batches in
// a seeded order, next-token cross-entropy (on response tokens only when asked), gradient
// accumulation and evaluation loss, on the shared training loop (train/loop.hpp: clipping, AdamW
// with warmup, progress, atomic checkpoints with bit-identical resume, a hard stop on a NaN loss).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/autograd/loss.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/io/dialogue.hpp"
#include "ward/nn/module.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/tensor.hpp"  // the CPU backend (ward/cuda.cuh adds the GPU's)
#include "ward/train/loop.hpp"

namespace ward::train {

/// One training sequence: token ids and, per position, whether predicting that token counts.
struct Example {
    std::vector<std::int64_t> ids;
    std::vector<std::uint8_t> loss_mask;  // loss_mask[t] = 1: the loss includes predicting ids[t]
};

/// prompt + response as one sequence; with response_only the prompt's tokens carry no loss.
template <class Encode>
Example make_example(const Encode& encode, const std::string& prompt, const std::string& response, bool response_only,
                     std::optional<std::int64_t> eos = std::nullopt) {
    Example e;
    for (auto id : encode(prompt)) e.ids.push_back(id);
    std::size_t prompt_len = e.ids.size();
    for (auto id : encode(response)) e.ids.push_back(id);
    if (eos) e.ids.push_back(*eos);
    e.loss_mask.assign(e.ids.size(), 1);
    if (response_only)
        for (std::size_t t = 0; t < prompt_len; ++t) e.loss_mask[t] = 0;
    return e;
}

/// prompt + response as `format` lays them out (plain text, or the model's chat template, whose
/// closing tokens belong to the response); with response_only the prompt's tokens carry no loss.
inline Example make_example(const io::Dialogue& format, const std::string& prompt, const std::string& response, bool response_only) {
    auto [p, r] = format.split(prompt, response);
    Example e;
    e.ids = std::move(p);
    e.loss_mask.assign(e.ids.size(), response_only ? 0 : 1);
    e.ids.insert(e.ids.end(), r.begin(), r.end());
    e.loss_mask.resize(e.ids.size(), 1);
    return e;
}

/// A padded batch: inputs (B, T - 1) and next-token targets (B, T - 1), ag::ignore_index where no
/// loss is taken (padding, prompts).
struct LmBatch {
    Tensor<std::int64_t> inputs, targets;
    index_t tokens = 0;  // positions that carry loss
};

inline LmBatch make_batch(const std::vector<Example>& data, const std::vector<std::size_t>& rows, std::int64_t pad_id,
                          index_t max_len) {
    index_t T = 0;
    for (auto r : rows) T = std::max<index_t>(T, std::min<index_t>(max_len, static_cast<index_t>(data[r].ids.size())));
    if (T < 2) throw value_error("make_batch: sequences need at least 2 tokens");
    const index_t B = static_cast<index_t>(rows.size());
    std::vector<std::int64_t> in(static_cast<std::size_t>(B * (T - 1)), pad_id), tg(in.size(), ag::ignore_index);
    LmBatch batch;
    for (index_t b = 0; b < B; ++b) {
        const Example& e = data[rows[static_cast<std::size_t>(b)]];
        const index_t n = std::min<index_t>(T, static_cast<index_t>(e.ids.size()));
        for (index_t t = 0; t + 1 < n; ++t) {
            in[static_cast<std::size_t>(b * (T - 1) + t)] = e.ids[static_cast<std::size_t>(t)];
            if (e.loss_mask[static_cast<std::size_t>(t + 1)]) {
                tg[static_cast<std::size_t>(b * (T - 1) + t)] = e.ids[static_cast<std::size_t>(t + 1)];
                ++batch.tokens;
            }
        }
    }
    batch.inputs = Tensor<std::int64_t>::from_vector(in, {B, T - 1});
    batch.targets = Tensor<std::int64_t>::from_vector(tg, {B, T - 1});
    return batch;
}

struct TrainOptions {
    double lr = 5e-4;
    double weight_decay = 0.0;
    Optimizer optimizer = Optimizer::adamw;
    bool master_weights = true;     // a bf16 model: f32 master weights and optimiser state (train/loop.hpp)
    index_t epochs = 1;
    index_t batch_size = 4;
    index_t grad_accumulation = 1;  // optimiser steps every this many batches
    index_t max_len = 1024;
    index_t warmup_steps = 0;
    double clip_norm = 1.0;         // 0: no clipping
    index_t max_steps = -1;         // stop after this many optimiser steps (-1: all epochs)
    index_t eval_every = 0;         // evaluate every this many steps (0: at the end only)
    index_t checkpoint_every = 0;   // checkpoint every this many steps (0: at the end only)
    std::filesystem::path checkpoint;  // where (also written at the end); resumed from when it exists and resume is set
    bool resume = true;
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    bool quiet = false;
};

struct TrainResult {
    std::vector<double> step_losses;  // mean loss of each optimiser step (resumed ones included)
    std::vector<double> eval_losses;  // each evaluation, in order
    index_t steps = 0;                // optimiser steps taken in total (counting resumed ones)
    index_t resumed_from = 0;         // the step a checkpoint gave, 0 if none
    double tokens_per_second = 0;
};

/// Mean next-token loss over `data` (no gradients), computed in f32 for a bf16 model.
template <FloatElement T, Device D>
double evaluate_lm(const nn::CausalLM<T, D>& model, const std::vector<Example>& data, index_t batch_size, std::int64_t pad_id,
                   index_t max_len = 1024) {
    ag::NoGrad ng;
    double total = 0;
    index_t count = 0;
    for (std::size_t start = 0; start < data.size(); start += static_cast<std::size_t>(batch_size)) {
        std::vector<std::size_t> rows;
        for (std::size_t r = start; r < std::min(data.size(), start + static_cast<std::size_t>(batch_size)); ++r) rows.push_back(r);
        LmBatch b = make_batch(data, rows, pad_id, max_len);
        if (b.tokens == 0) continue;
        auto logits = model.forward(on_device<D>(b.inputs)).logits;
        if constexpr (std::is_same_v<T, bf16>) {  // the loss in f32: a bf16 scalar would keep 3 digits
            const ag::Var<float, D> wide(Tensor<float, D>(cast<float>(logits.value())), false);
            total += double(ag::cross_entropy(wide, on_device<D>(b.targets)).value().item()) * double(b.tokens);
        } else {
            total += double(ag::cross_entropy(logits, on_device<D>(b.targets)).value().item()) * double(b.tokens);
        }
        count += b.tokens;
    }
    return count ? total / double(count) : 0.0;
}

/// Fine-tunes `model` on `train_data`; evaluates on `eval_data` (may be empty). Batches are laid
/// out on the host and copied to the model's device.
template <FloatElement T, Device D>
TrainResult train_lm(nn::CausalLM<T, D>& model, const std::vector<Example>& train_data, const std::vector<Example>& eval_data,
                     const TrainOptions& opt) {
    if (train_data.empty()) throw value_error("train_lm: no training examples");
    if (opt.batch_size <= 0 || opt.grad_accumulation <= 0) throw value_error("train_lm: batch size and accumulation must be positive");
    const index_t batches_per_epoch = (static_cast<index_t>(train_data.size()) + opt.batch_size - 1) / opt.batch_size;
    const index_t steps_per_epoch = (batches_per_epoch + opt.grad_accumulation - 1) / opt.grad_accumulation;
    index_t total_steps = steps_per_epoch * opt.epochs;
    if (opt.max_steps >= 0) total_steps = std::min(total_steps, opt.max_steps);

    std::vector<std::size_t> order;  // the current epoch's, fixed by (seed, epoch): a resumed run sees the same batches
    index_t order_epoch = -1;
    auto step = [&](index_t s) {
        const index_t epoch = s / steps_per_epoch, within = s % steps_per_epoch;
        if (epoch != order_epoch) {
            order = shuffled_indices(train_data.size(), Generator(opt.seed, static_cast<std::uint64_t>(epoch)));
            order_epoch = epoch;
        }
        std::vector<LmBatch> micro;
        index_t step_tokens = 0;
        for (index_t b = within * opt.grad_accumulation; b < std::min((within + 1) * opt.grad_accumulation, batches_per_epoch); ++b) {
            std::vector<std::size_t> rows;
            for (index_t r = b * opt.batch_size; r < std::min<index_t>((b + 1) * opt.batch_size, static_cast<index_t>(order.size())); ++r)
                rows.push_back(order[static_cast<std::size_t>(r)]);
            micro.push_back(make_batch(train_data, rows, opt.pad_id, opt.max_len));
            step_tokens += micro.back().tokens;
        }
        StepOutcome out;
        out.update = step_tokens > 0;
        for (const LmBatch& b : micro) {
            if (b.tokens == 0) continue;
            // Each micro-batch weighs its share of the step's tokens: the step's gradient is that
            // of the mean over all its tokens.
            const double share = double(b.tokens) / double(step_tokens);
            ag::Var<T, D> loss = ag::cross_entropy(model.forward(on_device<D>(b.inputs)).logits, on_device<D>(b.targets));
            out.loss += double(loss.value().item()) * share;
            if (std::isfinite(out.loss)) (loss * share).backward();
            out.tokens += double(b.inputs.numel());
        }
        return out;
    };
    TrainResult res;
    auto evaluate_every = [&](index_t s) {
        if (opt.eval_every > 0 && (s + 1) % opt.eval_every == 0 && !eval_data.empty())
            res.eval_losses.push_back(evaluate_lm(model, eval_data, opt.batch_size, opt.pad_id, opt.max_len));
    };
    const LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .optimizer = opt.optimizer,
                           .master_weights = opt.master_weights, .warmup_steps = opt.warmup_steps,
                           .clip_norm = opt.clip_norm, .checkpoint = opt.checkpoint, .checkpoint_every = opt.checkpoint_every,
                           .resume = opt.resume, .quiet = opt.quiet, .name = "training"};
    NoState none;
    LoopResult r = run_loop(nn::parameters<T, D>(model), total_steps, loop, step, evaluate_every, none);
    res.step_losses = std::move(r.losses);
    res.steps = r.steps;
    res.resumed_from = r.resumed_from;
    res.tokens_per_second = r.tokens_per_second;
    if (!eval_data.empty()) res.eval_losses.push_back(evaluate_lm(model, eval_data, opt.batch_size, opt.pad_id, opt.max_len));
    return res;
}

}  // namespace ward::train
