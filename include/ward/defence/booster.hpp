#pragma once
// Booster: attenuating harmful perturbation (Huang et al. 2024, "Booster: Tackling
// Harmful Fine-tuning for Large Language Models via Attenuating Harmful Perturbation"). Alignment
// minimises the refusal loss f plus the drop in the harmful loss h that one normalised harmful
// fine-tuning step would give:
//   min_w  f(w) + lambda * (h(w) - h(w - alpha * grad h(w) / ||grad h(w)||)),
// so that a harmful fine-tuning step buys the attacker little. The gradient, first-order (the
// perturbation's direction held fixed, as in the paper):
//   grad f(w) + lambda * (grad h(w) - grad h(w')),   w' = w - alpha * grad h(w) / ||grad h(w)||,
// with ||.|| over all trainable parameters together. Here f is the CE on the refusal side of a paired
// batch and h the CE on its harmful side. Three passes per step: f and h at w, h at w'.

#include <cmath>
#include <string>
#include <vector>

#include "ward/defence/loss_terms.hpp"
#include "ward/defence/train.hpp"
#include "ward/defence/weights.hpp"

namespace ward::defence {

struct BoosterOptions {
    double lambda = 5.0;  // weight of the harmful-perturbation term (the paper's default)
    double alpha = 0.1;   // size of the simulated harmful step (the paper's default)
};

namespace detail {
inline void check_booster(const BoosterOptions& o) {
    if (!(o.lambda >= 0) || !std::isfinite(o.lambda)) throw value_error("booster: lambda must be finite and >= 0, got " + std::to_string(o.lambda));
    if (!(o.alpha >= 0) || !std::isfinite(o.alpha)) throw value_error("booster: alpha must be finite and >= 0, got " + std::to_string(o.alpha));
}

}  // namespace detail

/// One Booster step: leaves grad f(w) + lambda * (grad h(w) - grad h(w')) in the model's parameters
/// and returns f + lambda * (h(w) - h(w')). Terms: "alignment" f(w), "harmful" h(w), "perturbed"
/// h(w'). The weights are back at w when it returns.
template <FloatElement T, Device D>
StepOutcome booster_step(nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, const BoosterOptions& opt) {
    detail::check_booster(opt);
    using V = compute_t<T>;
    std::vector<ag::Var<T, D>> params = detail::trainable_vars(model);
    if (params.empty()) throw value_error("booster: the model has no trainable parameters");
    for (const auto& p : params) (void)p.parameter("booster");  // allocates a zero gradient where none is stored yet
    StepOutcome out;
    std::vector<Tensor<T, D>> gh;
    {
        Context<T, D> ctx(model, batch);
        ag::Var<T, D> f = answer_loss(ctx, Side::harmless), h = answer_loss(ctx, Side::harmful);
        out.terms["alignment"] = double(f.value().item());
        out.terms["harmful"] = double(h.value().item());
        out.loss = out.terms["alignment"] + opt.lambda * out.terms["harmful"];
        if (!std::isfinite(out.loss)) return out;
        gh = ag::grad(h, params, true);  // the direction of the simulated harmful step
        (f + h * opt.lambda).backward();
    }
    const double norm = std::sqrt(detail::squared_norm(gh));
    if (!std::isfinite(norm)) throw value_error("booster: the harmful gradient is not finite (norm " + std::to_string(norm) + ")");
    std::vector<Tensor<T, D>> ghp = gh;  // w' = w when the step is empty: the harmful terms cancel
    out.terms["perturbed"] = out.terms["harmful"];
    if (norm > 0 && opt.alpha > 0 && opt.lambda > 0) {
        // Move to w', take grad h(w') without touching the stored gradients; the guard moves back.
        detail::WeightsGuard<T, D> guard(params);
        for (std::size_t i = 0; i < params.size(); ++i) {
            Tensor<T, D> w = params[i].value();
            w.assign(w - gh[i] * V(opt.alpha / norm));
        }
        Context<T, D> ctx(model, batch);
        ag::Var<T, D> hp = answer_loss(ctx, Side::harmful);
        out.terms["perturbed"] = double(hp.value().item());
        out.loss = out.terms["alignment"] + opt.lambda * (out.terms["harmful"] - out.terms["perturbed"]);
        if (!std::isfinite(out.loss)) return out;
        ghp = ag::grad(hp, params);
    }
    out.loss = out.terms["alignment"] + opt.lambda * (out.terms["harmful"] - out.terms["perturbed"]);
    for (std::size_t i = 0; i < params.size(); ++i) {
        Tensor<T, D> g = params[i].grad();
        g.assign(g - ghp[i] * V(opt.lambda));
    }
    return out;
}

/// Aligns `model` on `pairs` with Booster.
template <FloatElement T, Device D>
DefenceResult booster(nn::CausalLM<T, D>& model, const std::vector<Pair>& pairs, const BoosterOptions& bopt, const DefenceOptions& opt) {
    detail::check_booster(bopt);
    return run_defence(model, pairs, opt, [&](const PairedBatch<T, D>& batch, index_t) { return booster_step(model, batch, bopt); });
}

}  // namespace ward::defence
