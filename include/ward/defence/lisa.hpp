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
// before clipping. Each state walks its own data in a seeded order, epoch after epoch. It runs on the
// shared training loop (train/loop.hpp), whose checkpoints also carry the anchor weights, so a killed
// run resumes bit-identically.

#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/defence/batch.hpp"
#include "ward/nn/module.hpp"
#include "ward/tensor.hpp"  // the CPU backend (ward/cuda.cuh adds the GPU's)
#include "ward/train/lm_trainer.hpp"
#include "ward/train/loop.hpp"

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
    std::filesystem::path checkpoint;  // empty: none; else written every checkpoint_every steps and at the end
    index_t checkpoint_every = 0;
    bool resume = true;                // continue from the checkpoint when it exists
    bool quiet = false;
};

struct LisaResult {
    std::vector<double> losses;     // per step: the state's CE plus its proximal term
    std::vector<double> proximal;   // per step: rho / 2 * ||w - w_anchor||^2 before the step
    std::vector<bool> alignment;    // per step: true in the alignment state
    index_t steps = 0, switches = 0;
    index_t resumed_from = 0;       // the step the checkpoint gave, 0 if none
};

namespace detail {

/// Which state each step is in: a pure function of the step count, so a resumed run replays it.
class LisaSchedule {
public:
    explicit LisaSchedule(const LisaOptions& o) : align_(o.alignment_steps), finetune_(o.finetune_steps), aligning_(o.alignment_steps > 0) {}
    /// Moves to the next step; true when the state switches there (the anchor moves to the current weights).
    bool advance() {
        bool switched = false;
        if (in_state_ == (aligning_ ? align_ : finetune_)) {
            if ((aligning_ ? finetune_ : align_) > 0) {
                aligning_ = !aligning_;
                switched = true;
                ++switches_;
            }
            in_state_ = 0;
        }
        ++in_state_;
        return switched;
    }
    bool aligning() const { return aligning_; }
    index_t switches() const { return switches_; }

private:
    index_t align_, finetune_;
    bool aligning_;
    index_t in_state_ = 0, switches_ = 0;
};

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

/// The anchor weights, the one state of Lisa's that the step count does not determine: saved with
/// each checkpoint under "lisa.anchor.<parameter>".
template <FloatElement T, Device D>
struct LisaAnchor {
    const optim::ParameterList<T, D>* params;
    std::vector<Tensor<T, D>> weights;

    static std::string key(const std::string& name) { return "lisa.anchor." + name; }
    void write(io::SafetensorsWriter& w) const {
        for (std::size_t i = 0; i < weights.size(); ++i) w.add(key((*params)[i].name), weights[i]);
    }
    void check(const io::SafetensorsFile& f) const {
        for (std::size_t i = 0; i < weights.size(); ++i) {
            const std::string k = key((*params)[i].name);
            if (!f.contains(k)) throw parse_error(f.path().string() + ": checkpoint has no Lisa anchor '" + k + "'");
            if (!(f.info(k).shape == weights[i].shape()))
                throw shape_error(f.path().string() + ": Lisa anchor '" + k + "' is " + f.info(k).shape.str() + ", the parameter " +
                                  weights[i].shape().str());
        }
    }
    void read(const io::SafetensorsFile& f) {
        for (std::size_t i = 0; i < weights.size(); ++i) f.read_into(key((*params)[i].name), weights[i]);
    }
};

}  // namespace detail

/// Fine-tunes `model` on `user` data the Lisa way, alternating with steps on `alignment` data.
template <FloatElement T, Device D>
LisaResult lisa_finetune(nn::CausalLM<T, D>& model, const std::vector<train::Example>& alignment, const std::vector<train::Example>& user,
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
    auto params = nn::parameters<T, D>(model);
    if (params.empty()) throw value_error("lisa: the model has no trainable parameters");

    detail::LisaStream streams[2] = {{alignment, opt.batch_size, opt.seed, 0x4c1u}, {user, opt.batch_size, opt.seed, 0x4c2u}};
    detail::LisaSchedule schedule(opt);
    detail::LisaAnchor<T, D> anchor{&params, {}};
    for (const auto& p : params) anchor.weights.push_back(p.value.clone());
    index_t next = 0;  // the step the schedule and streams stand at
    auto step = [&](index_t s) {
        for (; next < s; ++next) {  // resumed: replay the schedule and the batch order (the anchor came from the checkpoint)
            schedule.advance();
            (void)streams[schedule.aligning() ? 0 : 1].next();
        }
        if (schedule.advance())  // switch: anchor at the weights the last state ended on
            for (std::size_t i = 0; i < params.size(); ++i) anchor.weights[i].assign(params[i].value);
        ++next;
        const bool aligning = schedule.aligning();
        train::LmBatch b = train::make_batch(aligning ? alignment : user, streams[aligning ? 0 : 1].next(), opt.pad_id, opt.max_len);
        double loss = 0;
        if (b.tokens > 0) {
            ag::Var<T, D> ce = ag::cross_entropy(model.forward(on_device<D>(b.inputs)).logits, on_device<D>(b.targets));
            loss = double(ce.value().item());
            if (std::isfinite(loss)) ce.backward();
        }
        // The proximal term's gradient rho * (w - w_anchor) joins the step's gradient before clipping.
        double prox = 0;
        for (std::size_t i = 0; i < params.size(); ++i) {
            Tensor<T, D> d(params[i].value - anchor.weights[i]);
            prox += ward::sum(ward::square(ward::cast<double>(d))).item();
            if (opt.rho > 0) params[i].grad.assign(params[i].grad + d * V(opt.rho));
        }
        prox *= 0.5 * opt.rho;
        return train::StepOutcome{loss + prox, {{"ce", loss}, {"proximal", prox}, {"alignment", aligning ? 1.0 : 0.0}},
                                  double(b.inputs.numel())};
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = 0, .clip_norm = opt.clip_norm,
                                  .checkpoint = opt.checkpoint, .checkpoint_every = opt.checkpoint_every, .resume = opt.resume,
                                  .quiet = opt.quiet, .name = "lisa"};
    train::LoopResult r = train::run_loop(params, opt.steps, loop, step, train::NoHook{}, anchor);
    LisaResult res;
    res.losses = std::move(r.losses);
    for (const auto& t : r.terms) {
        res.proximal.push_back(t.at("proximal"));
        res.alignment.push_back(t.at("alignment") != 0.0);
    }
    res.steps = r.steps;
    res.resumed_from = r.resumed_from;
    for (index_t s = 0; s + 1 < static_cast<index_t>(res.alignment.size()); ++s) res.switches += res.alignment[s] != res.alignment[s + 1];
    return res;
}

}  // namespace ward::defence
