#pragma once
// Maximum mean discrepancy, and RepNoise's noise term: push every layer's MLP output on the harmful
// answer towards samples of N(0, I), so the information an attacker would reuse is gone.

#include <string>
#include <type_traits>
#include <vector>

#include "ward/autograd/precision.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/defence/term.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::defence {

/// Squared MMD between samples x (n, d) and y (m, d), biased estimator (diagonals included, so two
/// identical sets give exactly 0), with the kernel sum over b in b0 * {1/4, 1/2, 1, 2, 4} of
/// exp(-||u - v||^2 / b); b0 is the mean squared distance over distinct pairs of the pooled samples,
/// a constant (no gradient flows through the bandwidth). `bandwidth` > 0 fixes b0 instead. bf16
/// samples are compared in f32 (autograd/precision.hpp): the distances cancel.
template <FloatElement T, Device D>
ag::Var<T, D> mmd(const ag::Var<T, D>& x, const ag::Var<T, D>& y, double bandwidth = 0) {
    if (x.rank() != 2 || y.rank() != 2 || x.size(1) != y.size(1))
        throw shape_error("mmd: samples must be (n, d) and (m, d), got " + x.shape().str() + " and " + y.shape().str());
    if constexpr (!std::is_same_v<T, compute_t<T>>)
        return ag::in_f32([bandwidth](const auto& v) { return mmd(v[0], v[1], bandwidth); }, std::vector<ag::Var<T, D>>{x, y});
    const index_t n = x.size(0), m = y.size(0), N = n + m;
    if (N < 2) throw value_error("mmd: needs at least two samples in all");
    ag::Var<T, D> z = ag::concat(std::vector<ag::Var<T, D>>{x, y}, 0);                 // (N, d)
    ag::Var<T, D> sq = ag::sum(z * z, -1, true);                                        // (N, 1)
    ag::Var<T, D> dist = sq + ag::transpose(sq) - ag::matmul(z, ag::transpose(z)) * 2.0;  // (N, N)
    const double b0 = bandwidth > 0 ? bandwidth : double(ward::sum(dist.value()).item()) / double(N * N - N);
    ag::Var<T, D> k;
    for (double s : {0.25, 0.5, 1.0, 2.0, 4.0}) {
        ag::Var<T, D> ks = ag::exp(dist * (-1.0 / (b0 > 0 ? b0 * s : s)));
        k = k.defined() ? k + ks : ks;
    }
    auto block = [&](index_t r0, index_t r1, index_t c0, index_t c1) { return ag::mean(ag::slice(ag::slice(k, 0, r0, r1), 1, c0, c1)); };
    return block(0, n, 0, n) + block(n, N, n, N) - block(0, n, n, N) * 2.0;
}

/// Each example's representation at the masked positions, flattened: h (B, T, C), mask (B, T)
/// -> (B, T * C) with the unmasked positions zero.
template <FloatElement T, Device D>
ag::Var<T, D> masked_flatten(const ag::Var<T, D>& h, const Tensor<T, D>& mask) {
    const index_t B = h.size(0), Tn = h.size(1), C = h.size(2);
    ag::Var<T, D> m(mask.reshape({B, Tn, 1}));
    return ag::reshape(h * m, {B, Tn * C});
}

/// Noise: mean over layers of MMD(harmful MLP outputs, N(0, I) samples of the same shape), both
/// masked to the positions where the harmful and harmless sequences differ.
struct MmdNoise : TermBase {
    std::vector<int> layers;        // empty: every layer
    std::vector<double> bandwidths;  // per used layer, fixed b0 (empty: from the samples, as RepNoise does)
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        using V = compute_t<T>;
        const auto& f = ctx.harmful();
        const Tensor<T, D>& mask = ctx.batch().differs;
        std::vector<int> use = layers;
        if (use.empty())
            for (int l = 0; l < static_cast<int>(f.mlp_out.size()); ++l) use.push_back(l);
        if (!bandwidths.empty() && bandwidths.size() != use.size())
            throw value_error("mmd_noise: " + std::to_string(bandwidths.size()) + " bandwidths for " + std::to_string(use.size()) + " layers");
        ag::Var<T, D> total;
        for (std::size_t i = 0; i < use.size(); ++i) {
            const int l = use[i];
            if (l < 0 || l >= static_cast<int>(f.mlp_out.size()))
                throw index_error("mmd_noise: layer " + std::to_string(l) + " of " + std::to_string(f.mlp_out.size()));
            const ag::Var<T, D>& h = f.mlp_out[static_cast<std::size_t>(l)];
            Tensor<T, D> noise(normal<V, D>(ctx.generator(), h.shape(), V(0), V(1)));
            ag::Var<T, D> d = mmd(masked_flatten(h, mask), masked_flatten(ag::Var<T, D>(noise), mask), bandwidths.empty() ? 0.0 : bandwidths[i]);
            total = total.defined() ? total + d : d;
        }
        return total / double(use.size());
    }
    std::string name() const { return "noise"; }
};
inline MmdNoise mmd_noise(std::vector<int> layers = {}) { return {{}, std::move(layers), {}}; }

}  // namespace ward::defence
