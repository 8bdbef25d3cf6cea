#pragma once
// The CUDA executor: the same expression evaluators as on the CPU, run by the kernels of
// elementwise.cuh and reduce.cuh on the current stream. The pass is planned as on the CPU
// (tensor/layout.hpp); launch_plan.cuh picks the kernel from the plan and the operands' strides
// and alignment. Nothing here waits for the device: results are read back by a copy to the host.

#include <cuda_runtime.h>

#include <algorithm>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/elementwise.cuh"
#include "ward/backend/cuda/fast_divisor.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/launch_plan.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/reduce.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/stats.hpp"
#include "ward/tensor/layout.hpp"

namespace ward {

namespace backend::cuda {

/// The planned evaluator seeked at the plan's origin (row 0), as the contiguous kernels take it.
template <class Eval>
void seek_origin(Eval& ev, const LoopPlan& plan) {
    index_t zeros[max_rank] = {};
    ev.seek(zeros, plan.rank - 1);
}

/// Block shape of the broadcast-row kernels for rows of `inner` columns, `cols` a thread: x wide
/// enough for a row (32 to 256 threads), y the rest of the block's 256 threads.
inline dim3 broadcast_rows_block(index_t inner, int cols = row_cols_per_thread) {
    unsigned x = 32;
    while (x < unsigned(block_threads) && index_t(x) * cols < inner) x *= 2;
    return dim3(x, unsigned(block_threads) / x);
}

template <class Index, class Div, class S, class Eval>
void launch_indexed_elementwise(ElementwisePath path, S* dst, const StrideArray& dst_st, const LoopPlan& plan, const Eval& ev,
                                index_t total) {
    const Divisors<Div> dv = plan_divisors<Div>(plan);
    const int outer = plan.rank - 1;
    cudaStream_t stream = current_stream();
    if constexpr (VectorLoad<Eval>::known && pack_width<S> > 1) {
        if (path == ElementwisePath::broadcast_rows_vector) {
            constexpr int n = pack_width<S>;
            const index_t inner = plan.inner(), rows = plan.rows();
            const dim3 block = broadcast_rows_block(inner, n * row_packs_per_thread);
            const index_t tile = index_t(block.x) * n * row_packs_per_thread;
            const index_t row_groups = (rows + block.y - 1) / block.y;
            const dim3 grid(static_cast<unsigned>((inner + tile - 1) / tile), static_cast<unsigned>(std::min<index_t>(row_groups, 65535)));
            broadcast_rows_vector_kernel<n, Index, Div><<<grid, block, 0, stream>>>(dst, dst_st, dv, outer, ev, Index(rows), inner);
            return;
        }
    }
    if (path == ElementwisePath::broadcast_rows || path == ElementwisePath::broadcast_rows_vector) {
        const index_t inner = plan.inner(), rows = plan.rows();
        const dim3 block = broadcast_rows_block(inner);
        const index_t tile = index_t(block.x) * row_cols_per_thread;
        const index_t row_groups = (rows + block.y - 1) / block.y;
        const dim3 grid(static_cast<unsigned>((inner + tile - 1) / tile), static_cast<unsigned>(std::min<index_t>(row_groups, 65535)));
        broadcast_rows_kernel<Index, Div><<<grid, block, 0, stream>>>(dst, dst_st, dv, outer, ev, Index(rows), inner);
    } else {
        strided_kernel<Index, Div><<<grid_stride_blocks(total), block_threads, 0, stream>>>(dst, dst_st, dv, outer, ev, Index(total));
    }
}

/// N: the pack width when rows_packable, else 1.
template <int N, class Index, class Div, class R, class Out, class Eval>
void launch_reduce_rows(ReducePath path, const R& r, Out* dst, const LoopPlan& plan, const Eval& ev, index_t rows, index_t len) {
    const Divisors<Div> dv = plan_divisors<Div>(plan);
    const int outer = plan.rank - 1;
    cudaStream_t stream = current_stream();
    const index_t resident_blocks = index_t(sm_count()) * 8;
    if (path == ReducePath::rows_per_thread) {
        reduce_rows_thread_kernel<Index, Div><<<grid_stride_blocks(rows), block_threads, 0, stream>>>(r, dst, dv, outer, ev, Index(rows), len);
    } else if (path == ReducePath::rows_per_block) {
        const auto blocks = static_cast<unsigned>(std::min<index_t>(rows, resident_blocks));
        reduce_rows_block_kernel<N, Index, Div><<<blocks, block_threads, 0, stream>>>(r, dst, dv, outer, ev, Index(rows), len);
    } else {
        const index_t warps_per_block = block_threads / 32;
        const auto blocks = static_cast<unsigned>(std::min<index_t>((rows + warps_per_block - 1) / warps_per_block, resident_blocks));
        reduce_rows_warp_kernel<N, Index, Div><<<blocks, block_threads, 0, stream>>>(r, dst, dv, outer, ev, Index(rows), len);
    }
}

}  // namespace backend::cuda

template <>
struct Executor<cuda> {
    /// dst = ev, element by element, where ev was built for dst's shape.
    template <class S, class Eval>
    static void assign(StridedView<S> dst, Eval ev) {
        namespace bc = backend::cuda;
        ++stats::elementwise_passes;
        const index_t total = dst.numel();
        if (total == 0) return;
        bc::StrideArray dst_st{};
        for (int d = 0; d < dst.shape.rank; ++d) dst_st.v[d] = dst.strides[d];
        const LoopPlan plan = plan_loop(dst.shape, ev, dst_st.v, dst.shape.rank);
        bc::seek_origin(ev, plan);
        const bc::ElementwisePath path = bc::choose_elementwise_path(plan, dst_st.v, dst.data, ev);
        cudaStream_t stream = bc::current_stream();
        switch (path) {
            case bc::ElementwisePath::contiguous_vector:
                if constexpr (packable<Eval>() && bc::pack_width<S> > 1) {
                    constexpr int n = bc::pack_width<S>;
                    bc::contiguous_vector_kernel<n><<<bc::grid_stride_blocks(total / n + 1), bc::block_threads, 0, stream>>>(dst.data, ev, total);
                }
                break;
            case bc::ElementwisePath::contiguous:
                bc::contiguous_kernel<<<bc::grid_stride_blocks(total), bc::block_threads, 0, stream>>>(dst.data, ev, total);
                break;
            default:
                if (total < bc::fast_index_limit)
                    bc::launch_indexed_elementwise<std::uint32_t, bc::FastDivisor>(path, dst.data, dst_st, plan, ev, total);
                else
                    bc::launch_indexed_elementwise<std::uint64_t, bc::PlainDivisor>(path, dst.data, dst_st, plan, ev, total);
        }
        WARD_CUDA_CHECK(cudaGetLastError());
    }

    /// Reduces ev (built for `shape`) over `axis` (-1: over everything) into the contiguous dst,
    /// whose elements are the outer positions in row-major order.
    template <class R, class Out, class Eval>
    static void reduce(const R& r, Eval ev, const Shape& shape, int axis, StridedView<Out> dst) {
        namespace bc = backend::cuda;
        ++stats::reduction_passes;
        using Acc = typename R::acc_type;
        cudaStream_t stream = bc::current_stream();
        if (axis < 0) {
            const index_t len = shape.numel();
            const index_t blocks = (len + bc::reduce_chunk - 1) / bc::reduce_chunk;
            Acc* partial = nullptr;
            if (blocks > 0) {
                const LoopPlan plan = plan_loop(shape, ev, nullptr, shape.rank);
                bc::seek_origin(ev, plan);
                partial = static_cast<Acc*>(DeviceMemory<ward::cuda>::allocate(std::size_t(blocks) * sizeof(Acc)));
                const auto grid = static_cast<unsigned>(blocks);
                switch (bc::choose_reduce_path(plan, ev, true)) {
                    case bc::ReducePath::all_contiguous_vector:
                        if constexpr (packable<Eval>() && bc::pack_width<typename Eval::value_type> > 1) {
                            constexpr int n = bc::pack_width<typename Eval::value_type>;
                            bc::reduce_all_vector_kernel<n><<<grid, bc::block_threads, 0, stream>>>(r, partial, ev, len);
                        }
                        break;
                    case bc::ReducePath::all_contiguous:
                        bc::reduce_all_contiguous_kernel<<<grid, bc::block_threads, 0, stream>>>(r, partial, ev, len);
                        break;
                    default: {
                        const int outer = plan.rank - 1;
                        if (len < bc::fast_index_limit)
                            bc::reduce_all_strided_kernel<std::uint32_t><<<grid, bc::block_threads, 0, stream>>>(
                                r, partial, bc::plan_divisors<bc::FastDivisor>(plan), outer, ev, len);
                        else
                            bc::reduce_all_strided_kernel<std::uint64_t><<<grid, bc::block_threads, 0, stream>>>(
                                r, partial, bc::plan_divisors<bc::PlainDivisor>(plan), outer, ev, len);
                    }
                }
            }
            bc::reduce_finalize_kernel<<<1, bc::finalize_threads, 0, stream>>>(r, partial, blocks, dst.data, len);
            cudaError_t launched = cudaGetLastError();
            DeviceMemory<ward::cuda>::release(partial);  // reused only by later work on this stream
            WARD_CUDA_CHECK(launched);
            return;
        }
        const index_t len = shape[axis];
        const Shape moved = move_axis_last(shape, axis, ev);
        const LoopPlan plan = plan_loop(moved, ev, nullptr, moved.rank - 1);
        const index_t rows = plan.rows();
        if (rows == 0) return;
        bc::seek_origin(ev, plan);
        const bc::ReducePath path = bc::choose_reduce_path(plan, ev, false);
        if constexpr (packable<Eval>() && bc::pack_width<typename Eval::value_type> > 1) {
            constexpr int n = bc::pack_width<typename Eval::value_type>;
            if (path != bc::ReducePath::rows_per_thread && bc::rows_packable(plan, ev)) {
                if (rows < bc::fast_index_limit)
                    bc::launch_reduce_rows<n, std::uint32_t, bc::FastDivisor>(path, r, dst.data, plan, ev, rows, len);
                else
                    bc::launch_reduce_rows<n, std::uint64_t, bc::PlainDivisor>(path, r, dst.data, plan, ev, rows, len);
                WARD_CUDA_CHECK(cudaGetLastError());
                return;
            }
        }
        if (rows < bc::fast_index_limit)
            bc::launch_reduce_rows<1, std::uint32_t, bc::FastDivisor>(path, r, dst.data, plan, ev, rows, len);
        else
            bc::launch_reduce_rows<1, std::uint64_t, bc::PlainDivisor>(path, r, dst.data, plan, ev, rows, len);
        WARD_CUDA_CHECK(cudaGetLastError());
    }

private:
    template <class Eval>
    static constexpr bool packable() { return backend::cuda::VectorLoad<Eval>::known; }
};

}  // namespace ward
