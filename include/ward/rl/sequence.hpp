#pragma once
// Prompt + response sequences in one right-padded batch, for the teacher-forced passes of RLHF: the
// log-likelihood of each response token under a policy or its reference (DPO, PPO, RLOO), and the
// position of each row's last real token (where a reward model reads its score). Padding sits after
// the last token, so a causal model's outputs at real positions do not depend on it.
//
//   ids      (B, L): prompt, response, then pad_id
//   targets  (B, L): ids[b, t + 1] where that next token belongs to the response, ag::ignore_index elsewhere
// so position t = prompt_length - 1 predicts the first response token and t = length - 2 the last.
// The batch is laid out on the host; a pass on a model on device D copies ids and targets there.

#include <cstdint>
#include <string>
#include <vector>

#include "ward/autograd/loss.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/tensor.hpp"

namespace ward::rl {

/// A tensor's elements as doubles on the host, row-major, whatever its element type and device.
template <Element T, Device D>
std::vector<double> host_doubles(const Tensor<T, D>& t) {
    const std::vector<T> v = t.to_vector();
    std::vector<double> out;
    out.reserve(v.size());
    for (const T& x : v) out.push_back(element_cast<double>(x));
    return out;
}

struct SequenceBatch {
    Tensor<std::int64_t> ids, targets;          // (B, L)
    std::vector<index_t> prompt_length, length;  // per row; length = prompt + (possibly truncated) response
    index_t tokens = 0;                          // response tokens in the batch
    index_t rows() const { return ids.size(0); }
    index_t width() const { return ids.size(1); }
    /// (B, L): 1 where the target is a response token.
    template <FloatElement T = float, Device D = cpu>
    Tensor<T, D> response_mask() const {
        std::vector<T> m(static_cast<std::size_t>(targets.numel()), T(0));
        const auto t = targets.to_vector();
        for (std::size_t i = 0; i < m.size(); ++i) m[i] = t[i] != ag::ignore_index ? T(1) : T(0);
        return Tensor<T, D>::from_vector(m, targets.shape());
    }
    /// (B, L): 1 at each row's last real token (length - 1).
    template <FloatElement T = float, Device D = cpu>
    Tensor<T, D> last_token_mask() const {
        std::vector<T> m(static_cast<std::size_t>(ids.numel()), T(0));
        for (index_t b = 0; b < rows(); ++b) m[static_cast<std::size_t>(b * width() + length[static_cast<std::size_t>(b)] - 1)] = T(1);
        return Tensor<T, D>::from_vector(m, ids.shape());
    }
};

/// Row b is prompts[b] followed by responses[b]; a response that would make the row longer than
/// max_len is cut. Every prompt and response needs at least one token, and every prompt must leave
/// room for one response token.
inline SequenceBatch make_sequence_batch(const std::vector<std::vector<std::int64_t>>& prompts,
                                         const std::vector<std::vector<std::int64_t>>& responses, std::int64_t pad_id,
                                         index_t max_len = 1024) {
    if (prompts.size() != responses.size())
        throw shape_error("make_sequence_batch: " + std::to_string(prompts.size()) + " prompts, " + std::to_string(responses.size()) +
                          " responses");
    if (prompts.empty()) throw value_error("make_sequence_batch: no rows");
    SequenceBatch b;
    index_t L = 0;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto P = static_cast<index_t>(prompts[i].size()), R = static_cast<index_t>(responses[i].size());
        if (P == 0 || R == 0) throw value_error("make_sequence_batch: row " + std::to_string(i) + " has an empty " + (P == 0 ? "prompt" : "response"));
        if (P >= max_len)
            throw value_error("make_sequence_batch: row " + std::to_string(i) + ": the prompt has " + std::to_string(P) +
                              " tokens, no room for a response within max_len " + std::to_string(max_len));
        b.prompt_length.push_back(P);
        b.length.push_back(std::min(max_len, P + R));
        L = std::max(L, b.length.back());
    }
    const auto B = static_cast<index_t>(prompts.size());
    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * L), pad_id), tg(ids.size(), ag::ignore_index);
    for (index_t r = 0; r < B; ++r) {
        const auto& p = prompts[static_cast<std::size_t>(r)];
        const auto& a = responses[static_cast<std::size_t>(r)];
        const index_t P = b.prompt_length[static_cast<std::size_t>(r)], n = b.length[static_cast<std::size_t>(r)];
        for (index_t t = 0; t < n; ++t) ids[static_cast<std::size_t>(r * L + t)] = t < P ? p[static_cast<std::size_t>(t)] : a[static_cast<std::size_t>(t - P)];
        for (index_t t = P - 1; t + 1 < n; ++t) {
            tg[static_cast<std::size_t>(r * L + t)] = ids[static_cast<std::size_t>(r * L + t + 1)];
            ++b.tokens;
        }
    }
    b.ids = Tensor<std::int64_t>::from_vector(ids, {B, L});
    b.targets = Tensor<std::int64_t>::from_vector(tg, {B, L});
    return b;
}

/// One teacher-forced pass: the forward result (for value heads) and the response tokens' log-probs (B, L).
template <FloatElement T, Device D = cpu>
struct PolicyPass {
    nn::ForwardResult<T, D> forward;
    ag::Var<T, D> log_probs;  // (B, L), 0 off the response
};

template <FloatElement T, Device D>
PolicyPass<T, D> policy_pass(const nn::CausalLM<T, D>& model, const SequenceBatch& b) {
    PolicyPass<T, D> p{model.forward(on_device<D>(b.ids)), {}};
    p.log_probs = ag::token_log_probs(p.forward.logits, on_device<D>(b.targets));
    return p;
}

/// Each row's response log-likelihood: the sum of its tokens' log-probs, (B).
template <FloatElement T, Device D>
ag::Var<T, D> sequence_log_probs(const nn::CausalLM<T, D>& model, const SequenceBatch& b) {
    return ag::sum(policy_pass(model, b).log_probs, 1);
}

/// Per-token log-probs without gradients, one vector per batch (B * L, row-major; 0 off the response).
template <FloatElement T, Device D>
std::vector<double> token_log_probs_of(const nn::CausalLM<T, D>& model, const SequenceBatch& b) {
    ag::NoGrad ng;
    return host_doubles(policy_pass(model, b).log_probs.value());
}

/// Per row, the sum of a (B * L) row-major vector's entries (each row's response log-likelihood when
/// the vector holds token log-probs, which are 0 off the response), in double.
inline std::vector<double> row_sums(const SequenceBatch& b, const std::vector<double>& flat) {
    if (flat.size() != static_cast<std::size_t>(b.rows() * b.width()))
        throw shape_error("row_sums: " + std::to_string(flat.size()) + " values for a batch of " + std::to_string(b.rows()) + " x " +
                          std::to_string(b.width()));
    std::vector<double> out(static_cast<std::size_t>(b.rows()), 0.0);
    for (std::size_t i = 0; i < flat.size(); ++i) out[i / static_cast<std::size_t>(b.width())] += flat[i];
    return out;
}

/// Each row's response log-likelihood without gradients, its tokens' log-probs summed in double (B).
template <FloatElement T, Device D>
std::vector<double> response_log_likelihoods(const nn::CausalLM<T, D>& model, const SequenceBatch& b) {
    return row_sums(b, token_log_probs_of(model, b));
}

/// Per row, the exact KL(pi(. | prefix) || pi_ref(. | prefix)) over the whole vocabulary, summed over
/// the response's positions: on responses sampled from pi its mean is an unbiased estimate of the
/// sequence-level KL, with less variance than the k1 / k3 estimators of the sampled tokens alone.
template <FloatElement T, Device D>
std::vector<double> response_kl(const nn::CausalLM<T, D>& policy, const nn::CausalLM<T, D>& reference, const SequenceBatch& b) {
    ag::NoGrad ng;
    const Tensor<std::int64_t, D> ids = on_device<D>(b.ids);
    Tensor<T, D> lp = ward::log_softmax(policy.forward(ids).logits.value()), lq = ward::log_softmax(reference.forward(ids).logits.value());
    const auto per_position = host_doubles(Tensor<T, D>(ward::sum(ward::exp(lp) * (lp - lq), -1)));  // (B * L)
    const auto mask = b.response_mask<double>().to_vector();
    std::vector<double> out(static_cast<std::size_t>(b.rows()), 0.0);
    for (std::size_t i = 0; i < mask.size(); ++i)
        if (mask[i] != 0) out[i / static_cast<std::size_t>(b.width())] += per_position[i];
    return out;
}

}  // namespace ward::rl
