#pragma once
// Vaccine: perturbation-aware alignment (Huang et al. 2024, "Vaccine: Perturbation-aware
// Alignment for Large Language Models against Harmful Fine-tuning"). Harmful fine-tuning drifts the
// hidden embeddings; Vaccine aligns the model so that its alignment loss stays low when every layer's
// output is shifted by the worst small drift. Per step:
//   pass 1: alignment loss f (CE on the refusal side); g_l = df/dh_l for every layer's output h_l;
//   e_l = rho * g_l / ||g||, with ||g|| the norm over all layers together (so ||e|| = rho);
//   pass 2: the same loss with e_l added to each layer's output (e held constant); its gradient
//   with respect to the weights is the step's gradient.
// The paper adds 1e-7 to ||g||; here a zero gradient gives a zero perturbation instead, so that
// ||e|| is exactly rho otherwise. The paper's rho = 2 is for 7B models with hidden size 4096; the
// drift a small model tolerates is smaller, so tune rho to the hidden states' scale.

#include <cmath>
#include <string>
#include <vector>

#include "ward/defence/loss_terms.hpp"
#include "ward/defence/train.hpp"

namespace ward::defence {

struct VaccineOptions {
    double rho = 2.0;  // the perturbation's norm over all layers (the paper's default, for its scale)
};

namespace detail {
inline void check_rho(double rho) {
    if (!(rho >= 0) || !std::isfinite(rho)) throw value_error("vaccine: rho must be finite and >= 0, got " + std::to_string(rho));
}

/// Pass 1: the perturbations, and the unperturbed alignment loss in `loss`.
template <FloatElement T, Device D>
std::vector<Tensor<T, D>> vaccine_pass(const nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, double rho, double& loss) {
    check_rho(rho);
    Context<T, D> ctx(model, batch);
    ag::Var<T, D> f = answer_loss(ctx, Side::harmless);
    loss = double(f.value().item());
    if (!std::isfinite(loss)) return {};
    std::vector<Tensor<T, D>> g = ag::grad(f, ctx.harmless().hidden);
    double sq = 0;
    for (const auto& t : g) sq += ward::sum(ward::square(ward::cast<double>(t))).item();
    const double norm = std::sqrt(sq);
    if (!std::isfinite(norm)) throw value_error("vaccine: the hidden-state gradient is not finite (norm " + std::to_string(norm) + ")");
    const double scale = norm > 0 ? rho / norm : 0.0;
    for (auto& t : g) t = Tensor<T, D>(t * compute_t<T>(scale));
    return g;
}
}  // namespace detail

/// The perturbation of pass 1: one tensor per layer, shaped like that layer's output (B, T, C), with
/// norm rho over all layers together (zero when the alignment loss has no gradient).
template <FloatElement T, Device D>
std::vector<Tensor<T, D>> vaccine_perturbations(const nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, double rho) {
    double loss = 0;
    auto e = detail::vaccine_pass(model, batch, rho, loss);
    if (!std::isfinite(loss)) throw value_error("vaccine: the alignment loss is " + std::to_string(loss));
    return e;
}

/// One Vaccine step: leaves the gradient of the perturbed pass in the model's parameters. Terms:
/// "alignment" (the loss of pass 1, unperturbed) and "perturbed" (the loss of pass 2, the step's).
template <FloatElement T, Device D>
StepOutcome vaccine_step(const nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, const VaccineOptions& opt) {
    StepOutcome out;
    double first = 0;
    std::vector<Tensor<T, D>> e = detail::vaccine_pass(model, batch, opt.rho, first);
    out.terms["alignment"] = first;
    if (!std::isfinite(first)) {
        out.loss = first;  // run_defence stops with a message naming the step
        return out;
    }
    std::vector<ag::Var<T, D>> vars;
    for (auto& t : e) vars.emplace_back(std::move(t), false);  // constants: no gradient through e
    Context<T, D> second(model, batch);
    second.set_perturbations(Side::harmless, std::move(vars));
    ag::Var<T, D> loss = answer_loss(second, Side::harmless);
    out.loss = double(loss.value().item());
    out.terms["perturbed"] = out.loss;
    if (std::isfinite(out.loss)) loss.backward();
    return out;
}

/// Aligns `model` on the refusal side of `pairs` with Vaccine.
template <FloatElement T, Device D>
DefenceResult vaccine(nn::CausalLM<T, D>& model, const std::vector<Pair>& pairs, const VaccineOptions& vopt,
                      const DefenceOptions& opt) {
    detail::check_rho(vopt.rho);
    return run_defence(model, pairs, opt, [&](const PairedBatch<T, D>& batch, index_t) { return vaccine_step(model, batch, vopt); });
}

}  // namespace ward::defence
