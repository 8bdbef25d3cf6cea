#pragma once
// The reduction kernels of the CUDA executor. A reducer R (tensor/reduce.hpp) folds elements
// into an accumulator (step), merges accumulators (combine) and turns one into the result
// (finish). Every element goes to a fixed thread and every merge happens in a fixed order (warp
// shuffles, then one warp over the warps' results), so the result is the same on every run.
// Over everything the pass has two levels, as on the CPU: fixed chunks of reduce_chunk elements
// reduce into partials, then one block merges the partials.

#include <cuda_runtime.h>

#include <cstring>
#include <type_traits>

#include "ward/backend/cuda/fast_divisor.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/launch_plan.cuh"
#include "ward/core/config.hpp"
#include "ward/tensor/layout.hpp"

namespace ward::backend::cuda {

/// Elements per partial result of a whole-tensor reduction (the CPU's reduction_block): fixed, so
/// the grouping, and with it the rounding, does not depend on the device.
inline constexpr index_t reduce_chunk = index_t(1) << 14;
/// Threads of the block that merges the partials.
inline constexpr int finalize_threads = 1024;

/// v from lane + delta of the warp (v itself where that is past the end), for any trivially
/// copyable accumulator: moved as 32-bit words.
template <class T>
__device__ T shuffle_down(const T& v, unsigned delta) {
    static_assert(std::is_trivially_copyable_v<T>, "ward: a reduction accumulator must be trivially copyable");
    constexpr int words = int((sizeof(T) + 3) / 4);
    unsigned w[words] = {};
    std::memcpy(w, &v, sizeof(T));
#pragma unroll
    for (int k = 0; k < words; ++k) w[k] = __shfl_down_sync(0xffffffffu, w[k], delta);
    T out;
    std::memcpy(&out, w, sizeof(T));
    return out;
}

/// Lane 0 gets the warp's merge of acc (all 32 lanes take part).
template <class R>
__device__ void warp_reduce(const R& r, typename R::acc_type& acc) {
#pragma unroll
    for (unsigned delta = 16; delta > 0; delta >>= 1) {
        typename R::acc_type other = shuffle_down(acc, delta);
        r.combine(acc, other);
    }
}

/// Thread 0 gets the block's merge of acc (every thread of the block takes part; 1-D blocks of a
/// multiple of 32 threads).
template <class R>
__device__ void block_reduce(const R& r, typename R::acc_type& acc) {
    using Acc = typename R::acc_type;
    __shared__ alignas(16) unsigned char raw[32 * sizeof(Acc)];
    Acc* per_warp = reinterpret_cast<Acc*>(raw);
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    warp_reduce(r, acc);
    if (lane == 0) per_warp[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        acc = lane < blockDim.x / 32 ? per_warp[lane] : r.init();
        warp_reduce(r, acc);
    }
}

// ---- over everything ------------------------------------------------------------------------

// ev (seeked at the origin) is (n) dense, leaves aligned for packs of N. Block b reduces elements
// [b * reduce_chunk, (b + 1) * reduce_chunk) into partial[b]; thread t reads packs t, t + 256, ...
template <int N, class R, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_all_vector_kernel(R r, typename R::acc_type* partial, Eval ev, index_t n) {
    const index_t begin = index_t(blockIdx.x) * reduce_chunk;
    const index_t end = begin + reduce_chunk < n ? begin + reduce_chunk : n;
    const index_t full = begin + (end - begin) / N * N;
    typename R::acc_type acc = r.init();
    for (index_t i = begin + index_t(threadIdx.x) * N; i < full; i += index_t(blockDim.x) * N) {
        typename Eval::value_type v[N];
        VectorLoad<Eval>::template load<N>(ev, i, v);
#pragma unroll
        for (int k = 0; k < N; ++k) r.step(acc, v[k], i + k);
    }
    for (index_t i = full + threadIdx.x; i < end; i += blockDim.x) r.step(acc, ev.template load<true>(i), i);
    block_reduce(r, acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// The same over an (n) unit-stride ev read element by element.
template <class R, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_all_contiguous_kernel(R r, typename R::acc_type* partial, Eval ev, index_t n) {
    const index_t begin = index_t(blockIdx.x) * reduce_chunk;
    const index_t end = begin + reduce_chunk < n ? begin + reduce_chunk : n;
    typename R::acc_type acc = r.init();
    for (index_t i = begin + threadIdx.x; i < end; i += blockDim.x) r.step(acc, ev.template load<true>(i), i);
    block_reduce(r, acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// The same over any planned layout: element i (row-major over the plan) found by fast divisors.
template <class Index, class Div, class R, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_all_strided_kernel(R r, typename R::acc_type* partial, Divisors<Div> dv,
                                                                           int outer, Eval ev, index_t n) {
    const index_t begin = index_t(blockIdx.x) * reduce_chunk;
    const index_t end = begin + reduce_chunk < n ? begin + reduce_chunk : n;
    typename R::acc_type acc = r.init();
    for (index_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
        const Index row = static_cast<Index>(dv.axis[outer].div(Index(i)));
        const index_t j = static_cast<index_t>(dv.axis[outer].mod(Index(i), row));
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        r.step(acc, e.template load<false>(j), i);
    }
    block_reduce(r, acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// partial is (count); one block of finalize_threads merges it: thread t takes t, t + 1024, ... in
// order, then the block tree. dst[0] = finish(merge, n). count may be 0 (an empty tensor).
template <class R, class Out>
__global__ void __launch_bounds__(finalize_threads) reduce_finalize_kernel(R r, const typename R::acc_type* partial, index_t count,
                                                                           Out* dst, index_t n) {
    typename R::acc_type acc = r.init();
    for (index_t b = threadIdx.x; b < count; b += blockDim.x) r.combine(acc, partial[b]);
    block_reduce(r, acc);
    if (threadIdx.x == 0) dst[0] = r.finish(acc, n);
}

// ---- over the last axis of a plan: dst[row] for row in [0, rows), rows of len elements ----------

/// acc <- acc (+) e[j] for j = first, first + step, ... < len of a seeked row. With N > 1 (the row
/// unit-stride and aligned, rows_packable) the same thread reads packs N * first, N * (first + step),
/// ..., then the len % N tail element by element.
template <int N, class R, class Eval>
__device__ void reduce_row_span(const R& r, typename R::acc_type& acc, const Eval& e, index_t len, index_t first, index_t step) {
    if constexpr (N > 1) {
        const index_t full = len / N * N;
        for (index_t j = first * N; j < full; j += step * N) {
            typename Eval::value_type v[N];
            VectorLoad<Eval>::template load<N>(e, j, v);
#pragma unroll
            for (int k = 0; k < N; ++k) r.step(acc, v[k], j + k);
        }
        for (index_t j = full + first; j < len; j += step) r.step(acc, e.template load<true>(j), j);
    } else {
        for (index_t j = first; j < len; j += step) r.step(acc, e.template load<false>(j), j);
    }
}

// One warp per row (short rows): warp w of block b takes rows b * 8 + w, + 8 * blocks, ...
// Lane l reads j = l, l + 32, ... (packs l, l + 32, ... when N > 1): coalesced when the row is unit-stride.
template <int N, class Index, class Div, class R, class Out, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_rows_warp_kernel(R r, Out* dst, Divisors<Div> dv, int outer, Eval ev,
                                                                         Index rows, index_t len) {
    const unsigned lane = threadIdx.x % 32;
    const Index warps_per_block = blockDim.x / 32;
    for (Index row = Index(blockIdx.x) * warps_per_block + threadIdx.x / 32; row < rows; row += Index(gridDim.x) * warps_per_block) {
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        typename R::acc_type acc = r.init();
        reduce_row_span<N>(r, acc, e, len, lane, 32);
        warp_reduce(r, acc);
        if (lane == 0) dst[row] = r.finish(acc, len);
    }
}

// One block per row (long rows): thread t reads j = t, t + 256, ... (packs when N > 1); grid-stride over rows.
template <int N, class Index, class Div, class R, class Out, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_rows_block_kernel(R r, Out* dst, Divisors<Div> dv, int outer, Eval ev,
                                                                          Index rows, index_t len) {
    for (Index row = blockIdx.x; row < rows; row += gridDim.x) {
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        typename R::acc_type acc = r.init();
        reduce_row_span<N>(r, acc, e, len, threadIdx.x, blockDim.x);
        block_reduce(r, acc);
        if (threadIdx.x == 0) dst[row] = r.finish(acc, len);
        __syncthreads();  // block_reduce's shared memory is reused by the next row
    }
}

// One thread per row, walking the row in order: for a reduced axis that is strided in memory
// (a column sum), where neighbouring threads then read neighbouring addresses.
template <class Index, class Div, class R, class Out, class Eval>
__global__ void __launch_bounds__(block_threads) reduce_rows_thread_kernel(R r, Out* dst, Divisors<Div> dv, int outer, Eval ev,
                                                                           Index rows, index_t len) {
    for (Index row = Index(blockIdx.x) * blockDim.x + threadIdx.x; row < rows; row += Index(gridDim.x) * blockDim.x) {
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        typename R::acc_type acc = r.init();
        for (index_t j = 0; j < len; ++j) r.step(acc, e.template load<false>(j), j);
        dst[row] = r.finish(acc, len);
    }
}

}  // namespace ward::backend::cuda
