#pragma once
// Neural-network ops on Vars: softmax, log-softmax, layer norm, RMS norm, embedding, dropout.
// Rows are the last axis. With y the output, g its gradient and xhat the normalised input:
//   softmax      dx = y * (g - sum(g * y))
//   log_softmax  dx = g - exp(y) * sum(g)
//   layer_norm   dx = rstd * (g' - mean(g') - xhat * mean(g' * xhat)),  g' = g * gamma
//   rms_norm     dx = rstd * (g' - xhat * mean(g' * xhat))
//   gamma: sum over rows of g * xhat; beta: sum over rows of g

#include <algorithm>
#include <cstdint>
#include <utility>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/core/rng.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"
#include "ward/tensor/reduce.hpp"

namespace ward::ag {

template <FloatElement T, Device D>
Var<T, D> softmax(const Var<T, D>& a) {
    Tensor<T, D> y = ward::softmax(a.value());
    return Var<T, D>::make(y, {a}, "softmax", [y](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        self.inputs[0]->accumulate(y * (g - ward::sum(g * y, -1, true)));
    });
}

template <FloatElement T, Device D>
Var<T, D> log_softmax(const Var<T, D>& a) {
    Tensor<T, D> y = ward::log_softmax(a.value());
    return Var<T, D>::make(y, {a}, "log_softmax", [y](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        self.inputs[0]->accumulate(g - ward::exp(y) * ward::sum(g, -1, true));
    });
}

namespace detail {
/// Per-row statistics (rows,) viewed as (..., 1) to broadcast against (..., C).
template <class V, class D>
Tensor<V, D> per_row(const Tensor<V, D>& stat, const Shape& x) {
    Shape s = x;
    s[s.rank - 1] = 1;
    return stat.reshape(s);
}
/// Sums (..., C) over every axis but the last -> (C).
template <class T, class D>
Tensor<T, D> sum_rows(const Tensor<T, D>& g) {
    index_t c = g.size(-1);
    return ward::sum(g.reshape(Shape{g.numel() / c, c}), 0);
}
/// Layer norm (Centered) or RMS norm backward in one fused pass, where the device has the kernel
/// (tensor/fused.hpp). Inputs: 0 x, 1 gamma, 2 beta (layer norm only).
template <bool Centered, FloatElement T, Device D>
void norm_backward_rows(Node<T, D>& self, const Tensor<T, D>& x, const Tensor<T, D>& gamma, const NormStats<T, D>& st) {
    auto wants = [&](std::size_t i) { return self.inputs.size() > i && self.inputs[i] && self.inputs[i]->requires_grad; };
    NormGrads<T, D> d = ward::norm_backward<Centered>(x, self.grad, st, gamma, wants(1), Centered && wants(2));
    if (wants(0)) accumulate_fresh(*self.inputs[0], std::move(d.dx));
    if (d.dgamma.defined()) accumulate_fresh(*self.inputs[1], std::move(d.dgamma));
    if (d.dbeta.defined()) accumulate_fresh(*self.inputs[2], std::move(d.dbeta));
}
}  // namespace detail

/// Layer normalisation over the last axis; gamma and beta may be undefined Vars.
template <FloatElement T, Device D>
Var<T, D> layer_norm(const Var<T, D>& a, const Var<T, D>& gamma, const Var<T, D>& beta, double eps = 1e-5) {
    NormStats<T, D> st;
    const Tensor<T, D>& x = a.value();
    Tensor<T, D> gv = gamma.defined() ? gamma.value() : Tensor<T, D>(), bv = beta.defined() ? beta.value() : Tensor<T, D>();
    Tensor<T, D> y = ward::layer_norm(x, gv, bv, eps, &st);
    return Var<T, D>::make(y, {a, gamma, beta}, "layer_norm", [x, gv, st](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        if constexpr (has_norm_backward<T, D>) return detail::norm_backward_rows<true>(self, x, gv, st);
        auto mean = detail::per_row(st.mean, x.shape()), rstd = detail::per_row(st.rstd, x.shape());
        Tensor<T, D> xhat = (x - cast<T>(mean)) * cast<T>(rstd);
        Tensor<T, D> gp = gv.defined() ? Tensor<T, D>(g * gv) : g;
        if (self.inputs[0]->requires_grad)
            self.inputs[0]->accumulate(cast<T>(rstd) * (gp - ward::mean(gp, -1, true) - xhat * ward::mean(gp * xhat, -1, true)));
        if (self.inputs[1] && self.inputs[1]->requires_grad) self.inputs[1]->accumulate(detail::sum_rows(Tensor<T, D>(g * xhat)));
        if (self.inputs[2] && self.inputs[2]->requires_grad) self.inputs[2]->accumulate(detail::sum_rows(g));
    });
}

/// RMS normalisation over the last axis (Llama's RMSNorm); gamma may be undefined.
template <FloatElement T, Device D>
Var<T, D> rms_norm(const Var<T, D>& a, const Var<T, D>& gamma, double eps = 1e-6) {
    NormStats<T, D> st;
    const Tensor<T, D>& x = a.value();
    Tensor<T, D> gv = gamma.defined() ? gamma.value() : Tensor<T, D>();
    Tensor<T, D> y = ward::rms_norm(x, gv, eps, &st);
    return Var<T, D>::make(y, {a, gamma}, "rms_norm", [x, gv, st](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        if constexpr (has_norm_backward<T, D>) return detail::norm_backward_rows<false>(self, x, gv, st);
        auto rstd = cast<T>(detail::per_row(st.rstd, x.shape()));
        Tensor<T, D> xhat = x * rstd;
        Tensor<T, D> gp = gv.defined() ? Tensor<T, D>(g * gv) : g;
        if (self.inputs[0]->requires_grad)
            self.inputs[0]->accumulate(rstd * (gp - xhat * ward::mean(gp * xhat, -1, true)));
        if (self.inputs[1] && self.inputs[1]->requires_grad) self.inputs[1]->accumulate(detail::sum_rows(Tensor<T, D>(g * xhat)));
    });
}

/// Rows of `table` (V, E) at `ids`; the gradient scatters back into the picked rows.
template <FloatElement T, Device D>
Var<T, D> embedding(const Var<T, D>& table, const Tensor<std::int64_t, D>& ids) {
    Shape ts = table.shape();
    return Var<T, D>::make(ward::embedding(table.value(), ids), {table}, "embedding", [ids, ts](Node<T, D>& self) {
        auto dtable = Tensor<T, D>::zeros(ts);
        ward::embedding_backward(self.grad, ids, dtable);
        self.inputs[0]->accumulate(dtable);
    });
}

/// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p).
/// Seeded through `gen`: the same generator state drops the same elements.
template <FloatElement T, Device D>
Var<T, D> dropout(const Var<T, D>& a, double p, Generator& gen, bool training = true) {
    if (!(p >= 0 && p < 1)) throw value_error("dropout: p = " + std::to_string(p) + " outside [0, 1)");
    if (!training || p == 0) return a;
    using V = compute_t<T>;
    Tensor<T, D> keep = bernoulli<V, D>(gen, a.shape(), V(1 - p)) * V(1 / (1 - p));
    return Var<T, D>::make(a.value() * keep, {a}, "dropout",
                           [keep](Node<T, D>& self) { self.inputs[0]->accumulate(self.grad * keep); });
}

}  // namespace ward::ag
