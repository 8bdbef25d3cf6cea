#pragma once
// Causal scaled-dot-product attention for f32, fused and blocked: the (T, S) score matrix of a
// head is never stored. Each task takes one block of query rows of one head, computes its scores
// against the keys it can see with one sgemm, turns them into probabilities in place, and
// multiplies by the values with a second. Only the log-sum-exp of each row is kept; the backward
// pass recomputes the probabilities from it (the FlashAttention recurrence, without its online
// softmax: a block's whole row of scores fits in cache on the CPU).
//
//   q (B, H, T, hd), k and v (B, Hkv, S, hd), each with any strides but a contiguous last axis;
//   query head h reads key/value head h / (H / Hkv).
//   Query i sees key j iff j <= offset + i and (no padding given, or pad[b, j] != 0).
//   forward:  s = scale q k^T,  lse_i = log sum_{j seen} exp(s_ij),  p = exp(s - lse),  o = p v
//   backward: dv = p^T do,  dp = do v^T,  ds = p (dp - rowsum(do o)) scale,  dq = ds k,  dk = ds^T q
//   o and do are (B, T, H, hd) contiguous (that is, (B, T, C)); lse is (B, H, T).
// A query that sees no key gets o = 0 and lse = -inf, and passes no gradient.
//
// Keys past the causal limit of a block are skipped, not computed and masked: about half the work
// of the dense form at long sequences. dk and dv of a key/value head are summed by one task, over
// its query heads and blocks in order, so results do not depend on the thread count.

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "ward/backend/cpu/executor.hpp"
#include "ward/backend/cpu/gemm_accumulate.hpp"
#include "ward/core/config.hpp"
#include "ward/core/math.hpp"
#include "ward/tensor/attention_layout.hpp"

namespace ward::backend::cpu {

using ward::AttentionShape;
using ward::HeadRows;

namespace detail {
/// Query rows per task: scores of 64 rows by a few thousand keys stay in L2.
inline constexpr index_t attention_block = 64;

/// Runs body(task) for every task in [0, n) over the OpenMP threads, handing out tasks one at a
/// time (blocks near the end of a causal sequence see more keys and cost more).
template <class F>
void for_each_task(index_t n, bool parallel, F&& body) {
#if defined(_OPENMP)
    if (parallel && n > 1 && max_threads() > 1 && !omp_in_parallel()) {
        std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 1)
        for (index_t i = 0; i < n; ++i) {
            try {
                body(i);
            } catch (...) {
#pragma omp critical(ward_attention_error)
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    for (index_t i = 0; i < n; ++i) body(i);
}

/// The scores s[0..n) of one query row (n keys computed) become probabilities in place; returns the
/// row's log-sum-exp. Keys from `limit` on, and padding keys, get probability 0.
inline float softmax_row(float* s, index_t n, index_t limit, const float* pad_row) {
    const float neg_inf = -std::numeric_limits<float>::infinity();
    limit = std::min(limit, n);
    float m = neg_inf;
    if (pad_row) {
#pragma omp simd reduction(max : m)
        for (index_t j = 0; j < limit; ++j) m = pad_row[j] != 0.f && s[j] > m ? s[j] : m;
    } else {
#pragma omp simd reduction(max : m)
        for (index_t j = 0; j < limit; ++j) m = s[j] > m ? s[j] : m;
    }
    if (m == neg_inf) {  // nothing seen (a padding query), or every seen score is -inf
        std::fill(s, s + n, 0.f);
        return neg_inf;
    }
    float sum = 0;
    if (pad_row) {
#pragma omp simd reduction(+ : sum)
        for (index_t j = 0; j < limit; ++j) {
            float p = pad_row[j] != 0.f ? math::exp(s[j] - m) : 0.f;
            s[j] = p;
            sum += p;
        }
    } else {
#pragma omp simd reduction(+ : sum)
        for (index_t j = 0; j < limit; ++j) {
            float p = math::exp(s[j] - m);
            s[j] = p;
            sum += p;
        }
    }
    const float inv = 1.f / sum;
#pragma omp simd
    for (index_t j = 0; j < limit; ++j) s[j] *= inv;
    std::fill(s + limit, s + n, 0.f);
    return m + std::log(sum);
}

/// Recomputes probabilities p = exp(s - lse) in place over s[0..n); unseen keys get 0.
inline void probabilities_row(float* s, index_t n, index_t limit, const float* pad_row, float lse) {
    limit = std::min(limit, n);
    if (lse == -std::numeric_limits<float>::infinity()) limit = 0;
    if (pad_row) {
#pragma omp simd
        for (index_t j = 0; j < limit; ++j) s[j] = pad_row[j] != 0.f ? math::exp(s[j] - lse) : 0.f;
    } else {
#pragma omp simd
        for (index_t j = 0; j < limit; ++j) s[j] = math::exp(s[j] - lse);
    }
    std::fill(s + limit, s + n, 0.f);
}
}  // namespace detail

/// o (B, T, H, hd) and lse (B, H, T) from q, k, v.
inline void attention_forward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, float* o, float* lse) {
    constexpr index_t Bq = detail::attention_block;
    const index_t blocks = (a.T + Bq - 1) / Bq, tasks = a.B * a.H * blocks, ldo = a.H * a.hd;
    const double flops = 4.0 * double(a.B * a.H) * double(a.T) * double(a.S) * double(a.hd);
    detail::for_each_task(tasks, flops >= 1e6, [&](index_t task) {
        // Heaviest first: the last query block of a head sees the most keys.
        const index_t blk = blocks - 1 - task % blocks, bh = task / blocks, b = bh / a.H, h = bh % a.H, g = h / a.group();
        const index_t i0 = blk * Bq, i1 = std::min(a.T, i0 + Bq), rows = i1 - i0, n = a.visible(i1);
        thread_local std::vector<float> scores;
        scores.resize(static_cast<std::size_t>(rows * std::max<index_t>(n, 1)));
        float* s = scores.data();
        gemm(false, true, rows, n, a.hd, a.scale, q.at(b, h, i0), q.row, k.at(b, g, 0), k.row, 0.f, s, n);
        const float* pad_row = a.pad ? a.pad + b * a.S : nullptr;
        for (index_t r = 0; r < rows; ++r)
            lse[(b * a.H + h) * a.T + i0 + r] = detail::softmax_row(s + r * n, n, a.offset + i0 + r + 1, pad_row);
        gemm(false, false, rows, a.hd, n, 1.f, s, n, v.at(b, g, 0), v.row, 0.f, o + (b * a.T + i0) * ldo + h * a.hd, ldo);
    });
}

/// dq (B, T, H, hd), dk and dv (B, S, Hkv, hd), all overwritten, from do (B, T, H, hd) and the
/// forward's o and lse.
inline void attention_backward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, const float* o,
                               const float* lse, const float* d_o, float* dq, float* dk, float* dv) {
    constexpr index_t Bq = detail::attention_block;
    const index_t blocks = (a.T + Bq - 1) / Bq, ldo = a.H * a.hd, ldkv = a.Hkv * a.hd;
    const double flops = 10.0 * double(a.B * a.H) * double(a.T) * double(a.S) * double(a.hd);
    detail::for_each_task(a.B * a.Hkv, flops >= 1e6, [&](index_t task) {
        const index_t b = task / a.Hkv, g = task % a.Hkv;
        float* dk_bg = dk + b * a.S * ldkv + g * a.hd;
        float* dv_bg = dv + b * a.S * ldkv + g * a.hd;
        for (index_t s = 0; s < a.S; ++s) {
            std::fill(dk_bg + s * ldkv, dk_bg + s * ldkv + a.hd, 0.f);
            std::fill(dv_bg + s * ldkv, dv_bg + s * ldkv + a.hd, 0.f);
        }
        const float* pad_row = a.pad ? a.pad + b * a.S : nullptr;
        thread_local std::vector<float> p_buf, dp_buf, delta;
        for (index_t h = g * a.group(); h < (g + 1) * a.group(); ++h)
            for (index_t blk = 0; blk < blocks; ++blk) {
                const index_t i0 = blk * Bq, i1 = std::min(a.T, i0 + Bq), rows = i1 - i0, n = a.visible(i1);
                const std::size_t size = static_cast<std::size_t>(rows * std::max<index_t>(n, 1));
                p_buf.resize(size);
                dp_buf.resize(size);
                delta.resize(static_cast<std::size_t>(rows));
                float *p = p_buf.data(), *dp = dp_buf.data();
                const float* do_blk = d_o + (b * a.T + i0) * ldo + h * a.hd;
                const float* o_blk = o + (b * a.T + i0) * ldo + h * a.hd;
                float* dq_blk = dq + (b * a.T + i0) * ldo + h * a.hd;
                const float* lse_blk = lse + (b * a.H + h) * a.T + i0;
                for (index_t r = 0; r < rows; ++r) {  // delta_i = rowsum(do_i o_i)
                    float acc = 0;
#pragma omp simd reduction(+ : acc)
                    for (index_t d = 0; d < a.hd; ++d) acc += do_blk[r * ldo + d] * o_blk[r * ldo + d];
                    delta[static_cast<std::size_t>(r)] = acc;
                }
                gemm(false, true, rows, n, a.hd, a.scale, q.at(b, h, i0), q.row, k.at(b, g, 0), k.row, 0.f, p, n);
                for (index_t r = 0; r < rows; ++r)
                    detail::probabilities_row(p + r * n, n, a.offset + i0 + r + 1, pad_row, lse_blk[r]);
                // dv += p^T do;  dp = do v^T
                gemm(true, false, n, a.hd, rows, 1.f, p, n, do_blk, ldo, 1.f, dv_bg, ldkv);
                gemm(false, true, rows, n, a.hd, 1.f, do_blk, ldo, v.at(b, g, 0), v.row, 0.f, dp, n);
                for (index_t r = 0; r < rows; ++r) {  // ds = p (dp - delta) scale, into dp
                    const float dl = delta[static_cast<std::size_t>(r)];
                    float *pr = p + r * n, *dr = dp + r * n;
#pragma omp simd
                    for (index_t j = 0; j < n; ++j) dr[j] = pr[j] * (dr[j] - dl) * a.scale;
                }
                // dq = ds k;  dk += ds^T q
                gemm(false, false, rows, a.hd, n, 1.f, dp, n, k.at(b, g, 0), k.row, 0.f, dq_blk, ldo);
                gemm(true, false, n, a.hd, rows, 1.f, dp, n, q.at(b, h, i0), q.row, 1.f, dk_bg, ldkv);
            }
    });
}

}  // namespace ward::backend::cpu
