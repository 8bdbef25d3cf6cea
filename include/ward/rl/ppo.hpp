#pragma once
// PPO for language models (Ziegler et al. 2019, Ouyang et al. 2022), on the shared training loop.
// Each iteration samples completions of `rollouts` prompts with the KV-cache generator (seeded by seed
// and iteration), scores them (a reward scorer, and a cost scorer when given), and learns from them for
// `epochs` passes of minibatches:
//   token rewards   r_t = -beta KL_t  (+ the sequence's reward on its last token); KL_t by the k1 or k3
//                   estimator against the frozen reference; beta and the reward shaped by the constraint
//   advantages      GAE(gamma, lambda) with the value head, for the reward and (with a cost) for the cost
//                   with the cost value head; each whitened, then mixed by the constraint:
//                   (A_R - lambda A_C) / (1 + lambda)
//   loss            clipped surrogate + value_coef (clipped value loss of each head) + the constraint's terms
// One loop step is one minibatch update; the iteration's rollouts are made at its first step and
// checkpoints are written only at iteration boundaries, so a resumed run makes the same rollouts and
// ends bit-identical to an uninterrupted one (the constraint's state and the iteration logs travel in
// the checkpoint). The value heads share the policy's trunk (as TRL's value-head models do).
//
//   rl::ActorCritic<float> ac(nn::clone(aligned), seed);     // rl::ActorCritic<float, cuda> on the GPU
//   auto res = rl::ppo(ac, aligned, prompts, codec, reward, cost, constraint, {.iterations = 20});

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ward/rl/constraint.hpp"
#include "ward/rl/gae.hpp"
#include "ward/rl/kl.hpp"
#include "ward/rl/ppo_loss.hpp"
#include "ward/rl/reward_model.hpp"
#include "ward/rl/rollout.hpp"
#include "ward/rl/sequence.hpp"
#include "ward/rl/state.hpp"

namespace ward::rl {

/// A policy with two value heads on its final hidden states: the reward's and the cost's.
template <FloatElement T = float, Device D = cpu>
struct ActorCritic {
    nn::CausalLM<T, D> model;
    ScalarHead<T, D> value, cost_value;
    ActorCritic() = default;
    ActorCritic(nn::CausalLM<T, D> policy, std::uint64_t seed)
        : model(std::move(policy)), value(model.config.hidden, seed, 0.0), cost_value(model.config.hidden, seed + 1, 0.0) {}
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        model.visit(f, prefix);
        value.visit(f, nn::join(prefix, "value_head"));
        cost_value.visit(f, nn::join(prefix, "cost_value_head"));
    }
};

struct PpoOptions {
    index_t iterations = 10;
    index_t rollouts = 32;   // completions per iteration
    index_t epochs = 2;      // passes over each iteration's completions
    index_t minibatch = 16;  // completions per update
    double lr = 1e-5;
    double weight_decay = 0.0;
    double clip_norm = 1.0;
    index_t warmup_steps = 0;
    double clip_ratio = 0.2;
    double clip_value = 0.2;
    double value_coef = 0.1;
    double gamma = 1.0, lambda = 0.95;
    KlEstimator kl_estimator = KlEstimator::k1;
    bool whiten_advantages = true;
    SamplingOptions sampling;  // temperature 1 by default
    index_t max_len = 1024;
    std::uint64_t seed = 0;
    std::filesystem::path checkpoint;  // written at iteration boundaries (and at the end)
    bool resume = true;
    bool quiet = false;
};

struct PpoResult {
    std::vector<IterationLog> iterations;
    train::LoopResult loop;
    double rollout_seconds = 0, scoring_seconds = 0, update_seconds = 0;  // this run's (not resumed) time
};

namespace detail {

/// Per-row, per-response-token values laid out as a (B, L) tensor of a batch on device D (0 elsewhere).
template <FloatElement T, Device D>
Tensor<T, D> lay_out(const SequenceBatch& b, const std::vector<std::vector<double>>& rows) {
    std::vector<T> v(static_cast<std::size_t>(b.rows() * b.width()), T(0));
    for (index_t r = 0; r < b.rows(); ++r) {
        const auto& x = rows[static_cast<std::size_t>(r)];
        for (std::size_t j = 0; j < x.size(); ++j)
            v[static_cast<std::size_t>(r * b.width() + b.prompt_length[static_cast<std::size_t>(r)] - 1) + j] = T(x[j]);
    }
    return Tensor<T, D>::from_vector(v, {b.rows(), b.width()});
}
/// The response tokens' entries of a (B * L) row-major vector, per row.
inline std::vector<std::vector<double>> per_row(const SequenceBatch& b, const std::vector<double>& flat) {
    std::vector<std::vector<double>> out(static_cast<std::size_t>(b.rows()));
    for (index_t r = 0; r < b.rows(); ++r)
        for (index_t t = b.prompt_length[static_cast<std::size_t>(r)] - 1; t + 1 < b.length[static_cast<std::size_t>(r)]; ++t)
            out[static_cast<std::size_t>(r)].push_back(flat[static_cast<std::size_t>(r * b.width() + t)]);
    return out;
}

}  // namespace detail

/// What one iteration learns from: its completions and, per row and response token, the rollout's values.
struct PpoBatch {
    Completions completions;
    std::vector<std::vector<double>> logp, value, cost_value, advantage, returns, cost_returns;
    std::vector<std::vector<std::size_t>> order;  // per epoch: the rows in minibatch order
    bool with_cost = false;
};

/// Trains `ac` with PPO against the frozen `reference`. `reward` and `cost` are Scorers (cost may be
/// NoScorer{}: then no cost is measured); `on_iteration(i, log)` runs after iteration i's last update
/// and may add entries to its log (e.g. a held-out evaluation).
template <FloatElement T, Device D, Scorer R, Scorer Co, Constraint C, class OnIteration = std::function<void(index_t, IterationLog&)>>
PpoResult ppo(ActorCritic<T, D>& ac, const nn::CausalLM<T, D>& reference, const PromptSet& prompts, const TextCodec& codec, R& reward, Co& cost,
              C& constraint, const PpoOptions& opt, OnIteration on_iteration = [](index_t, IterationLog&) {}) {
    if (prompts.size() == 0) throw value_error("ppo: no prompts");
    if (opt.rollouts <= 0 || opt.minibatch <= 0 || opt.epochs <= 0 || opt.iterations < 0)
        throw value_error("ppo: rollouts, minibatch and epochs must be positive and iterations >= 0");
    const index_t per_epoch = (opt.rollouts + opt.minibatch - 1) / opt.minibatch, per_iteration = per_epoch * opt.epochs;
    PpoResult res;
    PpoBatch cur;
    index_t have = -1;  // the iteration `cur` belongs to
    IterationLog pending;

    auto collect = [&](index_t it) {
        auto t0 = std::chrono::steady_clock::now();
        const std::uint64_t it_seed = opt.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(it);
        cur = PpoBatch{};
        cur.completions = sample_completions(ac.model, prompts, draw_rows(prompts.size(), static_cast<std::size_t>(opt.rollouts), opt.seed, static_cast<std::uint64_t>(it)),
                                             opt.sampling, codec, it_seed);
        const SequenceBatch b = make_sequence_batch(cur.completions.prompt_ids, cur.completions.completion_ids, opt.sampling.pad_id, opt.max_len);
        std::vector<double> logp, ref, value, cvalue;
        {
            ag::NoGrad ng;
            PolicyPass<T, D> p = policy_pass(ac.model, b);
            logp = host_doubles(p.log_probs.value());
            value = host_doubles(ac.value(p.forward.final_hidden).value());
            cvalue = host_doubles(ac.cost_value(p.forward.final_hidden).value());
        }
        ref = token_log_probs_of(reference, b);
        const double rollout_s = detail::seconds_since(t0);
        auto t1 = std::chrono::steady_clock::now();
        std::vector<double> score = reward.score(cur.completions);
        check_scores("ppo: reward '" + std::string(reward.name()) + "'", score, cur.completions.size());
        std::vector<double> c = cost.score(cur.completions);
        cur.with_cost = !c.empty();
        if (cur.with_cost) check_scores("ppo: cost '" + std::string(cost.name()) + "'", c, cur.completions.size());
        else if (constraint.needs_cost()) throw value_error("ppo: the constraint '" + std::string(constraint.name()) + "' needs a cost scorer");
        const double scoring_s = detail::seconds_since(t1);

        cur.logp = detail::per_row(b, logp);
        cur.value = detail::per_row(b, value);
        cur.cost_value = detail::per_row(b, cvalue);
        const auto ref_rows = detail::per_row(b, ref);
        const std::size_t n = cur.logp.size();
        std::vector<std::vector<double>> kl(n);
        double kl_mean = 0, cost_mean = 0, length = 0;
        for (std::size_t i = 0; i < n; ++i) {
            double total = 0;
            for (std::size_t j = 0; j < cur.logp[i].size(); ++j) total += kl[i].emplace_back(kl_estimate(opt.kl_estimator, cur.logp[i][j], ref_rows[i][j]));
            kl_mean += total / double(n);
            length += double(cur.logp[i].size()) / double(n);
            if (cur.with_cost) cost_mean += c[i] / double(n);
        }
        constraint.observe({cur.with_cost ? cost_mean : unmeasured, kl_mean, double(n)});
        Signals s{score, c};
        constraint.shape(s);

        std::vector<double> flat_r, flat_c;
        std::vector<std::vector<double>> adv_r(n), adv_c(n);
        cur.returns.resize(n);
        cur.cost_returns.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            std::vector<double> r(kl[i].size()), cr(kl[i].size(), 0.0);
            for (std::size_t j = 0; j < r.size(); ++j) r[j] = -s.kl_coef * kl[i][j];
            r.back() += s.reward[i];
            Advantages a = gae(r, cur.value[i], opt.gamma, opt.lambda);
            adv_r[i] = a.advantages;
            cur.returns[i] = a.returns;
            flat_r.insert(flat_r.end(), a.advantages.begin(), a.advantages.end());
            if (cur.with_cost) {
                cr.back() = c[i];
                Advantages ca = gae(cr, cur.cost_value[i], opt.gamma, opt.lambda);
                adv_c[i] = ca.advantages;
                cur.cost_returns[i] = ca.returns;
                flat_c.insert(flat_c.end(), ca.advantages.begin(), ca.advantages.end());
            }
        }
        if (opt.whiten_advantages) {
            whiten(flat_r);
            whiten(flat_c);
        }
        cur.advantage.resize(n);
        for (std::size_t i = 0, k = 0; i < n; ++i)
            for (std::size_t j = 0; j < adv_r[i].size(); ++j, ++k)
                cur.advantage[i].push_back(mix_advantage(s, flat_r[k], cur.with_cost ? flat_c[k] : 0.0));
        for (index_t e = 0; e < opt.epochs; ++e)
            cur.order.push_back(shuffled_indices(n, Generator(opt.seed, 0x6d696e69u + static_cast<std::uint64_t>(it * opt.epochs + e))));

        double score_mean = 0, shaped_mean = 0;
        for (std::size_t i = 0; i < n; ++i) {
            score_mean += score[i] / double(n);
            shaped_mean += s.reward[i] / double(n);
        }
        pending = {{"iteration", double(it)}, {"reward", score_mean}, {"shaped_reward", shaped_mean}, {"kl", kl_mean},
                   {"cost", cur.with_cost ? cost_mean : unmeasured}, {"response_length", length}, {"kl_coef_used", s.kl_coef},
                   {"lambda_used", s.cost_coef}, {"rollout_seconds", rollout_s}, {"scoring_seconds", scoring_s}, {"update_seconds", 0.0}};
        constraint.report(pending);
        res.rollout_seconds += rollout_s;
        res.scoring_seconds += scoring_s;
        have = it;
    };

    auto step = [&](index_t s) {
        const index_t it = s / per_iteration, u = s % per_iteration;
        if (have != it) collect(it);
        auto t0 = std::chrono::steady_clock::now();
        const auto& order = cur.order[static_cast<std::size_t>(u / per_epoch)];
        const std::size_t k = static_cast<std::size_t>(u % per_epoch) * static_cast<std::size_t>(opt.minibatch);
        std::vector<std::size_t> rows(order.begin() + static_cast<std::ptrdiff_t>(k),
                                      order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), k + static_cast<std::size_t>(opt.minibatch))));
        UpdateContext<T, D> ctx{ac.model, &reference, s, opt.seed, 1.0, {}};
        ag::Var<T, D> extra = constraint.loss(ctx);
        train::StepOutcome out;
        ag::Var<T, D> total = extra;
        if (ctx.attack_weight != 0) {
            std::vector<std::vector<std::int64_t>> p, a;
            std::vector<std::vector<double>> lp, v, cv, adv, ret, cret;
            for (std::size_t r : rows) {
                p.push_back(cur.completions.prompt_ids[r]);
                a.push_back(cur.completions.completion_ids[r]);
                lp.push_back(cur.logp[r]);
                v.push_back(cur.value[r]);
                cv.push_back(cur.cost_value[r]);
                adv.push_back(cur.advantage[r]);
                ret.push_back(cur.returns[r]);
                cret.push_back(cur.cost_returns[r]);
            }
            const SequenceBatch b = make_sequence_batch(p, a, opt.sampling.pad_id, opt.max_len);
            const Tensor<T, D> mask = b.template response_mask<T, D>(), old = detail::lay_out<T, D>(b, lp);
            PolicyPass<T, D> pass = policy_pass(ac.model, b);
            ag::Var<T, D> pg = ppo_policy_loss(pass.log_probs, old, detail::lay_out<T, D>(b, adv), mask, opt.clip_ratio);
            ag::Var<T, D> vf = ppo_value_loss(ac.value(pass.forward.final_hidden), detail::lay_out<T, D>(b, v), detail::lay_out<T, D>(b, ret), mask,
                                              opt.clip_value);
            ag::Var<T, D> loss = pg + vf * opt.value_coef;
            out.terms["policy_loss"] = double(pg.value().item());
            out.terms["value_loss"] = double(vf.value().item());
            if (cur.with_cost) {
                ag::Var<T, D> cvf = ppo_value_loss(ac.cost_value(pass.forward.final_hidden), detail::lay_out<T, D>(b, cv), detail::lay_out<T, D>(b, cret),
                                                   mask, opt.clip_value);
                loss = loss + cvf * opt.value_coef;
                out.terms["cost_value_loss"] = double(cvf.value().item());
            }
            out.terms["clip_fraction"] = clip_fraction(pass.log_probs.value(), old, mask, opt.clip_ratio);
            loss = loss * ctx.attack_weight;
            total = total.defined() ? total + loss : loss;
            out.tokens = double(b.ids.numel());
        }
        for (const auto& [key, x] : ctx.values) out.terms[key] = x;
        out.loss = total.defined() ? double(total.value().item()) : 0.0;
        out.update = total.defined() && total.requires_grad();
        if (out.update && std::isfinite(out.loss)) total.backward();
        for (const auto& [key, x] : out.terms) pending["mean_" + key] += x / double(per_iteration);
        const double update_s = detail::seconds_since(t0);
        pending["update_seconds"] += update_s;
        res.update_seconds += update_s;
        return out;
    };
    auto after = [&](index_t s) {
        if (s % per_iteration != per_iteration - 1) return;
        on_iteration(s / per_iteration, pending);
        res.iterations.push_back(pending);
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = opt.warmup_steps, .clip_norm = opt.clip_norm,
                                  .checkpoint = opt.checkpoint, .checkpoint_every = per_iteration, .resume = opt.resume, .quiet = opt.quiet,
                                  .name = "ppo"};
    detail::RlState<C> state{&constraint, &res.iterations, "rl.ppo.iterations"};
    res.loop = train::run_loop(nn::parameters<T, D>(ac), opt.iterations * per_iteration, loop, step, after, state);
    return res;
}

}  // namespace ward::rl
