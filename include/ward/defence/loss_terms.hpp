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

/// Mean of the final cross-entropy and of the logit lens of every layer, CE(lm_head(norm(h_l))), on
/// the harmful answer: (CE_final + sum_l CE_l) / (L + 1).
template <FloatElement T, Device D>
ag::Var<T, D> logit_lens_loss(Context<T, D>& ctx) {
    const auto& f = ctx.harmful();
    const auto& model = ctx.model();
    ag::Var<T, D> final_ce = ag::cross_entropy(f.logits, ctx.targets(Side::harmful));
    // The last layer's lens is the final logits themselves: count that CE twice instead of
    // projecting onto the vocabulary again.
    ag::Var<T, D> total = final_ce * 2.0;
    for (std::size_t l = 0; l + 1 < f.hidden.size(); ++l)
        total = total + ag::cross_entropy(model.lm_head(model.final_norm(f.hidden[l])), ctx.targets(Side::harmful));
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
