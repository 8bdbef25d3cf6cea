#pragma once
// Cross-entropy over rows of f32 logits, fused: one pass over the logits for the loss terms, one
// for the gradient (the element-wise path would make five, with one-hot and broadcast operands).
//
//   x is (N, V) with row stride ld, t is (N) ids; a row whose id is outside [0, V) is ignored.
//   forward:  lse[n] = log(sum_v exp(x[n, v])),  picked[n] = x[n, t[n]] (0 when ignored)
//   backward: dx[n, v] = (exp(x[n, v] - lse[n]) - [v == t[n]]) * coef[n]
//
// Rows are independent and each is reduced in a fixed order, so the results do not depend on the
// thread count. exp is ward's branch-free f32 exp, so the loops vectorise.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ward/backend/cpu/executor.hpp"
#include "ward/core/math.hpp"
#include "ward/tensor/fused.hpp"

namespace ward::backend::cpu {

namespace detail {
/// log(sum exp(r[0..V))) in a fixed order: the max, then f32 partial sums of 1024 in f64.
inline float row_logsumexp(const float* r, index_t V) {
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (index_t v = 0; v < V; ++v) m = r[v] > m ? r[v] : m;
    if (m == -std::numeric_limits<float>::infinity() || m == std::numeric_limits<float>::infinity()) {
        for (index_t v = 0; v < V; ++v)
            if (math::isnan(r[v])) return r[v];
        return m;  // all -inf, or an inf dominating every finite term
    }
    double s = 0;
    constexpr index_t block = 1024;
    for (index_t v0 = 0; v0 < V; v0 += block) {
        const index_t v1 = v0 + block < V ? v0 + block : V;
        float p = 0;
#pragma omp simd reduction(+ : p)
        for (index_t v = v0; v < v1; ++v) p += math::exp(r[v] - m);
        s += double(p);
    }
    return m + float(std::log(s));  // a NaN anywhere in the row makes s NaN
}
}  // namespace detail

/// lse (N) and picked (N) for x (N, V), row stride ld, and ids t (N).
inline void cross_entropy_forward(const float* x, index_t N, index_t V, index_t ld, const std::int64_t* t, float* lse,
                                  float* picked) {
    parallel_for(N, std::max<index_t>(1, parallel_threshold / std::max<index_t>(V, 1)), [&](index_t n0, index_t n1) {
        for (index_t n = n0; n < n1; ++n) {
            const float* r = x + n * ld;
            lse[n] = detail::row_logsumexp(r, V);
            picked[n] = t[n] >= 0 && t[n] < V ? r[t[n]] : 0.f;
        }
    });
}

/// dx (N, V), row stride ldd, = (softmax(x) - onehot(t)) * coef per row; lse from the forward.
inline void cross_entropy_backward(const float* x, index_t N, index_t V, index_t ld, const std::int64_t* t,
                                   const float* lse, const float* coef, float* dx, index_t ldd) {
    parallel_for(N, std::max<index_t>(1, parallel_threshold / std::max<index_t>(V, 1)), [&](index_t n0, index_t n1) {
        for (index_t n = n0; n < n1; ++n) {
            const float* r = x + n * ld;
            float* d = dx + n * ldd;
            const float l = lse[n], c = coef[n];
#pragma omp simd
            for (index_t v = 0; v < V; ++v) d[v] = math::exp(r[v] - l) * c;
            if (t[n] >= 0 && t[n] < V) d[t[n]] = (math::exp(r[t[n]] - l) - 1.f) * c;
        }
    });
}

/// The loss of cross_entropy over rows: lse (N) and the weights w (N) (0 where t is `ignore`, else
/// the mask or 1); returns {sum of w, sum of w (lse - x[t])}, summed in row order in double so the
/// loss does not depend on the thread count.
inline CrossEntropySums cross_entropy_loss(const float* x, index_t N, index_t V, const std::int64_t* t, const float* mask,
                                           std::int64_t ignore, float* lse, float* w) {
    std::vector<float> picked(static_cast<std::size_t>(N));
    cross_entropy_forward(x, N, V, V, t, lse, picked.data());
    CrossEntropySums sums;
    for (index_t n = 0; n < N; ++n) {
        w[n] = t[n] == ignore ? 0.f : mask ? mask[n] : 1.f;
        sums.counted += w[n];
        sums.total += double(w[n]) * (double(lse[n]) - double(picked[static_cast<std::size_t>(n)]));
    }
    return sums;
}

/// dx (N, V) of cross_entropy_loss for a loss gradient of w * scale per row.
inline void cross_entropy_loss_backward(const float* x, index_t N, index_t V, const std::int64_t* t, const float* lse,
                                        const float* w, float scale, float* dx) {
    std::vector<float> coef(static_cast<std::size_t>(N));
    for (index_t n = 0; n < N; ++n) coef[static_cast<std::size_t>(n)] = w[n] * scale;
    cross_entropy_backward(x, N, V, V, t, lse, coef.data(), dx, V);
}

/// out (N): log softmax(x)[t] per row, 0 where t is `ignore`; lse (N) kept for the backward pass.
inline void token_log_probs(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, float* lse,
                            float* out) {
    std::vector<float> picked(static_cast<std::size_t>(N));
    cross_entropy_forward(x, N, V, V, t, lse, picked.data());
    for (index_t n = 0; n < N; ++n) out[n] = t[n] == ignore ? 0.f : picked[static_cast<std::size_t>(n)] - lse[n];
}

/// dx (N, V) of token_log_probs for the output gradient g (N).
inline void token_log_probs_backward(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore,
                                     const float* lse, const float* g, float* dx) {
    std::vector<float> coef(static_cast<std::size_t>(N));
    for (index_t n = 0; n < N; ++n) coef[static_cast<std::size_t>(n)] = t[n] == ignore ? 0.f : -g[n];
    cross_entropy_backward(x, N, V, V, t, lse, coef.data(), dx, V);
}

}  // namespace ward::backend::cpu
