#pragma once
// PPO's two losses on the tokens of a batch (Schulman et al. 2017), each a mean over the positions
// whose mask is 1 (the response tokens), as tensors of one shape (B, L):
//   policy   max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)),  ratio = exp(log pi - log pi_old)
//   value    0.5 max((V - R)^2, (V_old + clip(V - V_old, -eps_v, eps_v) - R)^2)
// Both are differentiable in the new log-probs / values only; the rest are constants of the rollout.

#include <string>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/core/error.hpp"

namespace ward::rl {

namespace detail {
template <FloatElement T, Device D>
void same_shape(const std::string& who, const Shape& a, const Tensor<T, D>& b, const char* name) {
    if (!(a == b.shape())) throw shape_error(who + ": " + name + " " + b.shape().str() + " does not match " + a.str());
}
/// sum(x * mask) / sum(mask) (0 when the mask is empty).
template <FloatElement T, Device D>
ag::Var<T, D> masked_mean(const ag::Var<T, D>& x, const Tensor<T, D>& mask) {
    const double n = double(ward::sum(mask).item());
    return ag::sum(x * ag::Var<T, D>(mask)) * (n > 0 ? 1.0 / n : 0.0);
}
}  // namespace detail

/// The clipped surrogate (to minimise). logp: the policy's log-probs now; old_logp, advantages, mask constants.
template <FloatElement T, Device D>
ag::Var<T, D> ppo_policy_loss(const ag::Var<T, D>& logp, const Tensor<T, D>& old_logp, const Tensor<T, D>& advantages,
                              const Tensor<T, D>& mask, double clip) {
    const std::string who = "ppo_policy_loss";
    detail::same_shape(who, logp.shape(), old_logp, "old log-probs");
    detail::same_shape(who, logp.shape(), advantages, "advantages");
    detail::same_shape(who, logp.shape(), mask, "mask");
    if (!(clip > 0)) throw value_error(who + ": clip must be > 0, got " + std::to_string(clip));
    ag::Var<T, D> ratio = ag::exp(logp - ag::Var<T, D>(old_logp));
    ag::Var<T, D> adv(advantages);
    ag::Var<T, D> unclipped = -(ratio * adv), clipped = -(ag::clamp(ratio, 1.0 - clip, 1.0 + clip) * adv);
    return detail::masked_mean(ag::maximum(unclipped, clipped), mask);
}

/// The share of masked tokens whose ratio the clip cut off (a diagnostic).
template <FloatElement T, Device D>
double clip_fraction(const Tensor<T, D>& logp, const Tensor<T, D>& old_logp, const Tensor<T, D>& mask, double clip) {
    Tensor<T, D> ratio = ward::exp(logp - old_logp);
    const double n = double(ward::sum(mask).item());
    Tensor<T, D> out = ward::where(ward::abs(ratio - compute_t<T>(1)) > compute_t<T>(clip), mask, compute_t<T>(0));
    return n > 0 ? double(ward::sum(out).item()) / n : 0.0;
}

/// The clipped value loss (to minimise); clip <= 0 turns the clipping off.
template <FloatElement T, Device D>
ag::Var<T, D> ppo_value_loss(const ag::Var<T, D>& values, const Tensor<T, D>& old_values, const Tensor<T, D>& returns,
                             const Tensor<T, D>& mask, double clip) {
    const std::string who = "ppo_value_loss";
    detail::same_shape(who, values.shape(), old_values, "old values");
    detail::same_shape(who, values.shape(), returns, "returns");
    detail::same_shape(who, values.shape(), mask, "mask");
    ag::Var<T, D> ret(returns), old(old_values);
    ag::Var<T, D> plain = ag::square(values - ret);
    if (!(clip > 0)) return detail::masked_mean(plain, mask) * 0.5;
    ag::Var<T, D> clipped = ag::square(old + ag::clamp(values - old, -clip, clip) - ret);
    return detail::masked_mean(ag::maximum(plain, clipped), mask) * 0.5;
}

}  // namespace ward::rl
