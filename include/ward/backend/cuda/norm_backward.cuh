#pragma once
// Backward of layer norm and RMS norm over the last axis for f32 or bf16 (E) on the GPU, in f32 math:
//
//   x, g, dx are (N, C) contiguous device arrays of E; mean, rstd are (N) f32 from the forward (mean
//   null: RMS norm); gamma is (C) or null (1). With xhat = (x - mean) * rstd and g' = g * gamma:
//   layer norm: dx = rstd * (g' - mean(g') - xhat * mean(g' * xhat))
//   RMS norm:   dx = rstd * (g' - xhat * mean(g' * xhat))
//   dgamma = sum over rows of g * xhat,  dbeta = sum over rows of g   (each (C) or null)
//
// dx: one warp per row for C <= 1024, one block per row above. The column sums group rows as the
// CPU does (f32 sums over blocks of 16 rows, the blocks added in order in f64), one thread per
// column, so they are deterministic and agree with the CPU's to rounding.

#include <cuda_runtime.h>

#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/rows.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"

namespace ward::backend::cuda {

// x, g (N, C), mean, rstd (N), gamma (C) -> dx (N, C); one warp (Block = false) or block per row.
template <bool Block, bool Centered, class E>
__global__ void __launch_bounds__(row_block_threads)
    norm_backward_rows_kernel(const E* x, const E* g, const float* mean, const float* rstd, const E* gamma, index_t N,
                              index_t C, E* dx) {
    const RowSlot<Block> s;
    if (s.row >= N) return;  // whole warps only
    const E* xr = x + s.row * C;
    const E* gr = g + s.row * C;
    E* dr = dx + s.row * C;
    const float mu = Centered ? mean[s.row] : 0.f, rs = rstd[s.row];
    float s1 = 0, s2 = 0;  // sum g', sum g' xhat
    for (index_t c = s.lane; c < C; c += s.step) {
        const float gp = gamma ? float(gr[c]) * float(gamma[c]) : float(gr[c]);
        s1 += gp;
        s2 += gp * ((float(xr[c]) - mu) * rs);
    }
    if constexpr (Centered) s1 = row_reduce<Block, false>(s1);
    s2 = row_reduce<Block, false>(s2);
    const float m1 = Centered ? s1 / float(C) : 0.f, m2 = s2 / float(C);
    for (index_t c = s.lane; c < C; c += s.step) {
        const float xh = (float(xr[c]) - mu) * rs;
        const float gp = gamma ? float(gr[c]) * float(gamma[c]) : float(gr[c]);
        dr[c] = E(rs * (gp - m1 - xh * m2));
    }
}

// x, g (N, C), mean, rstd (N) -> dgamma, dbeta (C); thread c owns column c (rows in order).
template <bool Centered, class E>
__global__ void norm_backward_columns_kernel(const E* x, const E* g, const float* mean, const float* rstd, index_t N,
                                             index_t C, E* dgamma, E* dbeta) {
    constexpr index_t block = 16;  // the CPU's row grouping
    for (index_t c = index_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += index_t(gridDim.x) * blockDim.x) {
        double a = 0, b = 0;
        for (index_t n0 = 0; n0 < N; n0 += block) {
            float pa = 0, pb = 0;
            for (index_t n = n0; n < N && n < n0 + block; ++n) {
                const float gv = float(g[n * C + c]);
                pa += gv * ((float(x[n * C + c]) - (Centered ? mean[n] : 0.f)) * rstd[n]);
                pb += gv;
            }
            a += double(pa);
            b += double(pb);
        }
        if (dgamma) dgamma[c] = E(float(a));
        if (dbeta) dbeta[c] = E(float(b));
    }
}

/// The backward of layer norm (Centered) or RMS norm on the current stream; see the file comment.
template <bool Centered, class E>
void norm_backward(const E* x, const E* g, const float* mean, const float* rstd, const E* gamma, index_t N, index_t C,
                   E* dx, E* dgamma, E* dbeta) {
    static_assert(KernelElement<E>, "ward: the CUDA norm backward takes f32 or bf16");
    if (N <= 0 || C <= 0) return;
    launch_rows(norm_backward_rows_kernel<false, Centered, E>, norm_backward_rows_kernel<true, Centered, E>, N, C,
                "norm_backward kernel launch", x, g, mean, rstd, gamma, N, C, dx);
    if (dgamma || dbeta) {
        norm_backward_columns_kernel<Centered, E><<<grid_stride_blocks(C), block_threads, 0, current_stream()>>>(
            x, g, mean, rstd, N, C, dgamma, dbeta);
        check(cudaGetLastError(), "norm_backward column-sum kernel launch");
    }
}

}  // namespace ward::backend::cuda
