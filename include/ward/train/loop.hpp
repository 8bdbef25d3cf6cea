#pragma once
// The one training loop that every procedure drives: the causal-LM trainer, the defence loop
// (RepNoise, Vaccine, Booster, TAR ...) and Lisa. For each optimiser step a driver's step function
// leaves gradients in the parameters and says what it computed; the loop then stops on a loss that
// is not finite (naming the step, its terms and the last checkpoint), clips, steps the optimiser
// (AdamW by default, or Adam, or SGD with momentum; bf16 models through f32 master weights) with
// linear warmup, records the loss and its terms, reports progress and checkpoints.
//
// Checkpoints hold the weights, the optimiser's state, the loss history and the driver's own state (a
// CheckpointState), written atomically every `checkpoint_every` steps and at the end. Run again with
// the same checkpoint, the loop resumes after the saved step and ends bit-identical to a run that was
// never interrupted, history included, as long as the driver's step depends only on the step index
// and the state it saves (every driver here walks its data in an order fixed by seed and epoch).
//
//   auto result = train::run_loop(params, total_steps, {.lr = 1e-3, .checkpoint = "run.safetensors"},
//                                 [&](index_t s) { /* forward, backward */ return train::StepOutcome{loss}; });

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/optim/adam.hpp"
#include "ward/optim/clip.hpp"
#include "ward/optim/master_weights.hpp"
#include "ward/optim/schedule.hpp"
#include "ward/optim/sgd.hpp"
#include "ward/tensor.hpp"  // the CPU backend (ward/cuda.cuh adds the GPU's)
#include "ward/train/checkpoint.hpp"
#include "ward/train/progress.hpp"

namespace ward::train {

/// The optimiser a loop steps: AdamW (decoupled decay), Adam (L2 decay in the gradient), or SGD
/// with momentum 0.9 (PyTorch's update rule).
enum class Optimizer { adamw, adam, sgd };

inline std::string optimizer_name(Optimizer o) { return o == Optimizer::adamw ? "adamw" : o == Optimizer::adam ? "adam" : "sgd"; }

struct LoopOptions {
    double lr = 1e-3;
    double weight_decay = 0.0;
    Optimizer optimizer = Optimizer::adamw;
    bool master_weights = true;        // bf16 parameters: step f32 master weights with f32 optimiser state
                                       // (false: step the bf16 weights and keep bf16 state, pure bf16)
    index_t warmup_steps = 0;
    double clip_norm = 1.0;            // 0: no clipping
    std::filesystem::path checkpoint;  // empty: no checkpoints
    index_t checkpoint_every = 0;      // with a checkpoint path: every this many steps (0: at the end only)
    bool resume = true;                // continue from the checkpoint when it exists
    bool quiet = false;
    std::string name = "training";     // names the loop in its messages ("training stopped: ...")
};

/// What one step computed. The gradients are left in the parameters; `update` false means the step
/// had nothing to learn from (no token carried loss): no optimiser update and nothing recorded.
struct StepOutcome {
    double loss = 0;
    std::map<std::string, double> terms = {};  // the loss's named parts, recorded per step
    double tokens = 0;                         // tokens processed, for the progress line's rate
    bool update = true;
};

struct LoopResult {
    std::vector<double> losses;                        // per recorded step, resumed ones included
    std::vector<std::map<std::string, double>> terms;  // per recorded step, by name
    index_t steps = 0;                                 // optimiser steps in total, resumed ones included
    index_t resumed_from = 0;                          // the step the checkpoint gave, 0 if none
    double tokens_per_second = 0;                      // over the steps this run took
};

/// A hook after each optimiser step that does nothing.
struct NoHook {
    void operator()(index_t) const {}
};

namespace detail {

inline const std::string history_key = "loop.history";  // saved as checkpoint metadata "user.loop.history"

/// The recorded losses and terms as JSON (NaN terms as null), so a resumed run returns the whole history.
inline std::string history_json(const LoopResult& r) {
    nlohmann::json j = nlohmann::json::array();
    for (std::size_t i = 0; i < r.losses.size(); ++i) {
        nlohmann::json terms = nlohmann::json::object();
        for (const auto& [name, v] : r.terms[i]) terms[name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
        j.push_back({{"loss", r.losses[i]}, {"terms", std::move(terms)}});
    }
    return j.dump();
}

inline void read_history(const std::string& text, const std::filesystem::path& file, LoopResult& r) {
    try {
        for (const auto& step : nlohmann::json::parse(text)) {
            r.losses.push_back(step.at("loss").get<double>());
            std::map<std::string, double> terms;
            for (const auto& [name, v] : step.at("terms").items()) terms[name] = v.is_null() ? std::nan("") : v.get<double>();
            r.terms.push_back(std::move(terms));
        }
    } catch (const nlohmann::json::exception& e) {
        throw parse_error(file.string() + ": checkpoint metadata '" + history_key + "' is malformed: " + e.what());
    }
}

/// Throws value_error when a step's loss is not finite, naming the step, the terms and the checkpoint.
inline void check_finite(const StepOutcome& out, index_t step, const LoopOptions& opt) {
    if (std::isfinite(out.loss)) return;
    std::string parts;
    for (const auto& [name, v] : out.terms) parts += (parts.empty() ? "" : ", ") + name + " = " + std::to_string(v);
    throw value_error(opt.name + " stopped: the loss is " + std::to_string(out.loss) + " at step " + std::to_string(step + 1) +
                      (parts.empty() ? std::string() : " (" + parts + ")") +
                      (opt.checkpoint.empty() ? std::string() : "; last checkpoint: " + opt.checkpoint.string()));
}

}  // namespace detail

namespace detail {

template <FloatElement T, Device D, class Step, class After, class State, optim::Optimizer O>
LoopResult loop_body(const optim::ParameterList<T, D>& params, index_t total_steps, const LoopOptions& opt, Step& step, After& after,
                     State& state, O& optimiser) {
    const optim::LinearWarmup warmup{opt.warmup_steps};
    LoopResult res;
    const bool checkpointing = !opt.checkpoint.empty();
    if (checkpointing && opt.resume && std::filesystem::exists(opt.checkpoint)) {
        const CheckpointInfo info = load_checkpoint(opt.checkpoint, params, optimiser, nullptr, &state);
        res.resumed_from = info.step;
        if (auto it = info.metadata.find(detail::history_key); it != info.metadata.end())
            detail::read_history(it->second, opt.checkpoint, res);
    }
    auto save = [&](index_t done) {
        save_checkpoint(opt.checkpoint, params, optimiser, {.step = done, .generator = nullptr, .metadata = {{detail::history_key, detail::history_json(res)}}},
                        state);
    };
    Progress progress(total_steps, 10, opt.quiet);
    if (res.resumed_from > 0)
        progress.note(opt.name + ": resumed from step " + std::to_string(res.resumed_from) + " (" + opt.checkpoint.string() + ")");
    const auto start = std::chrono::steady_clock::now();
    double tokens = 0;
    for (index_t s = res.resumed_from; s < total_steps; ++s) {
        StepOutcome out = step(s);
        if (out.update) {
            detail::check_finite(out, s, opt);
            if (opt.clip_norm > 0) optim::clip_grad_norm(params, opt.clip_norm);
            optimiser.set_lr_multiplier(warmup(s));
            optimiser.step();
            res.losses.push_back(out.loss);
            res.terms.push_back(std::move(out.terms));
            tokens += out.tokens;
            progress.update(s + 1, out.loss, tokens);
        }
        optimiser.zero_grad();
        after(s);
        if (checkpointing && ((opt.checkpoint_every > 0 && (s + 1) % opt.checkpoint_every == 0) || s + 1 == total_steps)) save(s + 1);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    res.tokens_per_second = secs > 0 ? tokens / secs : 0;
    res.steps = std::max(res.resumed_from, total_steps);
    return res;
}

}  // namespace detail

namespace detail {
/// body(optimiser) for the rule Rule over `params`: bf16 parameters through f32 master weights
/// (optim/master_weights.hpp) unless opt.master_weights is off.
template <class Rule, FloatElement T, Device D, class Body>
decltype(auto) with_rule(const optim::ParameterList<T, D>& params, const LoopOptions& opt, const typename Rule::options_type& o,
                         Body& body) {
    if constexpr (std::is_same_v<T, bf16>) {
        if (opt.master_weights) {
            optim::MasterWeights<Rule, D> m(params, o);
            return body(m);
        }
    }
    optim::BasicOptimizer<Rule, T, D> b(params, o);
    return body(b);
}
}  // namespace detail

/// Calls `body(optimiser)` with the optimiser opt.optimizer names, over `params`.
template <FloatElement T, Device D, class Body>
decltype(auto) with_optimizer(const optim::ParameterList<T, D>& params, const LoopOptions& opt, Body&& body) {
    switch (opt.optimizer) {
        case Optimizer::adam: return detail::with_rule<optim::AdamRule<false>>(params, opt, {.lr = opt.lr, .weight_decay = opt.weight_decay}, body);
        case Optimizer::sgd:
            return detail::with_rule<optim::SgdRule>(params, opt, {.lr = opt.lr, .momentum = 0.9, .weight_decay = opt.weight_decay}, body);
        default: return detail::with_rule<optim::AdamRule<true>>(params, opt, {.lr = opt.lr, .weight_decay = opt.weight_decay}, body);
    }
}

/// Runs steps 0 .. total_steps - 1 of `step(index_t s) -> StepOutcome` over `params` (resuming from
/// opt.checkpoint when it exists and opt.resume is set), calling `after(s)` once the update of step s
/// is done. `state` is saved with every checkpoint and restored on resume.
template <FloatElement T, Device D, class Step, class After, CheckpointState State>
LoopResult run_loop(const optim::ParameterList<T, D>& params, index_t total_steps, const LoopOptions& opt, Step&& step,
                    After&& after, State& state) {
    if (params.empty()) throw value_error(opt.name + ": the model has no trainable parameters");
    if (total_steps < 0) throw value_error(opt.name + ": the number of steps must be >= 0, got " + std::to_string(total_steps));
    if (opt.checkpoint_every < 0) throw value_error(opt.name + ": checkpoint_every must be >= 0");
    return with_optimizer(params, opt, [&](auto& optimiser) { return detail::loop_body(params, total_steps, opt, step, after, state, optimiser); });
}

/// run_loop with no hook and no state of the driver's own.
template <FloatElement T, Device D, class Step>
LoopResult run_loop(const optim::ParameterList<T, D>& params, index_t total_steps, const LoopOptions& opt, Step&& step) {
    NoState none;
    return run_loop(params, total_steps, opt, std::forward<Step>(step), NoHook{}, none);
}

}  // namespace ward::train
