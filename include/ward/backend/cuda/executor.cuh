#pragma once
// The CUDA executor: the same expression evaluators as on the CPU, run by generated kernels.
// One kernel evaluates a whole element-wise tree (one thread per output element); reductions run
// one block per output row, or, over everything, blocks of a flat range whose partial results the
// host combines in order.

#include <cuda_runtime.h>

#include <vector>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/stats.hpp"
#include "ward/tensor/layout.hpp"

namespace ward {

namespace backend::cuda {

inline constexpr int block_threads = 256;

/// The stride arrays of a planned pass, by value, for a kernel argument.
struct StrideArray {
    index_t v[max_rank];
};

/// Element `flat` (row-major over the plan) of the evaluator; seeks the row on every call.
template <class Eval>
__device__ typename Eval::value_type load_flat(Eval& e, const LoopPlan& plan, index_t flat, index_t* idx) {
    const int outer = plan.rank - 1;
    index_t j = flat % plan.shape[outer];
    unravel_row(flat / plan.shape[outer], plan.shape, outer, idx);
    e.seek(idx, outer);
    return e.template load<false>(j);
}

// dst is a strided view with plan's axes; ev is read at the same positions. One thread per element.
template <class S, class Eval>
__global__ void elementwise_kernel(S* dst, StrideArray dst_st, LoopPlan plan, Eval ev, index_t total) {
    index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total) return;
    Eval e = ev;
    index_t idx[max_rank];
    const int outer = plan.rank - 1;
    auto v = load_flat(e, plan, i, idx);
    dst[row_offset(idx, dst_st.v, outer) + (i % plan.shape[outer]) * dst_st.v[outer]] = element_cast<S>(v);
}

// One block per output row: the threads stride along the row, then combine in shared memory.
template <class R, class Out, class Eval>
__global__ void reduce_rows_kernel(R r, Out* dst, LoopPlan plan, Eval ev, index_t len) {
    using Acc = typename R::acc_type;
    extern __shared__ unsigned char smem_raw[];
    Acc* smem = reinterpret_cast<Acc*>(smem_raw);
    const int outer = plan.rank - 1;
    index_t row = blockIdx.x;
    Eval e = ev;
    index_t idx[max_rank];
    unravel_row(row, plan.shape, outer, idx);
    e.seek(idx, outer);
    Acc acc = r.init();
    for (index_t j = threadIdx.x; j < len; j += blockDim.x) r.step(acc, e.template load<false>(j), j);
    smem[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) r.combine(smem[threadIdx.x], smem[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) dst[row] = r.finish(smem[0], len);
}

// Block b reduces flat elements [b * chunk, (b + 1) * chunk) into partial[b].
template <class R, class Eval>
__global__ void reduce_all_kernel(R r, typename R::acc_type* partial, LoopPlan plan, Eval ev, index_t len, index_t chunk) {
    using Acc = typename R::acc_type;
    extern __shared__ unsigned char smem_raw[];
    Acc* smem = reinterpret_cast<Acc*>(smem_raw);
    Eval e = ev;
    index_t idx[max_rank];
    index_t begin = static_cast<index_t>(blockIdx.x) * chunk;
    index_t end = begin + chunk < len ? begin + chunk : len;
    Acc acc = r.init();
    for (index_t i = begin + threadIdx.x; i < end; i += blockDim.x) r.step(acc, load_flat(e, plan, i, idx), i);
    smem[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) r.combine(smem[threadIdx.x], smem[threadIdx.x + s]);
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = smem[0];
}

inline unsigned grid_for(index_t n) { return static_cast<unsigned>((n + block_threads - 1) / block_threads); }

}  // namespace backend::cuda

template <>
struct Executor<cuda> {
    template <class S, class Eval>
    static void assign(StridedView<S> dst, Eval ev) {
        ++stats::elementwise_passes;
        index_t total = dst.numel();
        if (total == 0) return;
        backend::cuda::StrideArray dst_st{};
        for (int d = 0; d < dst.shape.rank; ++d) dst_st.v[d] = dst.strides[d];
        LoopPlan plan = plan_loop(dst.shape, ev, dst_st.v, dst.shape.rank);
        backend::cuda::elementwise_kernel<<<backend::cuda::grid_for(total), backend::cuda::block_threads>>>(
            dst.data, dst_st, plan, ev, total);
        WARD_CUDA_CHECK(cudaGetLastError());
    }

    template <class R, class Out, class Eval>
    static void reduce(const R& r, Eval ev, const Shape& shape, int axis, StridedView<Out> dst) {
        ++stats::reduction_passes;
        using Acc = typename R::acc_type;
        const std::size_t smem = sizeof(Acc) * backend::cuda::block_threads;
        if (axis < 0) {
            const index_t len = shape.numel();
            LoopPlan plan = plan_loop(shape, ev, nullptr, shape.rank);
            const index_t chunk = index_t(backend::cuda::block_threads) * 16;
            const index_t blocks = len == 0 ? 0 : (len + chunk - 1) / chunk;
            std::vector<Acc> partial(static_cast<std::size_t>(blocks));
            if (blocks > 0) {
                Acc* d_partial = static_cast<Acc*>(DeviceMemory<ward::cuda>::allocate(partial.size() * sizeof(Acc)));
                backend::cuda::reduce_all_kernel<<<static_cast<unsigned>(blocks), backend::cuda::block_threads, smem>>>(
                    r, d_partial, plan, ev, len, chunk);
                cudaError_t launch = cudaGetLastError();
                cudaError_t copy = cudaMemcpy(partial.data(), d_partial, partial.size() * sizeof(Acc), cudaMemcpyDeviceToHost);
                DeviceMemory<ward::cuda>::release(d_partial);
                WARD_CUDA_CHECK(launch);
                WARD_CUDA_CHECK(copy);
            }
            Acc acc = r.init();
            for (const Acc& p : partial) r.combine(acc, p);
            Out out = r.finish(acc, len);
            DeviceMemory<ward::cuda>::from_host(dst.data, &out, sizeof(Out));
            return;
        }
        const index_t len = shape[axis];
        Shape moved = move_axis_last(shape, axis, ev);
        LoopPlan plan = plan_loop(moved, ev, nullptr, moved.rank - 1);
        const index_t rows = plan.rows();
        if (rows == 0) return;
        backend::cuda::reduce_rows_kernel<<<static_cast<unsigned>(rows), backend::cuda::block_threads, smem>>>(
            r, dst.data, plan, ev, len);
        WARD_CUDA_CHECK(cudaGetLastError());
    }
};

}  // namespace ward
