#pragma once
// Losses on Vars, each fused: the forward pass reads the logits in two reductions and the backward
// pass is one element-wise pass.
//   cross_entropy    mean over counted positions of logsumexp(x) - x[target]; positions whose target
//                    is ignore_index, or whose mask is 0, do not count. dx = (softmax(x) - onehot) * w / W
//   mse              mean((x - y)^2)
//   bce_with_logits  mean(max(x, 0) - x y + log(1 + exp(-|x|)));  dx = (sigmoid(x) - y) / N
//   kl_div           mean over rows of KL(softmax(p) || softmax(q))
//   token_log_probs  per position, log softmax(x)[target] (0 where the target is ignored), not reduced:
//                    the sequence log-likelihoods of DPO, PPO and RLOO.  dx = (onehot - softmax(x)) * g * w

#include <cstdint>
#include <string>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"
#include "ward/tensor/reduce.hpp"

namespace ward::ag {

inline constexpr std::int64_t ignore_index = -100;

namespace detail {
/// Every target id lies in [0, V) or is the ignore index (an index_error naming the op otherwise).
template <Device D>
void check_target_ids(const char* op, const Tensor<std::int64_t, D>& targets, index_t V, std::int64_t ignore) {
    if (targets.numel() == 0) return;
    const std::int64_t lo = ward::min(targets).item(), hi = ward::max(targets).item();
    const bool bad_lo = lo < 0 && lo != ignore, bad_hi = hi >= V;
    if (bad_lo || bad_hi)
        throw index_error(std::string(op) + ": target id " + std::to_string(bad_hi ? hi : lo) + " outside [0, " + std::to_string(V) +
                          ") and not the ignore index " + std::to_string(ignore));
}

/// cross_entropy through the device's fused row kernels (tensor/fused.hpp): the same loss and
/// gradient, two passes over the logits instead of seven. Arguments checked.
template <FloatElement T, Device D>
Var<T, D> cross_entropy_rows(const Var<T, D>& logits, const Tensor<std::int64_t, D>& targets, const Tensor<T, D>& mask,
                             std::int64_t ignore, index_t N, index_t V) {
    using C = compute_t<T>;
    CrossEntropyRows<T, D> rows =
        ward::cross_entropy_rows(logits.value().reshape(Shape{N, V}), targets.reshape(Shape{N}), mask, ignore);
    const double counted = rows.sums.counted;
    const C loss = counted > 0 ? C(rows.sums.total / counted) : C(0);
    const Shape ls = logits.shape();
    return Var<T, D>::make(Tensor<T, D>::full({}, loss), {logits}, "cross_entropy", [rows, counted, ls](Node<T, D>& self) {
        if (!(counted > 0)) return;
        accumulate_fresh(*self.inputs[0], ward::cross_entropy_rows_backward(rows, C(self.grad.item() / counted), ls));
    });
}
}  // namespace detail

/// logits (..., V), targets (...) with ids in [0, V) or ignore; mask (...) optional weights (0/1).
/// With no counted position the loss is 0 and so is its gradient.
template <FloatElement T, Device D>
Var<T, D> cross_entropy(const Var<T, D>& logits, const Tensor<std::int64_t, D>& targets,
                        const Tensor<T, D>& mask = Tensor<T, D>(), std::int64_t ignore = ignore_index) {
    const Shape& ls = logits.shape();
    if (ls.rank < 1 || targets.numel() * ls[ls.rank - 1] != logits.value().numel())
        throw shape_error("cross_entropy: targets of shape " + targets.shape().str() + " do not match logits " + ls.str());
    if (mask.defined() && mask.numel() != targets.numel())
        throw shape_error("cross_entropy: mask of shape " + mask.shape().str() + " does not match targets " + targets.shape().str());
    const index_t V = ls[ls.rank - 1], N = targets.numel();
    using C = compute_t<T>;
    detail::check_target_ids("cross_entropy", targets, V, ignore);
    if constexpr (has_cross_entropy_kernel<T, D>) return detail::cross_entropy_rows(logits, targets, mask, ignore, N, V);
    // Ids, weights and log-sum-exps in the compute type: bf16 holds integers exactly only up to 256
    // and would round a log-sum-exp of 7 by up to 0.016.
    Tensor<T, D> x = logits.value().reshape(Shape{N, V});
    Tensor<C, D> t = cast<C>(targets.reshape(Shape{N, 1})) * C(1);
    Tensor<C, D> w = mask.defined() ? Tensor<C, D>(ne(t, C(ignore)) * mask.reshape(Shape{N, 1}))
                                    : Tensor<C, D>(ne(t, C(ignore)) * C(1));
    Tensor<C, D> iota = cast<C>(Tensor<std::int64_t, D>::arange(V)) * C(1);
    Tensor<C, D> lse = ward::logsumexp(x, -1, true);
    Tensor<C, D> picked = ward::sum(x * eq(iota, t), -1, true);
    const C counted = ward::sum(w).item();
    const C loss = counted > 0 ? C(ward::sum((lse - picked) * w).item() / counted) : C(0);
    Tensor<T, D> out = Tensor<T, D>::full({}, loss);
    return Var<T, D>::make(out, {logits}, "cross_entropy", [x, t, w, iota, lse, counted, ls](Node<T, D>& self) {
        if (!(counted > 0)) return;
        const C scale = C(self.grad.item() / counted);
        self.inputs[0]->accumulate(Tensor<T, D>((ward::exp(x - lse) - eq(iota, t)) * (w * scale)).reshape(ls));
    });
}

/// mean((pred - target)^2); target is a constant of pred's shape.
template <FloatElement T, Device D>
Var<T, D> mse(const Var<T, D>& pred, const Tensor<T, D>& target) {
    if (!(pred.shape() == target.shape()))
        throw shape_error("mse: prediction " + pred.shape().str() + " and target " + target.shape().str() + " differ");
    const Tensor<T, D>& x = pred.value();
    const double n = static_cast<double>(x.numel());
    Tensor<T, D> out = ward::mean(ward::square(x - target));
    return Var<T, D>::make(out, {pred}, "mse", [x, target, n](Node<T, D>& self) {
        self.inputs[0]->accumulate((x - target) * (2.0 * self.grad.item() / n));
    });
}

/// Binary cross-entropy on logits against targets in [0, 1] (mean over elements), stable for any x.
template <FloatElement T, Device D>
Var<T, D> bce_with_logits(const Var<T, D>& logits, const Tensor<T, D>& target) {
    if (!(logits.shape() == target.shape()))
        throw shape_error("bce_with_logits: logits " + logits.shape().str() + " and target " + target.shape().str() + " differ");
    const Tensor<T, D>& x = logits.value();
    const double n = static_cast<double>(x.numel());
    Tensor<T, D> out = ward::mean(ward::relu(x) - x * target + ward::log1p(ward::exp(-ward::abs(x))));
    return Var<T, D>::make(out, {logits}, "bce_with_logits", [x, target, n](Node<T, D>& self) {
        self.inputs[0]->accumulate((ward::sigmoid(x) - target) * (self.grad.item() / n));
    });
}

/// mean over rows (all axes but the last) of KL(P || Q), P = softmax(p_logits), Q = softmax(q_logits).
template <FloatElement T, Device D>
Var<T, D> kl_div(const Var<T, D>& p_logits, const Var<T, D>& q_logits) {
    if (!(p_logits.shape() == q_logits.shape()))
        throw shape_error("kl_div: logits " + p_logits.shape().str() + " and " + q_logits.shape().str() + " differ");
    Tensor<T, D> lp = ward::log_softmax(p_logits.value()), lq = ward::log_softmax(q_logits.value());
    const double rows = static_cast<double>(lp.numel() / std::max<index_t>(1, lp.size(-1)));
    Tensor<T, D> kl_rows = ward::sum(ward::exp(lp) * (lp - lq), -1, true);
    Tensor<T, D> out = ward::sum(kl_rows) * (1.0 / rows);
    return Var<T, D>::make(out, {p_logits, q_logits}, "kl_div", [lp, lq, kl_rows, rows](Node<T, D>& self) {
        const double s = self.grad.item() / rows;
        if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate(ward::exp(lp) * ((lp - lq) - kl_rows) * s);
        if (self.inputs[1]->requires_grad) self.inputs[1]->accumulate((ward::exp(lq) - ward::exp(lp)) * s);
    });
}

/// logits (..., V), targets (...) -> (...): log softmax(logits)[target] at every position; 0, with no
/// gradient, where the target is `ignore` (padding, prompts).
template <FloatElement T, Device D>
Var<T, D> token_log_probs(const Var<T, D>& logits, const Tensor<std::int64_t, D>& targets, std::int64_t ignore = ignore_index) {
    const Shape& ls = logits.shape();
    if (ls.rank < 1 || targets.numel() * ls[ls.rank - 1] != logits.value().numel())
        throw shape_error("token_log_probs: targets of shape " + targets.shape().str() + " do not match logits " + ls.str());
    const index_t V = ls[ls.rank - 1], N = targets.numel();
    using C = compute_t<T>;
    detail::check_target_ids("token_log_probs", targets, V, ignore);
    const Shape out_shape = targets.shape();
    if constexpr (has_cross_entropy_kernel<T, D>) {
        // The fused row kernels of cross_entropy: two passes over the logits.
        Tensor<T, D> x = logits.value().reshape(Shape{N, V}).contiguous();
        Tensor<std::int64_t, D> t = targets.reshape(Shape{N}).contiguous();
        Tensor<T, D> out = Tensor<T, D>::empty(out_shape);
        Tensor<C, D> lse = ward::token_log_probs_rows(x, t, ignore, out);
        return Var<T, D>::make(out, {logits}, "token_log_probs", [x, t, lse, ignore, ls](Node<T, D>& self) {
            detail::accumulate_fresh(*self.inputs[0], ward::token_log_probs_rows_backward(x, t, ignore, lse, self.grad.contiguous(), ls));
        });
    }
    Tensor<T, D> x = logits.value().reshape(Shape{N, V});
    Tensor<C, D> t = cast<C>(targets.reshape(Shape{N, 1})) * C(1);  // the compute type, as in cross_entropy
    Tensor<C, D> w = ne(t, C(ignore)) * C(1);
    Tensor<C, D> iota = cast<C>(Tensor<std::int64_t, D>::arange(V)) * C(1);
    Tensor<C, D> lse = ward::logsumexp(x, -1, true);
    Tensor<C, D> hit = ward::eq(iota, t) * C(1);
    Tensor<T, D> out = Tensor<T, D>((ward::sum(x * hit, -1, true) - lse) * w).reshape(out_shape);
    return Var<T, D>::make(out, {logits}, "token_log_probs", [x, hit, w, lse, ls, N](Node<T, D>& self) {
        Tensor<T, D> g = self.grad.contiguous().reshape(Shape{N, 1});
        self.inputs[0]->accumulate(Tensor<T, D>((hit - ward::exp(x - lse)) * (g * w)).reshape(ls));
    });
}

}  // namespace ward::ag
