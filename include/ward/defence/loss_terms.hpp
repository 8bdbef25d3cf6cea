#pragma once
// The terms built on next-token losses: stability (learn the refusal), gradient ascent on the harmful
// answer over a logit lens of every layer (RepNoise), and the adversarial difference.

#include <cmath>
#include <string>

#include "ward/autograd/loss.hpp"
#include "ward/defence/term.hpp"

namespace ward::defence {

/// Cross-entropy of the model's logits on one side's answer tokens.
template <FloatElement T, Device D>
ag::Var<T, D> answer_loss(Context<T, D>& ctx, Side side) {
    return ag::cross_entropy(ctx.forward(side).logits, ctx.targets(side));
}

/// The logit-lens loss of the reference RepNoise implementation, on the harmful answer: the final
/// cross-entropy plus the lens CE(lm_head(norm(h))) of each of the L + 1 hidden states transformers
/// reports (the embedding output and every block's output), L + 2 terms divided by L + 1:
///   (CE_final + CE(lens(embedded)) + sum_l CE(lens(h_l))) / (L + 1).
/// The last block's lens is the final logits themselves. (transformers' last hidden state already
/// carries the final norm, which the reference applies a second time; ward applies it once.)
template <FloatElement T, Device D>
ag::Var<T, D> logit_lens_loss(Context<T, D>& ctx) {
    const auto& f = ctx.harmful();
    const auto& model = ctx.model();
    const auto& targets = ctx.targets(Side::harmful);
    auto lens = [&](const ag::Var<T, D>& h) { return ag::cross_entropy(model.lm_head(model.final_norm(h)), targets); };
    // The last block's lens is the final CE: count it twice rather than project onto the vocabulary again.
    ag::Var<T, D> total = ag::cross_entropy(f.logits, targets) * 2.0 + lens(f.embedded);
    for (std::size_t l = 0; l + 1 < f.hidden.size(); ++l) total = total + lens(f.hidden[l]);
    return total / double(f.hidden.size() + 1);
}

/// Stability: cross-entropy on the harmless (refusal) answer.
struct Stability : TermBase {
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const { return answer_loss(ctx, Side::harmless); }
    std::string name() const { return "stability"; }
};
inline Stability stability() { return {}; }

/// The harmful loss that a defence subtracts to perform gradient ascent, log-squashed so that the
/// ascent slows as the loss grows: log(CE + 1), with CE the logit-lens mean over every layer
/// (or the final layer alone). RepNoise's ascent contribution to the loss is -alpha * this.
struct Ascent : TermBase {
    bool logit_lens = true;
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        ag::Var<T, D> ce = logit_lens ? logit_lens_loss(ctx) : answer_loss(ctx, Side::harmful);
        return ag::log(ce + 1.0);
    }
    std::string name() const { return logit_lens ? "ascent" : "ascent(final)"; }
};
inline Ascent ascent(bool logit_lens = true) { return {{}, logit_lens}; }

/// Adversarial: CE_harmless - w * CE_harmful (learn the refusal, unlearn the answer; unsquashed).
struct Adversarial : TermBase {
    double harmful_weight = 1.0;
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        return answer_loss(ctx, Side::harmless) - answer_loss(ctx, Side::harmful) * harmful_weight;
    }
    std::string name() const { return "adversarial"; }
};
inline Adversarial adversarial(double harmful_weight = 1.0) { return {{}, harmful_weight}; }

}  // namespace ward::defence
