#pragma once
// Direct preference optimisation and its variants, on the shared training loop. With
//   h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) - log pi_ref(y_l))   (sums over the answers' tokens)
// the per-pair losses are
//   sigmoid       -log sigmoid(beta h)                                          (Rafailov et al. 2023)
//   conservative  -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)     (cDPO: label smoothing, Mitchell 2023)
//   robust        (-(1 - eps) log sigmoid(beta h) + eps log sigmoid(-beta h)) / (1 - 2 eps)
//                 (rDPO, Chowdhury et al. 2024: unbiased under labels flipped with probability eps < 1/2)
//   ipo           (h - 1 / (2 beta))^2                                          (Azar et al. 2023, with summed log-probs)
// The reference's log-likelihoods are computed once, before training. A constraint (rl/constraint.hpp)
// adds its loss terms to every step; one whose signals need policy samples (KL penalty, reward shaping,
// Lagrangian) gets, at every step, `samples` completions of the sample prompts, and adds the REINFORCE
// loss of its shaped objective (rl/reinforce.hpp) to the DPO loss. Checkpoints carry the constraint's
// state and the step logs, so a resumed run ends bit-identical to an uninterrupted one.

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ward/autograd/precision.hpp"
#include "ward/rl/preference.hpp"
#include "ward/rl/reinforce.hpp"
#include "ward/rl/state.hpp"

namespace ward::rl {

enum class DpoVariant { sigmoid, conservative, robust, ipo };

/// The mean DPO loss over pairs; policy log-likelihoods (B) are Vars, the reference's constants.
template <FloatElement T, Device D>
ag::Var<T, D> dpo_loss(const ag::Var<T, D>& chosen, const ag::Var<T, D>& rejected, const Tensor<T, D>& ref_chosen, const Tensor<T, D>& ref_rejected,
                       double beta, DpoVariant variant = DpoVariant::sigmoid, double eps = 0.0) {
    if (!(chosen.shape() == rejected.shape()) || !(ref_chosen.shape() == chosen.shape()) || !(ref_rejected.shape() == chosen.shape()))
        throw shape_error("dpo_loss: log-likelihoods " + chosen.shape().str() + ", " + rejected.shape().str() + ", " + ref_chosen.shape().str() +
                          ", " + ref_rejected.shape().str() + " differ");
    if (!(beta > 0) || !std::isfinite(beta)) throw value_error("dpo_loss: beta must be finite and > 0, got " + std::to_string(beta));
    if (!(eps >= 0 && eps < 0.5)) throw value_error("dpo_loss: label smoothing must lie in [0, 0.5), got " + std::to_string(eps));
    ag::Var<T, D> h = (chosen - ag::Var<T, D>(ref_chosen)) - (rejected - ag::Var<T, D>(ref_rejected));
    switch (variant) {
        case DpoVariant::sigmoid: return -ag::mean(ag::log_sigmoid(h * beta));
        case DpoVariant::conservative:
            return -ag::mean(ag::log_sigmoid(h * beta) * (1.0 - eps) + ag::log_sigmoid(h * -beta) * eps);
        case DpoVariant::robust:
            return ag::mean(ag::log_sigmoid(h * beta) * (-(1.0 - eps)) + ag::log_sigmoid(h * -beta) * eps) * (1.0 / (1.0 - 2.0 * eps));
        default: return ag::mean(ag::square(h - 1.0 / (2.0 * beta)));
    }
}

inline std::string to_string(DpoVariant v) {
    switch (v) {
        case DpoVariant::sigmoid: return "sigmoid";
        case DpoVariant::conservative: return "cdpo";
        case DpoVariant::robust: return "rdpo";
        default: return "ipo";
    }
}

struct DpoOptions {
    double beta = 0.1;
    DpoVariant variant = DpoVariant::sigmoid;
    double label_smoothing = 0.0;  // eps of cDPO / rDPO
    double lr = 1e-5;
    double weight_decay = 0.0;
    index_t epochs = 1;
    index_t batch_size = 8;  // pairs per step
    index_t max_steps = -1;
    index_t max_len = 1024;
    index_t warmup_steps = 0;
    double clip_norm = 1.0;
    std::int64_t pad_id = 0;
    // The constraint's samples (only when it uses them): completions per step, how they are drawn.
    index_t samples = 8;
    SamplingOptions sampling;
    KlEstimator kl_estimator = KlEstimator::k1;
    std::uint64_t seed = 0;
    std::filesystem::path checkpoint;
    index_t checkpoint_every = 0;
    bool resume = true;
    bool quiet = false;
};

struct DpoResult {
    std::vector<IterationLog> steps;  // per step: loss, implicit reward accuracy and margin, the samples' cost and KL, the constraint's values
    train::LoopResult loop;
};

/// Trains `model` by DPO on `pairs` against the frozen `reference`. `sample_prompts`, `codec` and `cost`
/// serve a constraint that uses samples (pass an empty PromptSet and NoScorer otherwise).
template <FloatElement T, Device D, Constraint C, Scorer Co, class OnStep = std::function<void(index_t, IterationLog&)>>
DpoResult dpo(nn::CausalLM<T, D>& model, const nn::CausalLM<T, D>& reference, const std::vector<TokenPreference>& pairs, C& constraint,
              const DpoOptions& opt, const PromptSet& sample_prompts, const TextCodec& codec, Co& cost,
              OnStep on_step = [](index_t, IterationLog&) {}) {
    if (pairs.empty()) throw value_error("dpo: no preference pairs");
    if (opt.batch_size <= 0) throw value_error("dpo: batch size must be positive");
    const bool sampling = constraint.uses_samples();
    if (sampling && (sample_prompts.size() == 0 || opt.samples < 2))
        throw value_error("dpo: the constraint '" + std::string(constraint.name()) + "' learns from samples: give sample prompts and samples >= 2");
    // The reference's log-likelihood of every answer, once, summed over tokens in double: a bf16 sum
    // of twenty tokens' log-probs is only good to 1/16 nat, more than DPO's margins at the start.
    std::vector<double> ref_chosen, ref_rejected;
    for (std::size_t start = 0; start < pairs.size(); start += static_cast<std::size_t>(opt.batch_size)) {
        std::vector<std::vector<std::int64_t>> p, c, r;
        for (std::size_t i = start; i < std::min(pairs.size(), start + static_cast<std::size_t>(opt.batch_size)); ++i) {
            p.push_back(pairs[i].prompt);
            c.push_back(pairs[i].chosen);
            r.push_back(pairs[i].rejected);
        }
        for (double v : response_log_likelihoods(reference, make_sequence_batch(p, c, opt.pad_id, opt.max_len))) ref_chosen.push_back(v);
        for (double v : response_log_likelihoods(reference, make_sequence_batch(p, r, opt.pad_id, opt.max_len))) ref_rejected.push_back(v);
    }
    const index_t per_epoch = (static_cast<index_t>(pairs.size()) + opt.batch_size - 1) / opt.batch_size;
    index_t total = per_epoch * opt.epochs;
    if (opt.max_steps >= 0) total = std::min(total, opt.max_steps);
    DpoResult res;
    IterationLog pending;
    std::vector<std::size_t> order;
    index_t order_epoch = -1;
    NoScorer no_reward;
    auto step = [&](index_t s) {
        const index_t epoch = s / per_epoch, k = s % per_epoch;
        if (epoch != order_epoch) {
            order = shuffled_indices(pairs.size(), Generator(opt.seed, 0x64706f00u + static_cast<std::uint64_t>(epoch)));
            order_epoch = epoch;
        }
        UpdateContext<T, D> ctx{model, &reference, s, opt.seed, 1.0, {}};
        ag::Var<T, D> total_loss = constraint.loss(ctx);
        pending = {{"step", double(s)}};
        if (sampling) {
            const auto rows = draw_rows(sample_prompts.size(), static_cast<std::size_t>(opt.samples), opt.seed ^ 0x73616d70u, static_cast<std::uint64_t>(s));
            SampledBatch b = sample_and_score(model, reference, sample_prompts, rows, 1, codec, no_reward, cost, constraint, opt.sampling, opt.kl_estimator,
                                              opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(s), opt.max_len);
            for (const auto& [key, v] : b.log)  // the samples' cost, KL and the constraint's lambda (their reward is 0: DPO has none)
                if (key != "reward") pending[key] = v;
            ag::Var<T, D> pg = reinforce_loss(model, b.completions, b.advantage, opt.sampling.pad_id, opt.max_len);
            total_loss = total_loss.defined() ? total_loss + pg : pg;
        }
        train::StepOutcome out;
        if (ctx.attack_weight != 0) {
            using W = compute_t<T>;
            std::vector<std::vector<std::int64_t>> p, c, r;
            std::vector<double> rc, rr;
            for (std::size_t i = static_cast<std::size_t>(k * opt.batch_size); i < std::min(order.size(), static_cast<std::size_t>((k + 1) * opt.batch_size)); ++i) {
                const TokenPreference& x = pairs[order[i]];
                p.push_back(x.prompt);
                c.push_back(x.chosen);
                r.push_back(x.rejected);
                rc.push_back(ref_chosen[order[i]]);
                rr.push_back(ref_rejected[order[i]]);
            }
            const auto n = static_cast<index_t>(p.size());
            // Chosen and rejected answers in one pass; the tokens' log-probs are summed and the loss
            // computed in f32 (in_f32: f itself for f32 models), against the reference's sums.
            std::vector<std::vector<std::int64_t>> pp = p, aa = c;
            pp.insert(pp.end(), p.begin(), p.end());
            aa.insert(aa.end(), r.begin(), r.end());
            const SequenceBatch sb = make_sequence_batch(pp, aa, opt.pad_id, opt.max_len);
            ag::Var<T, D> tokens = policy_pass(model, sb).log_probs;  // (2n, L)
            const Tensor<W, D> trc = Tensor<W, D>::from_vector(std::vector<W>(rc.begin(), rc.end()), {n}),
                               trr = Tensor<W, D>::from_vector(std::vector<W>(rr.begin(), rr.end()), {n});
            ag::Var<T, D> loss = ag::in_f32(
                [&](const auto& v) {
                    const auto sums = ag::sum(v[0], 1);
                    return dpo_loss(ag::slice(sums, 0, 0, n), ag::slice(sums, 0, n, 2 * n), trc, trr, opt.beta, opt.variant, opt.label_smoothing);
                },
                std::vector<ag::Var<T, D>>{tokens});
            const std::vector<double> policy = row_sums(sb, host_doubles(tokens.value()));
            double accuracy = 0, mean_margin = 0;
            for (index_t i = 0; i < n; ++i) {
                const auto at = static_cast<std::size_t>(i);
                const double m = (policy[at] - rc[at]) - (policy[at + static_cast<std::size_t>(n)] - rr[at]);
                accuracy += m > 0 ? 1.0 / double(n) : 0.0;
                mean_margin += opt.beta * m / double(n);
            }
            pending["dpo_loss"] = double(loss.value().item());
            pending["reward_accuracy"] = accuracy;
            pending["reward_margin"] = mean_margin;
            loss = loss * ctx.attack_weight;
            total_loss = total_loss.defined() ? total_loss + loss : loss;
            out.tokens = double(2 * n);
        }
        for (const auto& [key, v] : ctx.values) pending[key] = v;
        out.loss = double(total_loss.value().item());
        out.terms = pending;
        if (std::isfinite(out.loss)) total_loss.backward();
        return out;
    };
    auto after = [&](index_t s) {
        on_step(s, pending);
        res.steps.push_back(pending);
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = opt.warmup_steps, .clip_norm = opt.clip_norm,
                                  .checkpoint = opt.checkpoint, .checkpoint_every = opt.checkpoint_every, .resume = opt.resume, .quiet = opt.quiet,
                                  .name = "dpo"};
    detail::RlState<C> state{&constraint, &res.steps, "rl.dpo.steps"};
    res.loop = train::run_loop(nn::parameters<T, D>(model), total, loop, step, after, state);
    return res;
}

}  // namespace ward::rl
