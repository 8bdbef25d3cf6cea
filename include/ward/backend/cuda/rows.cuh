#pragma once
// Shared pieces of the CUDA row kernels (softmax, norms): the offset of row q of a strided view
// over its leading axes, f32 sums and maxima over a warp or a block, and the two launch shapes.
// Rows of up to warp_row_limit elements get one warp each (no shared memory, no block barrier);
// longer rows get one block each.

#include <cuda_runtime.h>

#include <cmath>
#include <string>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

/// Rows of at most this many elements take one warp each, longer rows one block each.
inline constexpr index_t warp_row_limit = 1024;
/// Threads of a row kernel's block: 8 rows of a warp each, or one long row.
inline constexpr int row_block_threads = 256;

/// The leading axes of a (..., D) view by value for a kernel argument: row q's offset is the sum
/// of its coordinates times these strides (any layout, including broadcast rows of stride 0).
struct RowMap {
    int rank = 0;  // leading axes (the view's rank minus one)
    index_t extent[max_rank] = {};
    index_t stride[max_rank] = {};

    template <class T>
    static RowMap of(const StridedView<T>& v) {
        RowMap m;
        m.rank = v.shape.rank - 1;
        for (int d = 0; d < m.rank; ++d) m.extent[d] = v.shape[d], m.stride[d] = v.strides[d];
        return m;
    }
    __device__ index_t offset(index_t q) const {
        index_t off = 0;
        for (int d = rank - 1; d >= 0; --d) {
            off += (q % extent[d]) * stride[d];
            q /= extent[d];
        }
        return off;
    }
};

/// Where this thread works in a row kernel: its row, its first column and the column step.
/// Block = false: warp w of block b takes row b * 8 + w; Block = true: block b takes row b.
template <bool Block>
struct RowSlot {
    index_t row;
    index_t lane;
    index_t step;
    __device__ RowSlot() {
        if constexpr (Block) {
            row = index_t(blockIdx.x), lane = index_t(threadIdx.x), step = index_t(blockDim.x);
        } else {
            row = index_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32, lane = index_t(threadIdx.x % 32), step = 32;
        }
    }
};

__device__ inline float warp_sum(float v) {
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
    return v;
}

__device__ inline float warp_max(float v) {
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, d));
    return v;
}

/// Every thread of the row gets the row's sum (Max = false) or maximum (Max = true). In block
/// mode every thread of the block must call it (it has barriers); a fixed merge order keeps the
/// result the same on every run.
template <bool Block, bool Max>
__device__ float row_reduce(float v) {
    v = Max ? warp_max(v) : warp_sum(v);
    if constexpr (Block) {
        __shared__ float per_warp[32];
        const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
        if (lane == 0) per_warp[warp] = v;
        __syncthreads();
        const float identity = Max ? -INFINITY : 0.0f;
        float t = lane < warps ? per_warp[lane] : identity;
        t = Max ? warp_max(t) : warp_sum(t);
        __syncthreads();  // per_warp is reused by the next call
        return t;
    } else {
        return v;
    }
}

/// Launches kernel<false> (a warp per row) or kernel<true> (a block per row) for `rows` rows of
/// D elements on the current stream, then checks the launch.
template <class WarpKernel, class BlockKernel, class... Args>
void launch_rows(WarpKernel warp_kernel, BlockKernel block_kernel, index_t rows, index_t D, const char* what,
                 Args... args) {
    if (rows <= 0) return;
    if (rows > index_t(0x7fffffff))
        throw shape_error(std::string(what) + ": " + std::to_string(rows) + " rows exceed the CUDA grid");
    const int rows_per_block = row_block_threads / 32;
    if (D <= warp_row_limit) {
        const unsigned grid = static_cast<unsigned>((rows + rows_per_block - 1) / rows_per_block);
        warp_kernel<<<grid, row_block_threads, 0, current_stream()>>>(args...);
    } else {
        block_kernel<<<static_cast<unsigned>(rows), row_block_threads, 0, current_stream()>>>(args...);
    }
    check(cudaGetLastError(), what);
}

}  // namespace ward::backend::cuda
