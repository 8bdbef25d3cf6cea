#pragma once
// TAR: tamper-resistant training (Tamirisa et al. 2024, "Tamper-Resistant Safeguards for Open-Weight
// LLMs"), first-order.
// Each outer step on a paired batch:
//   (a) from the current weights w, a simulated attack: K steps of harmful fine-tuning (SGD or AdamW
//       at the inner lr, CE on the harmful side) give the adapted weights w';
//   (b) the tamper-resistance loss L_TR at w', and its gradient with respect to w', which stands in
//       for the gradient with respect to w (first-order meta-learning: d w'/d w taken as identity);
//   (c) back at w, the retain loss: CE on the refusal side, plus optionally the representation
//       retain term against a frozen reference model (the paper's retain loss has both);
// the step's gradient is tamper_weight * grad L_TR(w') + retain_weight * grad retain(w).
// L_TR, our choice for harmful-answer data (the paper uses the negative entropy for knowledge
// restriction and a DPO-style loss for refusal): by default -log(1 + CE(w')) on the harmful answers,
// the log-squashed ascent of loss_terms.hpp, which rewards a high harmful loss after the attack but
// with diminishing returns; or the negative entropy of the predicted distribution at the answer
// positions. The paper accumulates L_TR's gradient along the inner trajectory; here it is taken at
// the end of the attack only.

#include <cmath>
#include <string>
#include <vector>

#include "ward/autograd/nn.hpp"
#include "ward/defence/loss_terms.hpp"
#include "ward/defence/representation.hpp"
#include "ward/defence/train.hpp"
#include "ward/defence/weights.hpp"
#include "ward/optim/adam.hpp"
#include "ward/optim/master_weights.hpp"
#include "ward/optim/sgd.hpp"

namespace ward::defence {

enum class TamperLoss { log_ce, entropy };
enum class InnerOptimizer { sgd, adamw };

struct TarOptions {
    index_t inner_steps = 4;
    double inner_lr = 2e-5;
    InnerOptimizer inner_optimizer = InnerOptimizer::sgd;
    double tamper_weight = 4.0;  // the paper's lambda_TR
    double retain_weight = 1.0;  // on the refusal CE
    double representation_weight = 0.0;  // representation retain against the reference (needs one)
    TamperLoss tamper_loss = TamperLoss::log_ce;
};

namespace detail {
inline void check_tar(const TarOptions& o) {
    if (o.inner_steps < 0) throw value_error("tar: inner_steps must be >= 0, got " + std::to_string(o.inner_steps));
    for (auto [what, v] : {std::pair{"inner_lr", o.inner_lr}, {"tamper_weight", o.tamper_weight}, {"retain_weight", o.retain_weight},
                           {"representation_weight", o.representation_weight}})
        if (!(v >= 0) || !std::isfinite(v)) throw value_error(std::string("tar: ") + what + " must be finite and >= 0, got " + std::to_string(v));
}
}  // namespace detail

/// The tamper-resistance loss of the model as it stands on the harmful side of `ctx`'s batch.
template <FloatElement T, Device D>
ag::Var<T, D> tamper_resistance_loss(Context<T, D>& ctx, TamperLoss kind) {
    const auto& logits = ctx.harmful().logits;
    if (kind == TamperLoss::log_ce) return -ag::log(ag::cross_entropy(logits, ctx.targets(Side::harmful)) + 1.0);
    // Negative entropy sum_v p log p, averaged over the positions that carry a harmful answer token.
    const auto& tg = ctx.targets(Side::harmful);
    std::vector<T> m;
    for (std::int64_t y : tg.to_vector()) m.push_back(y == ag::ignore_index ? T(0) : T(1));
    Tensor<T, D> mask = Tensor<T, D>::from_vector(m, tg.shape());
    const double n = double(ward::sum(mask).item());
    if (!(n > 0)) throw value_error("tar: the batch has no harmful answer token");
    ag::Var<T, D> lp = ag::log_softmax(logits);
    return ag::sum(ag::sum(ag::exp(lp) * lp, -1) * ag::Var<T, D>(mask)) / n;
}

/// One TAR step: leaves tamper_weight * grad L_TR(w') + retain_weight * grad retain(w) in the
/// model's parameters; the weights are back at w when it returns. Terms: "attacked" (harmful CE at
/// w'), "tamper" (L_TR at w'), "retain" (refusal CE at w) and, when weighted, "representation".
template <FloatElement T, Device D>
StepOutcome tar_step(nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, const TarOptions& opt,
                     const std::type_identity_t<nn::CausalLM<T, D>>* reference = nullptr) {
    detail::check_tar(opt);
    if (opt.representation_weight > 0 && !reference) throw value_error("tar: representation_weight > 0 needs a reference model");
    using V = compute_t<T>;
    std::vector<ag::Var<T, D>> params;
    optim::ParameterList<T, D> inner;  // the model's values, gradients of the inner attack's own
    for (const auto& p : nn::named_parameters<T, D>(model))
        if (p.var->defined() && p.var->requires_grad()) {
            params.push_back(*p.var);
            (void)p.var->parameter(p.name);  // allocates a zero gradient where none is stored yet
            inner.push_back({p.name, p.var->value(), Tensor<T, D>::zeros(p.var->shape())});
        }
    if (params.empty()) throw value_error("tar: the model has no trainable parameters");
    StepOutcome out;
    std::vector<Tensor<T, D>> g_tr;
    {
        detail::WeightsGuard<T, D> guard(params);  // (a)-(b) move the weights; back to w at the end of the scope
        auto attack = [&](auto& optimiser) {
            for (index_t k = 0; k < opt.inner_steps; ++k) {
                Context<T, D> ctx(model, batch);
                ag::Var<T, D> h = answer_loss(ctx, Side::harmful);
                const double l = double(h.value().item());
                if (!std::isfinite(l)) throw value_error("tar: the inner attack's loss is " + std::to_string(l) + " at inner step " + std::to_string(k + 1));
                auto g = ag::grad(h, params);
                for (std::size_t i = 0; i < g.size(); ++i) inner[i].grad.assign(g[i]);
                optimiser.step();
            }
        };
        // A bf16 model's simulated attack steps f32 master weights, as the attack it stands for does
        // (train/loop.hpp): in bf16 itself, steps below the weights' resolution would round away.
        auto attack_with = [&]<class Rule>(const typename Rule::options_type& o) {
            optim::MixedPrecision<Rule, T, D> optimiser(inner, o);
            attack(optimiser);
        };
        if (opt.inner_optimizer == InnerOptimizer::sgd) attack_with.template operator()<optim::SgdRule>({.lr = opt.inner_lr});
        else attack_with.template operator()<optim::AdamRule<true>>({.lr = opt.inner_lr, .weight_decay = 0.0});
        Context<T, D> ctx(model, batch);
        ag::Var<T, D> tr = tamper_resistance_loss(ctx, opt.tamper_loss);
        out.terms["attacked"] = double(answer_loss(ctx, Side::harmful).value().item());
        out.terms["tamper"] = double(tr.value().item());
        if (!std::isfinite(out.terms["tamper"])) {
            out.loss = out.terms["tamper"];
            return out;
        }
        if (opt.tamper_weight > 0) g_tr = ag::grad(tr, params);
    }
    // (c) the retain loss at w.
    Context<T, D> ctx(model, batch, reference);
    ag::Var<T, D> r = answer_loss(ctx, Side::harmless);
    out.terms["retain"] = double(r.value().item());
    ag::Var<T, D> total = r * opt.retain_weight;
    if (opt.representation_weight > 0) {
        ag::Var<T, D> rep = retain()(ctx);
        out.terms["representation"] = double(rep.value().item());
        total = total + rep * opt.representation_weight;
    }
    out.loss = opt.tamper_weight * out.terms["tamper"] + double(total.value().item());
    if (!std::isfinite(out.loss)) return out;
    if (opt.retain_weight > 0 || opt.representation_weight > 0) total.backward();
    for (std::size_t i = 0; i < g_tr.size(); ++i) {
        Tensor<T, D> g = params[i].grad();
        g.assign(g + g_tr[i] * V(opt.tamper_weight));
    }
    return out;
}

/// Trains `model` on `pairs` with TAR; `reference` (a frozen copy taken before, e.g. nn::clone) is
/// needed only for the representation retain term.
template <FloatElement T, Device D>
DefenceResult tar(nn::CausalLM<T, D>& model, const std::vector<Pair>& pairs, const TarOptions& topt, const DefenceOptions& opt,
                  const std::type_identity_t<nn::CausalLM<T, D>>* reference = nullptr) {
    detail::check_tar(topt);
    return run_defence(model, pairs, opt, [&](const PairedBatch<T, D>& batch, index_t) { return tar_step(model, batch, topt, reference); });
}

}  // namespace ward::defence
