#pragma once
// Layer norm and RMS norm over the last axis on the GPU, on strided views:
//
//   x is (..., D), y is (..., D), gamma and beta are (D) contiguous device arrays or null
//   layer norm: y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)  (biased var)
//   RMS norm:   y = x * rstd * gamma,                  rstd = 1 / sqrt(mean(x^2) + eps)
//
// mean_out and rstd_out, when not null, are (rows) contiguous device arrays of f32 receiving each
// row's statistics, rows in row-major order of the leading axes: what the CPU kernels write.
// Two passes in f32 (mean, then squared deviations): no cancellation from E[x^2] - E[x]^2.
// One warp per row for D <= 1024, one block per row above. T = float or bf16.

#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <type_traits>

#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/rows.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

// x (rows, D) -> y (rows, D), mean (rows), rstd (rows); Centered = layer norm, else RMS norm
// (beta and mean unused). One warp (Block = false) or one block (Block = true) per row.
template <bool Block, bool Centered, class T>
__global__ void __launch_bounds__(row_block_threads)
    norm_rows_kernel(const T* x, RowMap xm, index_t sx, const T* gamma, const T* beta, float eps, T* y, RowMap ym,
                     index_t sy, float* mean_out, float* rstd_out, index_t rows, index_t D) {
    const RowSlot<Block> s;
    if (s.row >= rows) return;  // whole warps only
    const T* xr = x + xm.offset(s.row);
    T* yr = y + ym.offset(s.row);
    const float inv_d = 1.0f / static_cast<float>(D);
    float mean = 0;
    if constexpr (Centered) {
        float sum = 0;
        for (index_t j = s.lane; j < D; j += s.step) sum += element_cast<float>(xr[j * sx]);
        mean = row_reduce<Block, false>(sum) * inv_d;
    }
    float ss = 0;
    for (index_t j = s.lane; j < D; j += s.step) {
        const float d = element_cast<float>(xr[j * sx]) - mean;
        ss += d * d;
    }
    const float rstd = 1.0f / sqrtf(row_reduce<Block, false>(ss) * inv_d + eps);
    for (index_t j = s.lane; j < D; j += s.step) {
        float v = (element_cast<float>(xr[j * sx]) - mean) * rstd;
        if (gamma) v *= element_cast<float>(gamma[j]);
        if (Centered && beta) v += element_cast<float>(beta[j]);
        yr[j * sy] = element_cast<T>(v);
    }
    if (s.lane == 0) {
        if (Centered && mean_out) mean_out[s.row] = mean;
        if (rstd_out) rstd_out[s.row] = rstd;
    }
}

namespace detail {
template <class T>
void check_norm(const char* op, const StridedView<const T>& x, const StridedView<T>& y, double eps) {
    static_assert(KernelElement<T>, "ward: the CUDA norms take f32 or bf16");
    if (x.shape.rank < 1) throw shape_error(std::string(op) + ": input must have rank >= 1, got shape " + x.shape.str());
    if (!(x.shape == y.shape))
        throw shape_error(std::string(op) + ": output shape " + y.shape.str() + " differs from input shape " +
                          x.shape.str());
    if (!(eps >= 0) || !std::isfinite(eps))
        throw value_error(std::string(op) + ": eps must be finite and >= 0, got " + std::to_string(eps));
}
}  // namespace detail

/// Layer norm over the last axis, on the current stream; see the file comment for the arguments.
/// y may be x itself. Throws shape_error / value_error as the CPU kernel does.
template <class T>
void layer_norm_lastdim(StridedView<const T> x, const T* gamma, const T* beta, double eps, StridedView<T> y,
                        float* mean_out, float* rstd_out) {
    detail::check_norm("layer_norm", x, y, eps);
    if (x.numel() == 0) return;
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    launch_rows(norm_rows_kernel<false, true, T>, norm_rows_kernel<true, true, T>, rows, D, "layer_norm kernel launch",
                x.data, RowMap::of(x), x.strides[r - 1], gamma, beta, static_cast<float>(eps), y.data, RowMap::of(y),
                y.strides[r - 1], mean_out, rstd_out, rows, D);
}

/// RMS norm over the last axis, on the current stream; see the file comment for the arguments.
template <class T>
void rms_norm_lastdim(StridedView<const T> x, const T* gamma, double eps, StridedView<T> y, float* rstd_out) {
    detail::check_norm("rms_norm", x, y, eps);
    if (x.numel() == 0) return;
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    launch_rows(norm_rows_kernel<false, false, T>, norm_rows_kernel<true, false, T>, rows, D, "rms_norm kernel launch",
                x.data, RowMap::of(x), x.strides[r - 1], gamma, static_cast<const T*>(nullptr), static_cast<float>(eps),
                y.data, RowMap::of(y), y.strides[r - 1], static_cast<float*>(nullptr), rstd_out, rows, D);
}

}  // namespace ward::backend::cuda
