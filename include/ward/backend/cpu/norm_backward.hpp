#pragma once
// Backward of layer norm and RMS norm over the last axis for f32, fused into one pass over x and g
// (the element-wise path makes six, two with per-row operands broadcast along the row).
//
//   x, g, dx are (N, C) contiguous; mean, rstd are (N) from the forward (mean null: RMS norm);
//   gamma is (C) or null (1). With xhat = (x - mean) * rstd and g' = g * gamma:
//   layer norm: dx = rstd * (g' - mean(g') - xhat * mean(g' * xhat))
//   RMS norm:   dx = rstd * (g' - xhat * mean(g' * xhat))
//   dgamma = sum over rows of g * xhat,  dbeta = sum over rows of g   (each (C) or null)
//
// The column sums are taken over fixed blocks of rows, then the blocks in order, so they do not
// depend on the thread count.

#include <algorithm>
#include <vector>

#include "ward/backend/cpu/executor.hpp"

namespace ward::backend::cpu {

template <bool Centered>
void norm_backward(const float* x, const float* g, const float* mean, const float* rstd, const float* gamma, index_t N,
                   index_t C, float* dx, float* dgamma, float* dbeta) {
    constexpr index_t block = 16;
    const index_t blocks = (N + block - 1) / block;
    const bool columns = dgamma || dbeta;
    std::vector<float> pg(columns ? static_cast<std::size_t>(blocks * C) : 0), pb(pg.size());
    parallel_for(blocks, std::max<index_t>(1, parallel_threshold / std::max<index_t>(block * C, 1)), [&](index_t b0, index_t b1) {
        for (index_t b = b0; b < b1; ++b) {
            float* sg = columns ? pg.data() + b * C : nullptr;
            float* sb = columns ? pb.data() + b * C : nullptr;
            if (columns) std::fill(sg, sg + C, 0.f), std::fill(sb, sb + C, 0.f);
            for (index_t n = b * block; n < std::min(N, (b + 1) * block); ++n) {
                const float* xr = x + n * C;
                const float* gr = g + n * C;
                float* dr = dx + n * C;
                const float mu = Centered ? mean[n] : 0.f, rs = rstd[n];
                float s1 = 0, s2 = 0;  // sum g', sum g' xhat
#pragma omp simd reduction(+ : s1, s2)
                for (index_t c = 0; c < C; ++c) {
                    const float gp = gamma ? gr[c] * gamma[c] : gr[c];
                    s1 += gp;
                    s2 += gp * ((xr[c] - mu) * rs);
                }
                const float m1 = Centered ? s1 / float(C) : 0.f, m2 = s2 / float(C);
#pragma omp simd
                for (index_t c = 0; c < C; ++c) {
                    const float xh = (xr[c] - mu) * rs;
                    const float gp = gamma ? gr[c] * gamma[c] : gr[c];
                    dr[c] = rs * (gp - m1 - xh * m2);
                }
                if (columns) {
#pragma omp simd
                    for (index_t c = 0; c < C; ++c) {
                        sg[c] += gr[c] * ((xr[c] - mu) * rs);
                        sb[c] += gr[c];
                    }
                }
            }
        }
    });
    if (!columns) return;
    std::vector<double> a(static_cast<std::size_t>(C), 0.0), s(a.size(), 0.0);
    for (index_t b = 0; b < blocks; ++b)
        for (index_t c = 0; c < C; ++c) {
            a[static_cast<std::size_t>(c)] += pg[static_cast<std::size_t>(b * C + c)];
            s[static_cast<std::size_t>(c)] += pb[static_cast<std::size_t>(b * C + c)];
        }
    for (index_t c = 0; c < C; ++c) {
        if (dgamma) dgamma[c] = float(a[static_cast<std::size_t>(c)]);
        if (dbeta) dbeta[c] = float(s[static_cast<std::size_t>(c)]);
    }
}

}  // namespace ward::backend::cpu
