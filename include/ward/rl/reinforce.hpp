#pragma once
// REINFORCE with a leave-one-out baseline on sampled completions: the update of RLOO (Ahmadian et al.
// 2024, "Back to Basics") and the way constraints act under DPO, which has no rollouts of its own.
// A batch of completions is sampled, scored and measured; the constraint observes it and shapes its
// signals; each sample's return is R_i = reward_i - beta KL_i (KL_i its sequence KL to the reference)
// and its cost C_i; each is baselined by the mean of the other samples of its group (the k samples of
// one prompt), and the advantage is the constraint's mix (R - lambda C) / (1 + lambda). The loss
//   -mean_i A_i sum_t log pi(y_i,t)
// has the policy gradient of the shaped objective as its gradient.

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ward/rl/constraint.hpp"
#include "ward/rl/kl.hpp"
#include "ward/rl/rollout.hpp"
#include "ward/rl/scorer.hpp"
#include "ward/rl/sequence.hpp"

namespace ward::rl {

/// x_i minus the mean of the other entries of its group (groups of `group` consecutive entries).
inline std::vector<double> leave_one_out(const std::vector<double>& x, std::size_t group) {
    if (group < 2) throw value_error("leave_one_out: groups need at least 2 samples, got " + std::to_string(group));
    if (x.size() % group != 0)
        throw shape_error("leave_one_out: " + std::to_string(x.size()) + " samples do not split into groups of " + std::to_string(group));
    std::vector<double> out(x.size());
    for (std::size_t g = 0; g < x.size(); g += group) {
        double total = 0;
        for (std::size_t i = g; i < g + group; ++i) total += x[i];
        for (std::size_t i = g; i < g + group; ++i) out[i] = x[i] - (total - x[i]) / double(group - 1);
    }
    return out;
}

/// -mean_i advantage_i * (sum of the log-probs of completion i's tokens).
template <FloatElement T, Device D>
ag::Var<T, D> reinforce_loss(const nn::CausalLM<T, D>& model, const Completions& c, const std::vector<double>& advantages, std::int64_t pad_id,
                          index_t max_len = 1024) {
    if (advantages.size() != c.size())
        throw shape_error("reinforce_loss: " + std::to_string(advantages.size()) + " advantages for " + std::to_string(c.size()) + " completions");
    const SequenceBatch b = make_sequence_batch(c.prompt_ids, c.completion_ids, pad_id, max_len);
    std::vector<T> a;
    for (double v : advantages) a.push_back(T(v));
    ag::Var<T, D> logp = sequence_log_probs(model, b);  // (B)
    return -ag::mean(logp * ag::Var<T, D>(Tensor<T, D>::from_vector(a, {b.rows()})));
}

/// One scored batch of samples and what the constraint made of it.
struct SampledBatch {
    Completions completions;
    std::vector<double> reward, cost, kl, advantage;  // per sample (reward, cost as scored; kl per sequence)
    std::map<std::string, double> log;                // means, and the constraint's report
};

/// Samples `group` completions of each of prompts[rows], scores them, lets the constraint observe and
/// shape the batch, and computes each sample's leave-one-out advantage. `reward` may be a NoScorer
/// (DPO's samples: the reward then is 0 and only the constraint's terms drive the gradient).
template <FloatElement T, Device D, Scorer R, Scorer Co, Constraint C>
SampledBatch sample_and_score(const nn::CausalLM<T, D>& policy, const nn::CausalLM<T, D>& reference, const PromptSet& prompts,
                              const std::vector<std::size_t>& rows, std::size_t group, const TextCodec& codec, R& reward, Co& cost,
                              C& constraint, const SamplingOptions& sampling, KlEstimator estimator, std::uint64_t seed, index_t max_len = 1024) {
    std::vector<std::size_t> expanded;
    for (std::size_t r : rows)
        for (std::size_t k = 0; k < group; ++k) expanded.push_back(r);
    SampledBatch s;
    s.completions = sample_completions(policy, prompts, expanded, sampling, codec, seed);
    const std::size_t n = s.completions.size();
    const SequenceBatch b = make_sequence_batch(s.completions.prompt_ids, s.completions.completion_ids, sampling.pad_id, max_len);
    const std::vector<double> lp = token_log_probs_of(policy, b), ref = token_log_probs_of(reference, b);
    const std::vector<double> mask = [&] {
        const auto m = b.response_mask<double>().to_vector();
        return std::vector<double>(m.begin(), m.end());
    }();
    s.kl.assign(n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (index_t t = 0; t < b.width(); ++t) {
            const std::size_t at = i * static_cast<std::size_t>(b.width()) + static_cast<std::size_t>(t);
            if (mask[at] != 0) s.kl[i] += kl_estimate(estimator, lp[at], ref[at]);
        }
    s.reward = reward.score(s.completions);
    if (s.reward.empty()) s.reward.assign(n, 0.0);
    check_scores("reward '" + std::string(reward.name()) + "'", s.reward, n);
    s.cost = cost.score(s.completions);
    if (!s.cost.empty()) check_scores("cost '" + std::string(cost.name()) + "'", s.cost, n);
    else if (constraint.needs_cost()) throw value_error("the constraint '" + std::string(constraint.name()) + "' needs a cost scorer");
    auto mean = [n](const std::vector<double>& v) {
        double t = 0;
        for (double x : v) t += x;
        return v.empty() ? unmeasured : t / double(n);
    };
    constraint.observe({mean(s.cost), mean(s.kl), double(n)});
    Signals sig{s.reward, s.cost};
    constraint.shape(sig);
    std::vector<double> ret(n), cst(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        ret[i] = sig.reward[i] - sig.kl_coef * s.kl[i];
        if (!s.cost.empty()) cst[i] = s.cost[i];
    }
    const std::size_t g = group >= 2 ? group : n;  // one sample per prompt: the whole batch is the group
    const auto ar = leave_one_out(ret, g), ac = leave_one_out(cst, g);
    for (std::size_t i = 0; i < n; ++i) s.advantage.push_back(mix_advantage(sig, ar[i], ac[i]));
    s.log = {{"reward", mean(s.reward)}, {"cost", mean(s.cost)}, {"kl", mean(s.kl)}, {"kl_coef_used", sig.kl_coef}, {"lambda_used", sig.cost_coef}};
    constraint.report(s.log);
    return s;
}

}  // namespace ward::rl
