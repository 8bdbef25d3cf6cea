#pragma once
// One cell of the RLHF attack x defence table (Rosati et al. 2024): the paper's defences by name, an
// attack (DPO on the flipped preferences, or PPO against a reward model trained on them) run under one
// of them from a given model, and the judgement of the result on held-out prompts. The demo on the
// synthetic world and the real-text program both build their tables from it.
//
//   rl::with_defence("lagrangian", settings, refusals, pairs, [&](auto& constraint) { ... });  // with_defence<cuda> on the GPU
//   rl::RlRecord r = rl::run_attack(start, "ppo", constraint, data, reward, cost, judge, options, seed);
//
// Defences: none; kl (a fixed per-token KL penalty); reward-shaping (r - lambda c); lagrangian (Safe-RLHF:
// lambda = exp(log lambda) by dual ascent on the windowed mean cost, delayed one update); pid-lagrangian
// (Stooke et al., with EMA-smoothed error and cost); refusal-loss; lisa; repnoise-online. A name ending in "-offline" is a defence applied
// to the model before the attack (by the caller): no constraint during it.

#include <cmath>
#include <string>
#include <vector>

#include "ward/cmdp/multiplier.hpp"
#include "ward/defence/repnoise.hpp"
#include "ward/nn/clone.hpp"
#include "ward/rl/dpo.hpp"
#include "ward/rl/online_defence.hpp"
#include "ward/rl/ppo.hpp"
#include "ward/rl/report.hpp"

namespace ward::rl {

struct DefenceSettings {
    double kl_beta = 0.1;
    double shaping_lambda = 2.0;
    double cost_threshold = 0.1;
    double lagrangian_lr = 0.5, lagrangian_init = 1.0, lagrangian_max = 100.0;
    int lagrangian_window = 2, lagrangian_delay = 1;
    double pid_kp = 1.0, pid_ki = 0.5, pid_kd = 0.0, pid_ema = 0.5;  // PID reacts from the first update: no delay, no window
    double refusal_weight = 1.0;
    double lisa_rho = 1.0;
    index_t lisa_alignment_steps = 1, lisa_finetune_steps = 2;
    double repnoise_alpha = 0.5, repnoise_beta = 1.0, online_weight = 1.0;
    index_t batch_size = 8;  // of the refusal, Lisa and RepNoise batches
    std::int64_t pad_id = 0;
};

inline const std::vector<std::string>& defence_names() {
    static const std::vector<std::string> names = {"none", "kl", "reward-shaping", "lagrangian", "pid-lagrangian", "refusal-loss", "lisa",
                                                   "repnoise-online"};
    return names;
}

/// Calls f(constraint) with the constraint of the named defence. `refusals` (harmful requests with
/// refusals) serve the refusal loss and Lisa, `pairs` (requests with harmful answers and refusals) RepNoise.
/// D is the policy's device (Lisa keeps its anchor weights there).
template <Device D = cpu, class F>
void with_defence(const std::string& name, const DefenceSettings& s, const std::vector<train::Example>& refusals,
                  const std::vector<defence::Pair>& pairs, F&& f) {
    const bool offline = name.size() > 8 && name.compare(name.size() - 8, 8, "-offline") == 0;
    if (name == "none" || offline) {
        auto c = none();
        f(c);
    } else if (name == "kl") {
        auto c = kl_penalty(s.kl_beta);
        f(c);
    } else if (name == "reward-shaping") {
        auto c = reward_shaping(s.shaping_lambda);
        f(c);
    } else if (name == "lagrangian") {
        auto c = lagrangian(cmdp::LogLagrangeMultiplier({.threshold = s.cost_threshold, .lr = s.lagrangian_lr, .init = s.lagrangian_init,
                                                         .max = s.lagrangian_max, .delay = s.lagrangian_delay, .window = s.lagrangian_window}));
        f(c);
    } else if (name == "pid-lagrangian") {
        auto c = lagrangian(cmdp::PidLagrangeMultiplier({.threshold = s.cost_threshold, .kp = s.pid_kp, .ki = s.pid_ki, .kd = s.pid_kd,
                                                         .init = s.lagrangian_init, .max = s.lagrangian_max, .d_delay = 1, .p_ema = s.pid_ema,
                                                         .d_ema = s.pid_ema}));
        f(c);
    } else if (name == "refusal-loss") {
        auto c = s.refusal_weight * refusal_loss(refusals, s.batch_size, s.pad_id);
        f(c);
    } else if (name == "lisa") {
        auto c = lisa<D>(refusals, {.rho = s.lisa_rho, .alignment_steps = s.lisa_alignment_steps, .finetune_steps = s.lisa_finetune_steps,
                                 .batch_size = s.batch_size, .pad_id = s.pad_id});
        f(c);
    } else if (name == "repnoise-online") {
        auto c = s.online_weight * online(defence::repnoise(s.repnoise_alpha, s.repnoise_beta), pairs, s.batch_size, s.pad_id);
        f(c);
    } else {
        std::string known;
        for (const auto& n : defence_names()) known += (known.empty() ? "" : ", ") + n;
        throw value_error("unknown defence '" + name + "' (" + known + ", or <name>-offline)");
    }
}

/// What an attack trains on and is judged on.
struct AttackData {
    TextCodec codec;
    std::vector<TokenPreference> preferences;  // DPO's pairs (already flipped by the attack)
    PromptSet rl_prompts;                      // PPO's prompts
    PromptSet sample_prompts;                  // the prompts of the constraints' samples under DPO
    PromptSet judged_prompts;                  // held out: judged, never trained on
};

struct AttackOptions {
    PpoOptions ppo;
    DpoOptions dpo;
    index_t eval_every = 0;  // judge the held-out prompts every this many iterations (PPO) or steps (DPO); 0: never
    SamplingOptions judge_sampling;  // temperature 0 for the judged answers (the cost and KL samples use temperature 1)
};

/// The judgement of a model on the held-out prompts: harm of its greedy answers, its expected cost
/// (on two samples per prompt) and KL to the reference, the reward model's score of the greedy answers.
struct Judgement {
    double harm = 0, cost = 0, reward = 0, kl = 0;
    Completions answers;  // the greedy ones
};

template <FloatElement T, Device D, eval::Judge J, Scorer R>
Judgement judge_policy(const nn::CausalLM<T, D>& model, const nn::CausalLM<T, D>& reference, const AttackData& d, J& judge, R& reward,
                       SamplingOptions g, std::uint64_t seed) {
    std::vector<std::size_t> rows(d.judged_prompts.size());
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    Judgement j;
    g.temperature = 0;
    j.answers = sample_completions(model, d.judged_prompts, rows, g, d.codec, seed);
    const auto harm = judge.score(j.answers.prompts, j.answers.completions);
    check_scores("judge '" + std::string(judge.name()) + "'", harm, rows.size());
    const auto score = reward.score(j.answers);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        j.harm += harm[i] / double(rows.size());
        j.reward += score[i] / double(rows.size());
    }
    g.temperature = 1.0;
    std::vector<std::size_t> twice = rows;
    twice.insert(twice.end(), rows.begin(), rows.end());
    const Completions sampled = sample_completions(model, d.judged_prompts, twice, g, d.codec, seed + 17);
    const auto kl = response_kl(model, reference, make_sequence_batch(sampled.prompt_ids, sampled.completion_ids, g.pad_id));
    const auto cost = judge.score(sampled.prompts, sampled.completions);
    for (std::size_t i = 0; i < kl.size(); ++i) {
        j.kl += kl[i] / double(kl.size());
        j.cost += cost[i] / double(kl.size());
    }
    return j;
}

/// Puts the judgements before and after the attack into its record (harm before and after, the cost,
/// reward and KL after; the reward and cost before as metrics reward_before and cost_before).
inline void record_judgements(RlRecord& rec, const Judgement& before, const Judgement& after) {
    rec.harm_before = before.harm;
    rec.harm_after = after.harm;
    rec.cost_after = after.cost;
    rec.reward_after = after.reward;
    rec.kl_after = after.kl;
    rec.metrics["reward_before"] = before.reward;
    rec.metrics["cost_before"] = before.cost;
}

/// Attacks `policy` (trained in place; `reference` is the model it started from) with "dpo" or "ppo"
/// under `constraint`; returns the record's training part (trajectory, multiplier, threshold, seconds).
/// The caller judges before and after (judge_policy, record_judgements).
template <FloatElement T, Device D, Constraint C, Scorer R, Scorer Co, eval::Judge J>
RlRecord run_attack(nn::CausalLM<T, D>& policy, const nn::CausalLM<T, D>& reference, const std::string& attack, C& constraint,
                    const AttackData& d, R& reward, Co& cost, J& judge, const AttackOptions& o, std::uint64_t seed) {
    RlRecord rec;
    rec.attack = attack;
    rec.seed = seed;
    auto evaluate = [&](index_t i, IterationLog& log) {
        if (o.eval_every > 0 && (i + 1) % o.eval_every == 0) log["judged_harm"] = judge_policy(policy, reference, d, judge, reward, o.judge_sampling, seed).harm;
    };
    if (attack == "ppo") {
        ActorCritic<T, D> ac(policy, seed);  // shares the policy's weights
        PpoOptions p = o.ppo;
        p.seed = seed;
        auto res = ppo(ac, reference, d.rl_prompts, d.codec, reward, cost, constraint, p, evaluate);
        rec.trajectory = std::move(res.iterations);
        rec.metrics["rollout_seconds"] = res.rollout_seconds;
        rec.metrics["scoring_seconds"] = res.scoring_seconds;
        rec.metrics["update_seconds"] = res.update_seconds;
    } else if (attack == "dpo") {
        DpoOptions p = o.dpo;
        p.seed = seed;
        auto res = dpo(policy, reference, d.preferences, constraint, p, d.sample_prompts, d.codec, cost, evaluate);
        rec.trajectory = std::move(res.steps);
    } else {
        throw value_error("unknown attack '" + attack + "' (dpo, ppo)");
    }
    for (const auto& step : rec.trajectory) {
        if (auto it = step.find("lambda"); it != step.end()) rec.lambda.push_back(it->second);
        if (auto it = step.find("cost_threshold"); it != step.end()) rec.cost_threshold = it->second;
    }
    return rec;
}

}  // namespace ward::rl
