#pragma once
// Causal scaled-dot-product attention as one op of the tape.
//   q (B, H, T, hd), k and v (B, Hkv, S, hd) -> (B, T, H * hd); query head h reads key/value head
//   h / (H / Hkv) (grouped-query attention), and query i sits at key position offset + i.
//   out = softmax(scale q k^T + mask) v, per head, with the heads' outputs side by side.
// Where the device has fused attention kernels for T (tensor/fused.hpp; f32 on the CPU, f32 and bf16
// on CUDA) they run, storing no (T, S) scores; elsewhere the op composes matmul, softmax and matmul.

#include <array>
#include <cmath>
#include <string>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/linalg.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"

namespace ward::ag {

/// What masked scores get on the composed path: finite, so a row that masks everything gives a
/// uniform, not NaN, softmax.
inline constexpr double masked_score = -1e30;

/// Which keys each query sees: key j is seen by query i iff j <= offset + i, and, when
/// key_padding (B, S) is given, key_padding[b, j] != 0. A query that sees no key (a padding
/// position) has an unspecified output and passes no gradient: nothing should read it.
template <FloatElement T, Device D = cpu>
struct AttentionMask {
    index_t offset = 0;
    Tensor<T, D> key_padding;  // 1 for a real key, 0 for padding; undefined: no padding

    /// The additive form (1 or B, 1, T, S): 0 where seen, masked_score (or twice it) elsewhere.
    Tensor<T, D> additive(index_t t) const {
        const index_t keys = offset + t;
        std::vector<T> m(static_cast<std::size_t>(t * keys));
        for (index_t i = 0; i < t; ++i)
            for (index_t j = 0; j < keys; ++j)
                m[static_cast<std::size_t>(i * keys + j)] = j <= offset + i ? T(0) : element_cast<T>(masked_score);
        Tensor<T, D> causal = Tensor<T, D>::from_vector(m, {1, 1, t, keys});
        if (!key_padding.defined()) return causal;
        using C = compute_t<T>;
        const index_t B = key_padding.size(0);
        return Tensor<T, D>(causal + (key_padding.reshape({B, 1, 1, keys}) - C(1)) * C(-masked_score));
    }
};

namespace detail {
/// padding: the key padding's shape, or null without one.
inline void check_attention(const Shape& q, const Shape& k, const Shape& v, index_t offset, const Shape* padding) {
    auto fail = [&](const std::string& why) {
        throw shape_error("attention: " + why + " (q " + q.str() + ", k " + k.str() + ", v " + v.str() + ")");
    };
    if (q.rank != 4 || k.rank != 4 || !(k == v)) fail("q must be (B, H, T, hd), k and v the same (B, Hkv, S, hd)");
    if (k[0] != q[0] || k[3] != q[3]) fail("batch and head size must agree");
    if (k[1] == 0 || q[1] % k[1] != 0) fail("query heads must be a multiple of key/value heads");
    if (offset < 0 || offset + q[2] != k[2]) fail("keys must be the offset " + std::to_string(offset) + " plus the queries");
    if (padding && !(*padding == Shape{q[0], k[2]})) fail("key padding must be (B, S), got " + padding->str());
}

/// Through the device's fused kernels (tensor/fused.hpp).
template <FloatElement T, Device D>
Var<T, D> attention_fused(const Var<T, D>& q, const Var<T, D>& k, const Var<T, D>& v, const AttentionMask<T, D>& mask,
                          double scale) {
    FusedAttention<T, D> f = ward::attention_forward(q.value(), k.value(), v.value(), mask.offset, mask.key_padding, scale);
    return Var<T, D>::make(f.o, {q, k, v}, "attention", [f](Node<T, D>& self) {
        // Gradients in (B, T or S, heads, hd) memory, handed over as (B, heads, T or S, hd) views:
        // the permute and reshape that made q, k and v from a projection then pass them on uncopied.
        std::array<Tensor<T, D>, 3> grads = ward::attention_backward(f, self.grad);
        for (std::size_t i = 0; i < 3; ++i)
            if (self.inputs[i]->requires_grad) accumulate_fresh(*self.inputs[i], grads[i].permute({0, 2, 1, 3}));
    });
}
}  // namespace detail

/// Attention of q over k and v under `mask`, scaled by `scale`: (B, T, H * hd).
template <FloatElement T, Device D>
Var<T, D> attention(const Var<T, D>& q, const Var<T, D>& k, const Var<T, D>& v, const AttentionMask<T, D>& mask,
                    double scale) {
    const Shape &qs = q.shape(), &ks = k.shape();
    detail::check_attention(qs, ks, v.shape(), mask.offset, mask.key_padding.defined() ? &mask.key_padding.shape() : nullptr);
    if constexpr (has_attention_kernel<T, D>) {
        return detail::attention_fused(q, k, v, mask, scale);
    } else {
        const index_t B = qs[0], H = qs[1], Tn = qs[2], hd = qs[3], Hkv = ks[1], S = ks[2];
        Var<T, D> kr = k, vr = v;
        if (Hkv != H) {  // each key/value head serves H / Hkv query heads
            auto repeat = [&](const Var<T, D>& t) {
                return reshape(expand(unsqueeze(t, 2), {B, Hkv, H / Hkv, S, hd}), {B, H, S, hd});
            };
            kr = repeat(k);
            vr = repeat(v);
        }
        Var<T, D> scores = matmul(q, transpose(kr)) * scale + Var<T, D>(mask.additive(Tn));
        Var<T, D> o = matmul(softmax(scores), vr);                // (B, H, T, hd)
        return reshape(permute(o, {0, 2, 1, 3}), {B, Tn, H * hd});  // (B, T, C)
    }
}

}  // namespace ward::ag
