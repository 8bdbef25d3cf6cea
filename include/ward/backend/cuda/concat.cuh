#pragma once
// Concatenation along an axis on the GPU, on strided views:
//
//   inputs[k] is (d0, ..., a_k, ..., d_{r-1}), out is (d0, ..., sum_k a_k, ..., d_{r-1})
//
// Each input is copied into its slab of out by one strided-copy kernel (one launch per input, on
// the current stream): concat is memory-bound and the copy serves every layout alike. Split needs
// no kernel: it is views.

#include <cuda_runtime.h>

#include <span>
#include <string>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/concat_shape.hpp"
#include "ward/core/config.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

/// A view's extents and both sides' strides by value for a kernel argument.
struct CopyPlan {
    int rank = 0;
    index_t extent[max_rank] = {};
    index_t src_stride[max_rank] = {};
    index_t dst_stride[max_rank] = {};
};

// src (shape) -> dst (shape), both strided; grid-stride over the n elements in row-major order.
template <class T>
__global__ void copy_strided_kernel(const T* src, T* dst, CopyPlan p, index_t n) {
    for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += index_t(gridDim.x) * blockDim.x) {
        index_t q = e, so = 0, dof = 0;
        for (int d = p.rank - 1; d >= 0; --d) {
            const index_t c = q % p.extent[d];
            q /= p.extent[d];
            so += c * p.src_stride[d];
            dof += c * p.dst_stride[d];
        }
        dst[dof] = src[so];
    }
}

/// out = concatenation of inputs along `axis` (negative counts from the end), on the current
/// stream; device memory, any strides. Same checks and errors as the CPU kernel.
template <class T>
void concat(std::span<const StridedView<const T>> inputs, int axis, StridedView<T> out) {
    const int ax = checked_concat_axis(inputs, axis, out), r = out.shape.rank;
    index_t offset = 0;
    for (const StridedView<const T>& in : inputs) {
        const index_t n = in.numel();
        if (n > 0) {
            CopyPlan p;
            p.rank = r;
            for (int d = 0; d < r; ++d)
                p.extent[d] = in.shape[d], p.src_stride[d] = in.strides[d], p.dst_stride[d] = out.strides[d];
            copy_strided_kernel<T><<<grid_stride_blocks(n), block_threads, 0, current_stream()>>>(
                in.data, out.data + offset * out.strides[ax], p, n);
            check(cudaGetLastError(), "concat kernel launch");
        }
        offset += in.shape[ax];
    }
}

}  // namespace ward::backend::cuda
