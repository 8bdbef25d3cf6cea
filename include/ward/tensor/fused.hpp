#pragma once
// Fused kernels a device's Backend may provide, forward and backward: attention, GELU, a matmul
// summed into its output, the cross-entropy rows and the normalisation backward pass. These are
// the front ends the tape calls (autograd/ names no device). Each kernel is a member of
// Backend<D> for the element types it takes; the has_* concepts tell whether it is there, and
// where it is not the caller composes the same op from expressions, evaluated on the same device
// (never copied to another).

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <type_traits>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/tensor/attention_layout.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/ops.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward {

/// What the cross-entropy kernel returns: the sum of the row weights and of the weighted losses.
struct CrossEntropySums {
    double counted = 0, total = 0;
};

namespace detail {
/// Asks for Backend<D> to be complete before a has_* concept looks into it (a concept checked
/// against an incomplete Backend would quietly say no).
template <Device D>
constexpr bool backend_complete() {
    static_assert(sizeof(Backend<D>) > 0, "ward: include the backend of this device (ward/tensor.hpp, ward/cuda.cuh)");
    return true;
}
}  // namespace detail

// Attention's row statistics (lse) are kept in the compute type: a bf16 lse would shift every
// probability the backward pass recomputes by up to 2^-8 |lse|.
template <class T, class D>
concept has_attention_kernel = detail::backend_complete<D>() &&
    requires(const AttentionShape& a, BasicHeadRows<T> r, T* o, const T* c, compute_t<T>* s, const compute_t<T>* cs) {
        Backend<D>::attention_forward(a, r, r, r, o, s);
        Backend<D>::attention_backward(a, r, r, r, c, cs, c, o, o, o);
    };
template <class T, class D>
concept has_gelu_kernel = detail::backend_complete<D>() && requires(const T* x, T* y, index_t n) {
    { Backend<D>::gelu_tanh(x, y, n) } -> std::same_as<bool>;
    { Backend<D>::gelu_tanh_backward(x, x, y, n) } -> std::same_as<bool>;
};
template <class T, class D>
concept has_gemm_accumulate = detail::backend_complete<D>() && requires(const T* a, T* c, index_t n) {
    Backend<D>::gemm_accumulate(true, false, n, n, n, a, n, a, n, c, n);
};
// The cross-entropy rows' lse and weights are in the compute type, as attention's lse.
template <class T, class D>
concept has_cross_entropy_kernel = detail::backend_complete<D>() &&
    requires(const T* x, T* y, const std::int64_t* t, index_t n, std::int64_t ignore, compute_t<T> scale, compute_t<T>* s,
             const compute_t<T>* cs) {
        { Backend<D>::cross_entropy(x, n, n, t, x, ignore, s, s) } -> std::same_as<CrossEntropySums>;
        Backend<D>::cross_entropy_backward(x, n, n, t, cs, cs, scale, y);
        Backend<D>::token_log_probs(x, n, n, t, ignore, s, y);
        Backend<D>::token_log_probs_backward(x, n, n, t, ignore, cs, x, y);
    };
template <class T, class D>
concept has_norm_backward = detail::backend_complete<D>() &&
    requires(const T* x, const compute_t<T>* s, T* y, index_t n) {
        Backend<D>::template norm_backward<true>(x, x, s, s, x, n, n, y, y, y);
        Backend<D>::template norm_backward<false>(x, x, s, s, x, n, n, y, y, y);
    };

/// gelu_tanh(z), evaluated: the device's kernel on a dense z where it has one, else the expression.
template <FloatElement T, Device D>
Tensor<T, D> gelu_tanh_values(const Tensor<T, D>& z) {
    if constexpr (has_gelu_kernel<T, D>) {
        if (z.is_contiguous()) {
            Tensor<T, D> y = Tensor<T, D>::empty(z.shape());
            if (Backend<D>::gelu_tanh(z.data(), y.data(), z.numel())) return y;
        }
    }
    return Tensor<T, D>(gelu_tanh(z));
}

/// g * gelu_tanh'(z), by the same route.
template <FloatElement T, Device D>
Tensor<T, D> gelu_tanh_input_grad(const Tensor<T, D>& z, const Tensor<T, D>& g) {
    if constexpr (has_gelu_kernel<T, D>) {
        if (z.is_contiguous()) {
            Tensor<T, D> gc = g.contiguous(), dz = Tensor<T, D>::empty(z.shape());
            if (Backend<D>::gelu_tanh_backward(z.data(), gc.data(), dz.data(), z.numel())) return dz;
        }
    }
    return Tensor<T, D>(g * gelu_tanh_grad(z));
}

/// c += op(a) @ op(b) in place, op(x) = x^T where trans_x: a, b and c dense 2-D tensors as stored
/// (c may be a gradient's storage, summed into without a temporary).
template <FloatElement T, Device D>
    requires has_gemm_accumulate<T, D>
void gemm_accumulate(const Tensor<T, D>& a, bool trans_a, const Tensor<T, D>& b, bool trans_b, const Tensor<T, D>& c) {
    if (a.rank() != 2 || b.rank() != 2 || c.rank() != 2 || !a.is_contiguous() || !b.is_contiguous() || !c.is_contiguous())
        throw shape_error("gemm_accumulate: needs dense 2-D operands, got " + a.shape().str() + ", " + b.shape().str() + " and " +
                          c.shape().str());
    const index_t M = trans_a ? a.size(1) : a.size(0), K = trans_a ? a.size(0) : a.size(1);
    const index_t N = trans_b ? b.size(0) : b.size(1), Kb = trans_b ? b.size(1) : b.size(0);
    if (K != Kb || c.size(0) != M || c.size(1) != N)
        throw shape_error("gemm_accumulate: " + c.shape().str() + " += " + a.shape().str() + (trans_a ? "^T" : "") + " @ " +
                          b.shape().str() + (trans_b ? "^T" : "") + " does not fit");
    Backend<D>::gemm_accumulate(trans_a, trans_b, M, N, K, a.data(), a.size(1), b.data(), b.size(1), c.data(), c.size(1));
}

/// The cross-entropy rows of logits x (N, V) against ids t (N): lse and the row weights w (0 where
/// t is `ignore`, else mask or 1; both in the compute type), kept for the backward pass, and their sums.
template <FloatElement T, Device D>
struct CrossEntropyRows {
    Tensor<T, D> x;
    Tensor<compute_t<T>, D> lse, w;
    Tensor<std::int64_t, D> t;
    CrossEntropySums sums;
};

template <FloatElement T, Device D>
    requires has_cross_entropy_kernel<T, D>
CrossEntropyRows<T, D> cross_entropy_rows(const Tensor<T, D>& x, const Tensor<std::int64_t, D>& t, const Tensor<T, D>& mask,
                                          std::int64_t ignore) {
    const index_t N = x.size(0), V = x.size(1);
    using C = compute_t<T>;
    CrossEntropyRows<T, D> r{x.contiguous(), Tensor<C, D>::empty({N}), Tensor<C, D>::empty({N}), t.contiguous(), {}};
    Tensor<T, D> m = mask.defined() ? mask.contiguous() : mask;
    r.sums = Backend<D>::cross_entropy(r.x.data(), N, V, r.t.data(), m.defined() ? m.data() : nullptr, ignore, r.lse.data(),
                                       r.w.data());
    return r;
}

/// dx (shape `out`, N * V elements) for a loss gradient of w * scale per row.
template <FloatElement T, Device D>
    requires has_cross_entropy_kernel<T, D>
Tensor<T, D> cross_entropy_rows_backward(const CrossEntropyRows<T, D>& r, compute_t<T> scale, const Shape& out) {
    Tensor<T, D> dx = Tensor<T, D>::empty(out);
    Backend<D>::cross_entropy_backward(r.x.data(), r.x.size(0), r.x.size(1), r.t.data(), r.lse.data(), r.w.data(), scale,
                                       dx.data());
    return dx;
}

/// log softmax(x)[t] per row of x (N, V) into `out` (N elements), 0 where t is `ignore`; returns the
/// rows' lse (compute type) for the backward pass.
template <FloatElement T, Device D>
    requires has_cross_entropy_kernel<T, D>
Tensor<compute_t<T>, D> token_log_probs_rows(const Tensor<T, D>& x, const Tensor<std::int64_t, D>& t, std::int64_t ignore,
                                             const Tensor<T, D>& out) {
    Tensor<compute_t<T>, D> lse = Tensor<compute_t<T>, D>::empty({x.size(0)});
    Backend<D>::token_log_probs(x.data(), x.size(0), x.size(1), t.data(), ignore, lse.data(), out.data());
    return lse;
}

/// dx (shape `out`) of token_log_probs_rows for the output gradient g (N elements, dense).
template <FloatElement T, Device D>
    requires has_cross_entropy_kernel<T, D>
Tensor<T, D> token_log_probs_rows_backward(const Tensor<T, D>& x, const Tensor<std::int64_t, D>& t, std::int64_t ignore,
                                           const Tensor<compute_t<T>, D>& lse, const Tensor<T, D>& g, const Shape& out) {
    Tensor<T, D> dx = Tensor<T, D>::empty(out);
    Backend<D>::token_log_probs_backward(x.data(), x.size(0), x.size(1), t.data(), ignore, lse.data(), g.data(), dx.data());
    return dx;
}

/// Gradients of a layer norm (Centered) or RMS norm over the last axis of x.
template <FloatElement T, Device D>
struct NormGrads {
    Tensor<T, D> dx, dgamma, dbeta;  // dgamma, dbeta undefined where not asked for
};

/// One fused pass from x, the output gradient g, the forward's statistics and gamma (undefined:
/// no affine part); dgamma and dbeta are computed where asked for (dbeta for layer norm only).
template <bool Centered, FloatElement T, Device D>
    requires has_norm_backward<T, D>
NormGrads<T, D> norm_backward(const Tensor<T, D>& x, const Tensor<T, D>& g, const NormStats<T, D>& st, const Tensor<T, D>& gamma,
                              bool want_dgamma, bool want_dbeta) {
    using C = compute_t<T>;
    const index_t Cn = x.size(-1), N = x.numel() / std::max<index_t>(Cn, 1);
    Tensor<T, D> xc = x.contiguous(), gc = g.contiguous(), gm = gamma.defined() ? gamma.contiguous() : gamma;
    Tensor<C, D> mean = Centered ? st.mean.contiguous() : Tensor<C, D>(), rstd = st.rstd.contiguous();
    NormGrads<T, D> r{Tensor<T, D>::empty(x.shape()), {}, {}};
    if (want_dgamma) r.dgamma = Tensor<T, D>::empty(Shape{Cn});
    if (Centered && want_dbeta) r.dbeta = Tensor<T, D>::empty(Shape{Cn});
    Backend<D>::template norm_backward<Centered>(xc.data(), gc.data(), Centered ? mean.data() : nullptr, rstd.data(),
                                                 gm.defined() ? gm.data() : nullptr, N, Cn, r.dx.data(),
                                                 r.dgamma.defined() ? r.dgamma.data() : nullptr,
                                                 r.dbeta.defined() ? r.dbeta.data() : nullptr);
    return r;
}

/// A fused attention call: the operands as the kernel reads them (a unit last stride), its shape
/// record, and the forward's o (B, T, H * hd) and lse (B, H, T), kept for the backward pass. The
/// key padding and lse are in the compute type (f32 for bf16 operands).
template <FloatElement T, Device D>
struct FusedAttention {
    Tensor<T, D> q, k, v, o;
    Tensor<compute_t<T>, D> pad, lse;
    AttentionShape shape;  // its pad points into `pad`, which this record holds
};

namespace detail {
/// A head operand (B, heads, rows, hd); a one-row operand may carry any row stride, the kernels want
/// at least hd.
template <class T, Device D>
BasicHeadRows<T> head_rows(const Tensor<T, D>& t) {
    return BasicHeadRows<T>{t.data(), t.stride(0), t.stride(1), t.size(2) == 1 ? t.size(3) : t.stride(2)};
}
}  // namespace detail

/// Causal attention of q (B, H, T, hd) over k, v (B, Hkv, S, hd), query i at key position
/// offset + i, keys masked where key_padding (B, S) is 0 (undefined: none). Arguments checked.
template <FloatElement T, Device D>
    requires has_attention_kernel<T, D>
FusedAttention<T, D> attention_forward(const Tensor<T, D>& q, const Tensor<T, D>& k, const Tensor<T, D>& v, index_t offset,
                                       const Tensor<T, D>& key_padding, double scale) {
    auto last_unit = [](const Tensor<T, D>& t) { return t.stride(3) == 1 ? t : t.contiguous(); };
    FusedAttention<T, D> f;
    f.q = last_unit(q), f.k = last_unit(k), f.v = last_unit(v);
    AttentionShape& a = f.shape;
    a.B = f.q.size(0), a.H = f.q.size(1), a.T = f.q.size(2), a.hd = f.q.size(3), a.Hkv = f.k.size(1), a.S = f.k.size(2);
    a.offset = offset;
    a.scale = float(scale);
    using C = compute_t<T>;
    if (key_padding.defined()) {
        if constexpr (std::is_same_v<T, C>) f.pad = key_padding.contiguous();
        else f.pad = Tensor<C, D>(ward::cast<C>(key_padding));
    }
    a.pad = f.pad.defined() ? f.pad.data() : nullptr;
    f.o = Tensor<T, D>::empty({a.B, a.T, a.H * a.hd});
    f.lse = Tensor<C, D>::empty({a.B, a.H, a.T});
    Backend<D>::attention_forward(a, detail::head_rows(f.q), detail::head_rows(f.k), detail::head_rows(f.v), f.o.data(),
                                  f.lse.data());
    return f;
}

/// {dq, dk, dv} of attention_forward for the output gradient g (B, T, H * hd), in (B, T or S,
/// heads, hd) memory: permuted to (B, heads, T or S, hd) they are the inputs' gradients.
template <FloatElement T, Device D>
    requires has_attention_kernel<T, D>
std::array<Tensor<T, D>, 3> attention_backward(const FusedAttention<T, D>& f, const Tensor<T, D>& g) {
    const AttentionShape& s = f.shape;
    Tensor<T, D> gc = g.contiguous();
    std::array<Tensor<T, D>, 3> d{Tensor<T, D>::empty({s.B, s.T, s.H, s.hd}), Tensor<T, D>::empty({s.B, s.S, s.Hkv, s.hd}),
                                  Tensor<T, D>::empty({s.B, s.S, s.Hkv, s.hd})};
    Backend<D>::attention_backward(s, detail::head_rows(f.q), detail::head_rows(f.k), detail::head_rows(f.v), f.o.data(),
                                   f.lse.data(), gc.data(), d[0].data(), d[1].data(), d[2].data());
    return d;
}

}  // namespace ward
