#pragma once
// Reward and cost models: a transformer trunk with a scalar head that reads the final hidden state at
// the last real token of prompt + response. Trained on preference pairs with
//   Bradley-Terry (reward)   -log sigmoid(r_chosen - r_rejected)
//   Safe-RLHF (cost)         -log sigmoid(c_unsafer - c_safer) - log sigmoid(s_safer c_safer) - log sigmoid(s_unsafer c_unsafer)
//                            with s = +1 for an unsafe answer and -1 for a safe one (Dai et al. 2023, "Safe
//                            RLHF", eq. 6), so a cost above 0 means unsafe; the sign terms are left out for
//                            answers without a safety label
// on the shared training loop (train/loop.hpp). ScalarHead is also PPO's value head (rl/ppo.hpp).

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/nn/layers.hpp"
#include "ward/nn/module.hpp"
#include "ward/rl/preference.hpp"
#include "ward/rl/scorer.hpp"
#include "ward/rl/sequence.hpp"
#include "ward/train/loop.hpp"

namespace ward::rl {

/// hidden (..., C) -> one number per position (...): a linear layer C -> 1.
template <FloatElement T = float, Device D = cpu>
struct ScalarHead {
    nn::Linear<T, D> proj;
    ScalarHead() = default;
    ScalarHead(index_t hidden, std::uint64_t seed, double init_std = 0.02) {
        Generator gen(seed, 0x68656164u);
        proj = nn::Linear<T, D>(hidden, 1, true, gen, false, init_std);
    }
    ag::Var<T, D> operator()(const ag::Var<T, D>& h) const {
        const Shape s = h.shape();
        Shape out = s;
        out.rank -= 1;
        return ag::reshape(proj(h), out);
    }
    template <class F>
    void visit(F&& f, const std::string& prefix) { proj.visit(f, prefix); }
};

/// -log sigmoid(chosen - rejected), the mean over pairs; chosen and rejected are (B).
template <FloatElement T, Device D>
ag::Var<T, D> bradley_terry_loss(const ag::Var<T, D>& chosen, const ag::Var<T, D>& rejected) {
    if (!(chosen.shape() == rejected.shape()))
        throw shape_error("bradley_terry_loss: chosen " + chosen.shape().str() + " and rejected " + rejected.shape().str() + " differ");
    return -ag::mean(ag::log_sigmoid(chosen - rejected));
}

/// Safe-RLHF's cost-model loss, the mean over pairs. c_safer, c_unsafer (B) are the costs of the safer and
/// the less safe answer; s_safer, s_unsafer (B) are +1 (unsafe), -1 (safe) or 0 (no label: no sign term).
template <FloatElement T, Device D>
ag::Var<T, D> safe_rlhf_cost_loss(const ag::Var<T, D>& c_safer, const ag::Var<T, D>& c_unsafer, const Tensor<T, D>& s_safer,
                                  const Tensor<T, D>& s_unsafer) {
    if (!(c_safer.shape() == c_unsafer.shape()) || !(s_safer.shape() == c_safer.shape()) || !(s_unsafer.shape() == c_safer.shape()))
        throw shape_error("safe_rlhf_cost_loss: costs " + c_safer.shape().str() + ", " + c_unsafer.shape().str() + " and signs " +
                          s_safer.shape().str() + ", " + s_unsafer.shape().str() + " differ");
    using C = compute_t<T>;
    const Tensor<T, D> w_safer = Tensor<T, D>(ward::abs(s_safer) * C(1)), w_unsafer = Tensor<T, D>(ward::abs(s_unsafer) * C(1));
    ag::Var<T, D> order = ag::log_sigmoid(c_unsafer - c_safer);
    ag::Var<T, D> sign_safer = ag::log_sigmoid(c_safer * ag::Var<T, D>(s_safer)) * ag::Var<T, D>(w_safer);
    ag::Var<T, D> sign_unsafer = ag::log_sigmoid(c_unsafer * ag::Var<T, D>(s_unsafer)) * ag::Var<T, D>(w_unsafer);
    return -ag::mean(order + sign_safer + sign_unsafer);
}

/// A trunk and a scalar head; `shift` and `scale` normalise its scores when it serves as a scorer.
template <FloatElement T = float, Device D = cpu>
struct RewardModel {
    nn::CausalLM<T, D> trunk;
    ScalarHead<T, D> head;
    double shift = 0, scale = 1;  // scorer output: (score - shift) / scale

    RewardModel() = default;
    /// Takes the trunk as given (pass nn::clone(model) to keep the original).
    RewardModel(nn::CausalLM<T, D> base, std::uint64_t seed) : trunk(std::move(base)), head(trunk.config.hidden, seed) {}

    /// One score per row, read at the row's last real token: (B).
    ag::Var<T, D> scores(const SequenceBatch& b) const {
        ag::Var<T, D> per_position = head(trunk.forward(on_device<D>(b.ids)).final_hidden);  // (B, L)
        return ag::sum(per_position * ag::Var<T, D>(b.template last_token_mask<T, D>()), 1);
    }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        trunk.visit(f, prefix);
        head.visit(f, nn::join(prefix, "score"));
    }
};

/// Raw scores of prompt + response pairs, in batches, without gradients.
template <FloatElement T, Device D>
std::vector<double> score_sequences(const RewardModel<T, D>& rm, const std::vector<std::vector<std::int64_t>>& prompts,
                                    const std::vector<std::vector<std::int64_t>>& responses, index_t batch_size = 32,
                                    std::int64_t pad_id = 0, index_t max_len = 1024) {
    if (batch_size <= 0) throw value_error("score_sequences: batch size must be positive");
    ag::NoGrad ng;
    std::vector<double> out;
    for (std::size_t start = 0; start < prompts.size(); start += static_cast<std::size_t>(batch_size)) {
        const std::size_t end = std::min(prompts.size(), start + static_cast<std::size_t>(batch_size));
        std::vector<std::vector<std::int64_t>> p(prompts.begin() + static_cast<std::ptrdiff_t>(start), prompts.begin() + static_cast<std::ptrdiff_t>(end));
        std::vector<std::vector<std::int64_t>> r(responses.begin() + static_cast<std::ptrdiff_t>(start), responses.begin() + static_cast<std::ptrdiff_t>(end));
        for (double v : host_doubles(rm.scores(make_sequence_batch(p, r, pad_id, max_len)).value())) out.push_back(v);
    }
    return out;
}

enum class RewardObjective { preference, cost };  // Bradley-Terry on chosen/rejected, or Safe-RLHF's cost loss

struct RewardTrainOptions {
    RewardObjective objective = RewardObjective::preference;
    double lr = 1e-4;
    double weight_decay = 0.0;
    index_t epochs = 1;
    index_t batch_size = 16;  // pairs per step
    index_t max_steps = -1;
    index_t max_len = 1024;
    index_t warmup_steps = 0;
    double clip_norm = 1.0;
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    std::filesystem::path checkpoint;
    index_t checkpoint_every = 0;
    bool resume = true;
    bool quiet = false;
};

struct RewardTrainResult {
    std::vector<double> losses;
    double accuracy = 0;  // share of training pairs ordered right after training (chosen > rejected; unsafer > safer for costs)
    index_t steps = 0, resumed_from = 0;
};

/// Trains `rm` on `pairs`; then sets its shift and scale to the mean and standard deviation of its
/// scores over every answer of the pairs (so a ModelScorer gives rewards of mean 0 and spread 1 there).
template <FloatElement T, Device D>
RewardTrainResult train_reward_model(RewardModel<T, D>& rm, const std::vector<TokenPreference>& pairs, const RewardTrainOptions& opt) {
    if (pairs.empty()) throw value_error("train_reward_model: no pairs");
    if (opt.batch_size <= 0) throw value_error("train_reward_model: batch size must be positive");
    const bool cost = opt.objective == RewardObjective::cost;
    auto sign = [](const std::optional<bool>& safe) { return safe ? (*safe ? -1.0 : 1.0) : 0.0; };
    for (std::size_t i = 0; i < pairs.size() && cost; ++i)
        if (!pairs[i].safer) throw value_error("train_reward_model: the cost objective needs the safer answer of every pair; pair " + std::to_string(i) + " has none");
    // For costs the pair is (safer, less safe); for rewards (chosen, rejected).
    auto first_is_chosen = [&](const TokenPreference& p) { return !cost || *p.safer == 0; };
    const index_t per_epoch = (static_cast<index_t>(pairs.size()) + opt.batch_size - 1) / opt.batch_size;
    index_t total = per_epoch * opt.epochs;
    if (opt.max_steps >= 0) total = std::min(total, opt.max_steps);
    std::vector<std::size_t> order;
    index_t order_epoch = -1;
    auto step = [&](index_t s) {
        const index_t epoch = s / per_epoch, k = s % per_epoch;
        if (epoch != order_epoch) {
            order = shuffled_indices(pairs.size(), Generator(opt.seed, 0x726d0000u + static_cast<std::uint64_t>(epoch)));
            order_epoch = epoch;
        }
        std::vector<std::vector<std::int64_t>> prompts, answers;
        std::vector<T> s_first, s_second;
        const auto begin = static_cast<std::size_t>(k * opt.batch_size);
        const auto end = std::min(order.size(), begin + static_cast<std::size_t>(opt.batch_size));
        for (int side = 0; side < 2; ++side)
            for (std::size_t i = begin; i < end; ++i) {
                const TokenPreference& p = pairs[order[i]];
                const bool chosen = first_is_chosen(p) == (side == 0);
                prompts.push_back(p.prompt);
                answers.push_back(chosen ? p.chosen : p.rejected);
                (side == 0 ? s_first : s_second).push_back(T(sign(chosen ? p.chosen_safe : p.rejected_safe)));
            }
        const auto n = static_cast<index_t>(end - begin);
        ag::Var<T, D> sc = rm.scores(make_sequence_batch(prompts, answers, opt.pad_id, opt.max_len));
        ag::Var<T, D> a = ag::slice(sc, 0, 0, n), b = ag::slice(sc, 0, n, 2 * n);
        ag::Var<T, D> loss = cost ? safe_rlhf_cost_loss(a, b, Tensor<T, D>::from_vector(s_first, {n}), Tensor<T, D>::from_vector(s_second, {n}))
                               : bradley_terry_loss(a, b);
        train::StepOutcome out{double(loss.value().item()), {}, double(2 * n)};
        if (std::isfinite(out.loss)) loss.backward();
        return out;
    };
    const train::LoopOptions loop{.lr = opt.lr, .weight_decay = opt.weight_decay, .warmup_steps = opt.warmup_steps,
                                  .clip_norm = opt.clip_norm, .checkpoint = opt.checkpoint, .checkpoint_every = opt.checkpoint_every,
                                  .resume = opt.resume, .quiet = opt.quiet, .name = cost ? "cost model training" : "reward model training"};
    train::LoopResult r = train::run_loop(nn::parameters<T, D>(rm), total, loop, step);

    std::vector<std::vector<std::int64_t>> prompts, answers;
    for (int side = 0; side < 2; ++side)
        for (const auto& p : pairs) {
            prompts.push_back(p.prompt);
            answers.push_back((first_is_chosen(p) == (side == 0)) ? p.chosen : p.rejected);
        }
    const std::vector<double> s = score_sequences(rm, prompts, answers, 2 * opt.batch_size, opt.pad_id, opt.max_len);
    RewardTrainResult res{std::move(r.losses), 0, r.steps, r.resumed_from};
    const std::size_t n = pairs.size();
    for (std::size_t i = 0; i < n; ++i) res.accuracy += (cost ? s[n + i] > s[i] : s[i] > s[n + i]) ? 1.0 : 0.0;
    res.accuracy /= double(n);
    const double mean = std::accumulate(s.begin(), s.end(), 0.0) / double(s.size());
    double var = 0;
    for (double v : s) var += (v - mean) * (v - mean);
    rm.shift = mean;
    rm.scale = std::max(std::sqrt(var / double(s.size())), 1e-6);
    return res;
}

/// A reward or cost model as a scorer: (score - shift) / scale per completion (raw scores with normalised = false).
template <FloatElement T, Device D = cpu>
class ModelScorer {
public:
    ModelScorer(const RewardModel<T, D>& rm, std::string name, bool normalised = true, index_t batch_size = 32, std::int64_t pad_id = 0,
                index_t max_len = 1024)
        : rm_(&rm), name_(std::move(name)), normalised_(normalised), batch_(batch_size), pad_(pad_id), max_len_(max_len) {}
    std::vector<double> score(const Completions& c) const {
        std::vector<double> s = score_sequences(*rm_, c.prompt_ids, c.completion_ids, batch_, pad_, max_len_);
        if (normalised_)
            for (double& v : s) v = (v - rm_->shift) / rm_->scale;
        check_scores("model scorer '" + name_ + "'", s, c.size());
        return s;
    }
    std::string name() const { return name_; }

private:
    const RewardModel<T, D>* rm_;
    std::string name_;
    bool normalised_;
    index_t batch_;
    std::int64_t pad_;
    index_t max_len_;
};

static_assert(Scorer<ModelScorer<float>>);

}  // namespace ward::rl
