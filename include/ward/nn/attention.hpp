#pragma once
// Causal multi-head self-attention with grouped-query heads and rotary position embeddings.
//   x (B, T, C) -> q (B, H, T, hd), k and v (B, Hkv, T, hd); each group of H / Hkv query heads shares
//   one key/value head. out = softmax(q k^T / sqrt(hd) + mask) v (autograd/attention.hpp: fused on
//   the CPU for f32), then the output projection.
// RoPE follows Hugging Face's rotate-half convention: with x = (x1, x2) split in halves,
//   rope(x) = (x1 c - x2 s, x2 c + x1 s),   c, s = cos, sin(position * theta^(-2i / hd)).

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ward/autograd/attention.hpp"
#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/linalg.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/nn/layers.hpp"
#include "ward/tensor/ops.hpp"

namespace ward::nn {

/// cos and sin tables (positions, hd / 2) for rotary embeddings at the given positions.
template <FloatElement T, Device D = cpu>
std::pair<Tensor<T, D>, Tensor<T, D>> rope_tables(const std::vector<index_t>& positions, index_t head_dim, double theta) {
    const index_t half = head_dim / 2;
    std::vector<T> c(positions.size() * static_cast<std::size_t>(half)), s(c.size());
    for (std::size_t p = 0; p < positions.size(); ++p)
        for (index_t i = 0; i < half; ++i) {
            double inv_freq = 1.0 / std::pow(theta, double(2 * i) / double(head_dim));
            double a = double(positions[p]) * inv_freq;
            c[p * static_cast<std::size_t>(half) + static_cast<std::size_t>(i)] = element_cast<T>(std::cos(a));
            s[p * static_cast<std::size_t>(half) + static_cast<std::size_t>(i)] = element_cast<T>(std::sin(a));
        }
    Shape shape{static_cast<index_t>(positions.size()), half};
    return {Tensor<T, D>::from_vector(c, shape), Tensor<T, D>::from_vector(s, shape)};
}

/// Rotary embedding of x (..., T, hd) with tables (T, hd / 2), or (B, 1, T, hd / 2) for per-row
/// positions, broadcast over the leading axes.
///   backward: dx1 = g1 c + g2 s,  dx2 = g2 c - g1 s
template <FloatElement T, Device D>
Var<T, D> rope(const Var<T, D>& x, const Tensor<T, D>& cos, const Tensor<T, D>& sin) {
    const index_t hd = x.size(-1), h = hd / 2;
    if (hd % 2 != 0 || cos.size(-1) != h || cos.size(-2) != x.size(-2))
        throw shape_error("rope: tables " + cos.shape().str() + " do not fit input " + x.shape().str());
    const Tensor<T, D>& v = x.value();
    Tensor<T, D> x1 = v.slice(-1, 0, h), x2 = v.slice(-1, h, hd);
    Tensor<T, D> y = concat<T, D>({Tensor<T, D>(x1 * cos - x2 * sin), Tensor<T, D>(x2 * cos + x1 * sin)}, -1);
    return Var<T, D>::make(y, {x}, "rope", [cos, sin, h, hd](ag::Node<T, D>& self) {
        Tensor<T, D> g1 = self.grad.slice(-1, 0, h), g2 = self.grad.slice(-1, h, hd);
        self.inputs[0]->accumulate(concat<T, D>({Tensor<T, D>(g1 * cos + g2 * sin), Tensor<T, D>(g2 * cos - g1 * sin)}, -1));
    });
}

/// Keys and values of one layer from earlier steps of generation: (B, Hkv, capacity, hd), the
/// first `length` positions filled.
template <FloatElement T, Device D = cpu>
struct KVCache {
    Tensor<T, D> k, v;
    index_t length = 0;
    index_t capacity = 0;
};

struct AttentionConfig {
    index_t hidden = 0, heads = 0, kv_heads = 0;
    bool rotary = false;
    double rope_theta = 10000.0;
    bool qkv_bias = false;  // Qwen2: biases on q, k, v
    bool out_bias = false;
    bool fused_qkv = false;  // GPT-2: one c_attn projection (Conv1D layout)
    index_t head_dim() const { return hidden / heads; }
};

template <FloatElement T, Device D = cpu>
struct CausalSelfAttention {
    AttentionConfig cfg;
    Linear<T, D> qkv, q, k, v, out;  // qkv when fused, else q, k, v

    CausalSelfAttention() = default;
    CausalSelfAttention(const AttentionConfig& c, const Init& gen) : cfg(c) {
        if (c.hidden % c.heads != 0 || c.heads % c.kv_heads != 0)
            throw value_error("attention: hidden " + std::to_string(c.hidden) + " with " + std::to_string(c.heads) +
                              " heads and " + std::to_string(c.kv_heads) + " key/value heads does not divide");
        const index_t kv = c.kv_heads * c.head_dim();
        if (c.fused_qkv) {
            qkv = Linear<T, D>(c.hidden, c.hidden + 2 * kv, true, gen, /*conv1d=*/true);
            out = Linear<T, D>(c.hidden, c.hidden, true, gen, true);
        } else {
            q = Linear<T, D>(c.hidden, c.hidden, c.qkv_bias, gen);
            k = Linear<T, D>(c.hidden, kv, c.qkv_bias, gen);
            v = Linear<T, D>(c.hidden, kv, c.qkv_bias, gen);
            out = Linear<T, D>(c.hidden, c.hidden, c.out_bias, gen);
        }
    }

    /// x (B, T, C) -> (B, T, C). `mask` says which keys each query sees (its offset is the number of
    /// cached positions); cos/sin are the rotary tables for the T positions (unused without rotary
    /// embeddings). With a cache, the new keys and values are appended to it and attention runs over
    /// all cached positions (inference).
    Var<T, D> operator()(const Var<T, D>& x, const ag::AttentionMask<T, D>& mask, const Tensor<T, D>& cos,
                         const Tensor<T, D>& sin, KVCache<T, D>* cache = nullptr) const {
        const index_t B = x.size(0), Tn = x.size(1), H = cfg.heads, Hkv = cfg.kv_heads, hd = cfg.head_dim();
        Var<T, D> qv, kv, vv;
        if (cfg.fused_qkv) {
            auto parts = ag::split(qkv(x), {cfg.hidden, Hkv * hd, Hkv * hd}, -1);
            qv = parts[0], kv = parts[1], vv = parts[2];
        } else {
            qv = q(x), kv = k(x), vv = v(x);
        }
        auto heads = [&](const Var<T, D>& t, index_t n) { return ag::permute(ag::reshape(t, {B, Tn, n, hd}), {0, 2, 1, 3}); };
        qv = heads(qv, H);
        kv = heads(kv, Hkv);
        vv = heads(vv, Hkv);
        if (cfg.rotary) {
            qv = rope(qv, cos, sin);
            kv = rope(kv, cos, sin);
        }
        if (cache) {
            if (!cache->k.defined()) throw value_error("attention: KV cache not allocated");
            if (cache->length + Tn > cache->capacity)
                throw shape_error("attention: KV cache of capacity " + std::to_string(cache->capacity) + " cannot take " +
                                  std::to_string(cache->length + Tn) + " positions");
            cache->k.slice(2, cache->length, cache->length + Tn).assign(kv.value());
            cache->v.slice(2, cache->length, cache->length + Tn).assign(vv.value());
            cache->length += Tn;
            kv = Var<T, D>(cache->k.slice(2, 0, cache->length));
            vv = Var<T, D>(cache->v.slice(2, 0, cache->length));
        }
        return out(ag::attention(qv, kv, vv, mask, 1.0 / std::sqrt(double(hd))));  // (B, T, C)
    }

    template <class F>
    void visit(F&& f, const std::string& prefix) {
        if (cfg.fused_qkv) {
            qkv.visit(f, join(prefix, "c_attn"));
            out.visit(f, join(prefix, "c_proj"));
        } else {
            q.visit(f, join(prefix, "q_proj"));
            k.visit(f, join(prefix, "k_proj"));
            v.visit(f, join(prefix, "v_proj"));
            out.visit(f, join(prefix, "o_proj"));
        }
    }
};

}  // namespace ward::nn
