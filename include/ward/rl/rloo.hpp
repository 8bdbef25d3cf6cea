#pragma once
// RLOO (Ahmadian et al. 2024): each iteration samples k completions of each of `prompts_per_iteration`
// prompts, and one REINFORCE update uses the leave-one-out baseline over each prompt's k samples
// (rl/reinforce.hpp), with the constraint's KL penalty, shaping and Lagrangian mix. One loop step is one
// iteration, checkpointed every `checkpoint_every` iterations with the constraint's state and the logs.

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ward/rl/reinforce.hpp"
#include "ward/rl/state.hpp"

namespace ward::rl {

struct RlooOptions {
    index_t iterations = 20;
    index_t prompts_per_iteration = 8;
    index_t k = 4;  // samples per prompt (>= 2)
    double lr = 1e-5;
    double weight_decay = 0.0;
    double clip_norm = 1.0;
    index_t warmup_steps = 0;
    KlEstimator kl_estimator = KlEstimator::k1;
    SamplingOptions sampling;
    index_t max_len = 1024;
    std::uint64_t seed = 0;
    std::filesystem::path checkpoint;
    index_t checkpoint_every = 0;
    bool resume = true;
    bool quiet = false;
};

struct RlooResult {
    std::vector<IterationLog> iterations;
    train::LoopResult loop;
};

template <FloatElement T, Device D, Scorer R, Scorer Co, Constraint C, class OnIteration = std::function<void(index_t, IterationLog&)>>
RlooResult rloo(nn::CausalLM<T, D>& model, const nn::CausalLM<T, D>& reference, const PromptSet& prompts, const TextCodec& codec, R& reward,
                Co& cost, C& constraint, const RlooOptions& opt, OnIteration on_iteration = [](index_t, IterationLog&) {}) {
    if (opt.k < 2) throw value_error("rloo: k must be >= 2 (the baseline leaves one sample out), got " + std::to_string(opt.k));
    if (opt.prompts_per_iteration <= 0 || opt.iterations < 0) throw value_error("rloo: prompts_per_iteration must be positive and iterations >= 0");
    if (prompts.size() == 0) throw value_error("rloo: no prompts");
    RlooResult res;
    IterationLog pending;
    auto step = [&](index_t s) {
        UpdateContext<T, D> ctx{model, &reference, s, opt.seed, 1.0, {}};
        ag::Var<T, D> total = constraint.loss(ctx);
        const auto rows = draw_rows(prompts.size(), static_cast<std::size_t>(opt.prompts_per_iteration), opt.seed, static_cast<std::uint64_t>(s));
        SampledBatch b = sample_and_score(model, reference, prompts, rows, static_cast<std::size_t>(opt.k), codec, reward, cost, constraint, opt.sampling,
                                          opt.kl_estimator, opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(s), opt.max_len);
        pending = b.log;
        pending["iteration"] = double(s);
        train::StepOutcome out;
        if (ctx.attack_weight != 0) {
            ag::Var<T, D> pg = reinforce_loss(model, b.completions, b.advantage, opt.sampling.pad_id, opt.max_len) * ctx.attack_weight;
            pending["policy_loss"] = double(pg.value().item());
            total = total.defined() ? total + pg : pg;
        }
        for (const auto& [key, x] : ctx.values) pending[key] = x;
        out.loss = double(total.value().item());
        out.terms = pending;
        out.tokens = double(b.completions.size());
        if (std::isfinite(out.loss)) total.backward();
        return out;
    };
    auto after = [&](index_t s) {
        on_iteration(s, pending);
        res.iterations.push_back(pending);
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = opt.warmup_steps, .clip_norm = opt.clip_norm,
                                  .checkpoint = opt.checkpoint, .checkpoint_every = opt.checkpoint_every, .resume = opt.resume, .quiet = opt.quiet,
                                  .name = "rloo"};
    detail::RlState<C> state{&constraint, &res.iterations, "rl.rloo.iterations"};
    res.loop = train::run_loop(nn::parameters<T, D>(model), opt.iterations, loop, step, after, state);
    return res;
}

}  // namespace ward::rl
