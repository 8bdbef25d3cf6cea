#pragma once
// Lisa: lazy safety alignment (Huang et al. 2024, "Lisa: Lazy Safety Alignment for
// Large Language Models against Harmful Fine-tuning Attack"). A fine-tuning service runs it in place
// of the user's plain fine-tuning: Bi-State Optimisation alternates between an alignment state (steps
// on refusal data) and a fine-tuning state (steps on the user's data, possibly harmful), and each
// state adds a proximal term
//   rho / 2 * ||w - w_anchor||^2,   w_anchor = the weights at the last switch of state,
// which keeps each state from drifting far from where the other left the model (the paper's fix
// for the excess drift of plain alternation). One AdamW runs through both states, as one trainer
// does in the paper; the proximal gradient rho * (w - w_anchor) is added to each step's gradient
// before clipping. Each state walks its own data in a seeded order, epoch after epoch.

#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/defence/batch.hpp"
#include "ward/nn/module.hpp"
#include "ward/optim/adam.hpp"
#include "ward/optim/clip.hpp"
#include "ward/tensor.hpp"  // Lisa trains on the CPU
#include "ward/train/lm_trainer.hpp"
#include "ward/train/progress.hpp"

namespace ward::defence {

struct LisaOptions {
    double rho = 1.0;               // proximal weight (the paper tunes it per task: 0.01 .. 10)
    index_t steps = 1000;           // the whole budget, both states together
    index_t alignment_steps = 100;  // per cycle, on the alignment data (first)
    index_t finetune_steps = 900;   // per cycle, on the user's data
    double lr = 1e-5;
    double weight_decay = 0.0;
    index_t batch_size = 4;
    index_t max_len = 1024;
    double clip_norm = 1.0;  // 0: no clipping
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    bool quiet = false;
};

struct LisaResult {
    std::vector<double> losses;     // per step: the state's CE plus its proximal term
    std::vector<double> proximal;   // per step: rho / 2 * ||w - w_anchor||^2 before the step
    std::vector<bool> alignment;    // per step: true in the alignment state
    index_t steps = 0, switches = 0;
};

namespace detail {
/// Batches of one data set in a seeded order, reshuffled each time it is used up.
class LisaStream {
public:
    LisaStream(const std::vector<train::Example>& data, index_t batch, std::uint64_t seed, std::uint64_t stream)
        : data_(&data), batch_(batch), seed_(seed), stream_(stream) {}
    std::vector<std::size_t> next() {
        if (pos_ >= order_.size()) shuffle();
        std::vector<std::size_t> rows;
        while (rows.size() < static_cast<std::size_t>(batch_) && pos_ < order_.size()) rows.push_back(order_[pos_++]);
        return rows;
    }

private:
    void shuffle() {
        order_ = shuffled_indices(data_->size(), Generator(seed_, stream_ + 0x1000u * static_cast<std::uint64_t>(epoch_++)));
        pos_ = 0;
    }
    const std::vector<train::Example>* data_;
    index_t batch_;
    std::uint64_t seed_, stream_;
    std::vector<std::size_t> order_;
    std::size_t pos_ = 0;
    index_t epoch_ = 0;
};
}  // namespace detail

/// Fine-tunes `model` on `user` data the Lisa way, alternating with steps on `alignment` data.
template <FloatElement T>
LisaResult lisa_finetune(nn::CausalLM<T, cpu>& model, const std::vector<train::Example>& alignment, const std::vector<train::Example>& user,
                         const LisaOptions& opt) {
    if (alignment.empty()) throw value_error("lisa: no alignment examples");
    if (user.empty()) throw value_error("lisa: no user examples");
    if (opt.batch_size <= 0) throw value_error("lisa: batch size must be positive, got " + std::to_string(opt.batch_size));
    if (opt.steps < 0) throw value_error("lisa: steps must be >= 0, got " + std::to_string(opt.steps));
    if (opt.alignment_steps < 0 || opt.finetune_steps < 0 || opt.alignment_steps + opt.finetune_steps == 0)
        throw value_error("lisa: alignment_steps (" + std::to_string(opt.alignment_steps) + ") and finetune_steps (" +
                          std::to_string(opt.finetune_steps) + ") must be >= 0 and not both 0");
    if (!(opt.rho >= 0) || !std::isfinite(opt.rho)) throw value_error("lisa: rho must be finite and >= 0, got " + std::to_string(opt.rho));
    using V = compute_t<T>;
    auto params = nn::parameters<T, cpu>(model);
    if (params.empty()) throw value_error("lisa: the model has no trainable parameters");
    optim::AdamWOptions ao;
    ao.lr = opt.lr;
    ao.weight_decay = opt.weight_decay;
    optim::AdamW<T> adam(params, ao);

    detail::LisaStream streams[2] = {{alignment, opt.batch_size, opt.seed, 0x4c1u}, {user, opt.batch_size, opt.seed, 0x4c2u}};
    std::vector<Tensor<T, cpu>> anchor;
    for (const auto& p : params) anchor.push_back(p.value.clone());
    train::Progress progress(opt.steps, 10, opt.quiet);
    LisaResult res;
    bool aligning = opt.alignment_steps > 0;
    index_t in_state = 0;
    double tokens = 0;
    for (index_t s = 0; s < opt.steps; ++s) {
        if (in_state == (aligning ? opt.alignment_steps : opt.finetune_steps)) {  // switch: anchor at the weights the state ended on
            const bool next = !aligning;
            if ((next ? opt.alignment_steps : opt.finetune_steps) > 0) {
                aligning = next;
                for (std::size_t i = 0; i < params.size(); ++i) anchor[i].assign(params[i].value);
                ++res.switches;
            }
            in_state = 0;
        }
        const auto& data = aligning ? alignment : user;
        train::LmBatch b = train::make_batch(data, streams[aligning ? 0 : 1].next(), opt.pad_id, opt.max_len);
        double loss = 0;
        if (b.tokens > 0) {
            ag::Var<T, cpu> ce = ag::cross_entropy(model.forward(b.inputs).logits, b.targets);
            loss = double(ce.value().item());
            if (!std::isfinite(loss))
                throw value_error("lisa stopped: the loss is " + std::to_string(loss) + " at step " + std::to_string(s + 1) + " (" +
                                  (aligning ? "alignment" : "fine-tuning") + " state)");
            ce.backward();
        }
        double prox = 0;
        for (std::size_t i = 0; i < params.size(); ++i) {
            Tensor<T, cpu> d(params[i].value - anchor[i]);
            prox += ward::sum(ward::square(ward::cast<double>(d))).item();
            if (opt.rho > 0) params[i].grad.assign(params[i].grad + d * V(opt.rho));
        }
        prox *= 0.5 * opt.rho;
        if (opt.clip_norm > 0) optim::clip_grad_norm(params, opt.clip_norm);
        adam.step();
        adam.zero_grad();
        res.losses.push_back(loss + prox);
        res.proximal.push_back(prox);
        res.alignment.push_back(aligning);
        tokens += double(b.inputs.numel());
        progress.update(s + 1, loss + prox, tokens);
        ++res.steps;
        ++in_state;
    }
    return res;
}

}  // namespace ward::defence
