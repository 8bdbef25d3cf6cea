#pragma once
// The element-wise kernels of the CUDA executor: dst = ev over a planned pass, one kernel per
// path of launch_plan.cuh. ev is an expression evaluator (tensor/expr.hpp) passed by value;
// dst and every leaf are laid out by the plan: extents plan.shape[0..rank), the last axis inner.

#include <cuda_runtime.h>

#include "ward/backend/cuda/fast_divisor.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/launch_plan.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/tensor/layout.hpp"

namespace ward::backend::cuda {

// dst is (n) dense and every leaf of ev (seeked at the origin) is (n) dense, all aligned for packs
// of N. Thread t writes packs t, t + threads, ... with one 128-bit store each; the n % N tail
// goes to the first threads.
template <int N, class S, class Eval>
__global__ void __launch_bounds__(block_threads) contiguous_vector_kernel(S* dst, Eval ev, index_t n) {
    const index_t threads = index_t(gridDim.x) * blockDim.x;
    const index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const index_t packs = n / N;
    for (index_t p = t; p < packs; p += threads) {
        typename Eval::value_type v[N];
        VectorLoad<Eval>::template load<N>(ev, p * N, v);
        Pack<S, N> out;
#pragma unroll
        for (int k = 0; k < N; ++k) out.v[k] = element_cast<S>(v[k]);
        *reinterpret_cast<Pack<S, N>*>(dst + p * N) = out;
    }
    for (index_t i = packs * N + t; i < n; i += threads) dst[i] = element_cast<S>(ev.template load<true>(i));
}

// dst is (n) dense and every leaf of ev (seeked at the origin) has unit stride; element by element.
template <class S, class Eval>
__global__ void __launch_bounds__(block_threads) contiguous_kernel(S* dst, Eval ev, index_t n) {
    const index_t threads = index_t(gridDim.x) * blockDim.x;
    for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += threads)
        dst[i] = element_cast<S>(ev.template load<true>(i));
}

/// Columns each thread of broadcast_rows_kernel writes per row.
inline constexpr int row_cols_per_thread = 4;

// dst is (rows, inner) with plan.shape's outer axes unravelled from the row index, unit inner
// stride; every leaf's inner stride is 0 or 1. Block (x, y) threads: x spans a tile of
// blockDim.x * 4 columns, y a row; the outer index and the seek happen once per row.
template <class Index, class Div, class S, class Eval>
__global__ void __launch_bounds__(block_threads) broadcast_rows_kernel(S* dst, StrideArray dst_st, Divisors<Div> dv,
                                                                       int outer, Eval ev, Index rows, index_t inner) {
    const index_t col0 = index_t(blockIdx.x) * blockDim.x * row_cols_per_thread + threadIdx.x;
    for (Index row = Index(blockIdx.y) * blockDim.y + threadIdx.y; row < rows; row += Index(gridDim.y) * blockDim.y) {
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        S* out = dst + row_offset(idx, dst_st.v, outer);
#pragma unroll
        for (int k = 0; k < row_cols_per_thread; ++k) {
            const index_t j = col0 + index_t(k) * blockDim.x;
            if (j < inner) out[j] = element_cast<S>(e.template load<false>(j));
        }
    }
}

/// Packs each thread of broadcast_rows_vector_kernel writes per row: the per-row work (unravelling
/// the row, seeking every leaf) is shared by this many 128-bit stores.
inline constexpr int row_packs_per_thread = 4;

// As broadcast_rows_kernel, with every row start aligned in dst and in each leaf that moves along
// the row (stride 1; a stride-0 leaf is read once per pack). In a tile of blockDim.x * 4 packs,
// thread x writes packs x, x + blockDim.x, ... of N columns with one 128-bit store each; the pack
// that crosses the row's end is written element by element.
template <int N, class Index, class Div, class S, class Eval>
__global__ void __launch_bounds__(block_threads) broadcast_rows_vector_kernel(S* dst, StrideArray dst_st, Divisors<Div> dv, int outer,
                                                                              Eval ev, Index rows, index_t inner) {
    const index_t j0 = (index_t(blockIdx.x) * blockDim.x * row_packs_per_thread + threadIdx.x) * N;
    if (j0 >= inner) return;
    for (Index row = Index(blockIdx.y) * blockDim.y + threadIdx.y; row < rows; row += Index(gridDim.y) * blockDim.y) {
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        S* out = dst + row_offset(idx, dst_st.v, outer);
#pragma unroll
        for (int k = 0; k < row_packs_per_thread; ++k) {
            const index_t j = j0 + index_t(k) * blockDim.x * N;
            if (j + N <= inner) {
                typename Eval::value_type v[N];
                VectorLoad<Eval>::template load<N>(e, j, v);
                Pack<S, N> p;
#pragma unroll
                for (int q = 0; q < N; ++q) p.v[q] = element_cast<S>(v[q]);
                *reinterpret_cast<Pack<S, N>*>(out + j) = p;
            } else {
                for (index_t c = j; c < inner; ++c) out[c] = element_cast<S>(e.template load<false>(c));
            }
        }
    }
}

// Any layout: dst and the leaves strided per plan axis. Thread per element (grid-stride), the flat
// index split into row and column, the row unravelled, by fast divisors.
template <class Index, class Div, class S, class Eval>
__global__ void __launch_bounds__(block_threads) strided_kernel(S* dst, StrideArray dst_st, Divisors<Div> dv,
                                                                int outer, Eval ev, Index total) {
    const Index threads = Index(gridDim.x) * blockDim.x;
    for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += threads) {
        const Index row = static_cast<Index>(dv.axis[outer].div(i));
        const index_t j = static_cast<index_t>(dv.axis[outer].mod(i, row));
        index_t idx[max_rank];
        unravel_row_fast(row, dv, outer, idx);
        Eval e = ev;
        e.seek(idx, outer);
        dst[row_offset(idx, dst_st.v, outer) + j * dst_st.v[outer]] = element_cast<S>(e.template load<false>(j));
    }
}

}  // namespace ward::backend::cuda
