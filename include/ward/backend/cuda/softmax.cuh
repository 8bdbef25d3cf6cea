#pragma once
// Softmax and log-softmax over the last axis on the GPU, on strided views:
//
//   x is (..., D), y is (..., D)
//   y = exp(x - max) / sum(exp(x - max))           (log = false)
//   y = (x - max) - log(sum(exp(x - max)))         (log = true)
//
// One warp per row for D <= 1024, one block per row above; three passes over the row (max, sum,
// write), accumulated in f32. T = float or bf16 (stored bf16, computed in f32). Any strides.

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

// x (rows, D) -> y (rows, D), rows addressed through xm/ym, columns by sx/sy; one warp
// (Block = false) or one block (Block = true) per row.
template <bool Block, class T>
__global__ void __launch_bounds__(row_block_threads)
    softmax_rows_kernel(const T* x, RowMap xm, index_t sx, T* y, RowMap ym, index_t sy, index_t rows, index_t D, bool log) {
    const RowSlot<Block> s;
    if (s.row >= rows) return;  // whole warps only: a warp's lanes share their row
    const T* xr = x + xm.offset(s.row);
    T* yr = y + ym.offset(s.row);
    float mx = -INFINITY;
    for (index_t j = s.lane; j < D; j += s.step) mx = fmaxf(mx, element_cast<float>(xr[j * sx]));
    mx = row_reduce<Block, true>(mx);
    if (mx == -INFINITY) mx = 0;  // a row of -inf: 0/0 gives NaN, as on the CPU
    float sum = 0;
    for (index_t j = s.lane; j < D; j += s.step) sum += expf(element_cast<float>(xr[j * sx]) - mx);
    sum = row_reduce<Block, false>(sum);
    const float lse = logf(sum), inv = 1.0f / sum;
    for (index_t j = s.lane; j < D; j += s.step) {
        const float v = element_cast<float>(xr[j * sx]) - mx;
        yr[j * sy] = element_cast<T>(log ? v - lse : expf(v) * inv);
    }
}

/// Softmax (log = false) or log-softmax (log = true) over the last axis, on the current stream.
///   x is (..., D), y is (..., D), device memory, any strides; y may be x itself (each row is
///   read in full before it is written) but must not partially overlap it.
/// Throws shape_error when the shapes differ.
template <class T>
void softmax_lastdim(StridedView<const T> x, StridedView<T> y, bool log) {
    static_assert(KernelElement<T>, "ward: the CUDA softmax takes f32 or bf16");
    if (x.shape.rank < 1) throw shape_error("softmax: input must have rank >= 1, got shape " + x.shape.str());
    if (!(x.shape == y.shape))
        throw shape_error("softmax: output shape " + y.shape.str() + " differs from input shape " + x.shape.str());
    if (x.numel() == 0) return;
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    launch_rows(softmax_rows_kernel<false, T>, softmax_rows_kernel<true, T>, rows, D, "softmax kernel launch", x.data,
                RowMap::of(x), x.strides[r - 1], y.data, RowMap::of(y), y.strides[r - 1], rows, D, log);
}

}  // namespace ward::backend::cuda
