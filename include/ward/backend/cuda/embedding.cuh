#pragma once
// Embedding lookup and its gradient on the GPU, on strided views:
//
//   table is (V, D), ids is (n) contiguous int64 on the device, out is (n, D)
//   gather:      out[i, :] = table[ids[i], :]
//   scatter_add: table_grad[ids[i], :] += out_grad[i, :]   (the gradient of gather)
//
// Every id is checked on the device before anything is written: a check kernel records the first
// position holding an id outside [0, V), the host reads it back (one synchronisation of the
// current stream), and an out-of-range id throws index_error naming the id, its position and V,
// leaving the output untouched, as on the CPU.
//
// scatter_add has two paths. The default is the CPU's scheme, as embedding_backward promises: each
// thread owns one column and adds the rows in position order, so every sum has a fixed order
// (slower: only D threads). set_deterministic_embedding_grad(false) lets f32 add with atomicAdd,
// one thread per element of out_grad: fast, but the order in which repeated ids add up then varies
// from run to run (the sums differ in the last bits). bf16 always takes the ordered path (no
// atomics on ward's bf16).

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

namespace detail {
inline std::atomic<bool>& deterministic_embedding_grad_flag() {
    static std::atomic<bool> flag{true};
    return flag;
}
}  // namespace detail

/// Whether embedding_scatter_add keeps the ordered (deterministic) path for f32 (the default), or
/// adds with atomics (false: faster, not bit-reproducible).
inline void set_deterministic_embedding_grad(bool on) { detail::deterministic_embedding_grad_flag() = on; }
inline bool deterministic_embedding_grad() { return detail::deterministic_embedding_grad_flag(); }

// ids (n) -> first (1): the smallest position i with ids[i] outside [0, V) (first starts at n).
__global__ void embedding_check_ids_kernel(const std::int64_t* ids, index_t n, index_t V, unsigned long long* first) {
    for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x)
        if (ids[i] < 0 || ids[i] >= V) atomicMin(first, static_cast<unsigned long long>(i));
}

// table (V, D), ids (n) -> out (n, D); grid-stride over the n * D elements.
template <class T>
__global__ void embedding_gather_kernel(const T* table, index_t ts0, index_t ts1, const std::int64_t* ids, index_t n,
                                        index_t D, T* out, index_t os0, index_t os1) {
    const index_t total = n * D;
    for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x) {
        const index_t i = e / D, j = e - i * D;
        out[i * os0 + j * os1] = table[ids[i] * ts0 + j * ts1];
    }
}

// out_grad (n, D), ids (n) -> table_grad (V, D) += ...; one thread per element, atomicAdd (not
// deterministic: repeated ids add in a varying order).
__global__ void embedding_scatter_add_atomic_kernel(const float* g, index_t gs0, index_t gs1, const std::int64_t* ids,
                                                    index_t n, index_t D, float* t, index_t ts0, index_t ts1) {
    const index_t total = n * D;
    for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x) {
        const index_t i = e / D, j = e - i * D;
        atomicAdd(t + ids[i] * ts0 + j * ts1, g[i * gs0 + j * gs1]);
    }
}

// out_grad (n, D), ids (n) -> table_grad (V, D) += ...; thread j owns column j and adds the rows
// in position order (deterministic). Consecutive threads read consecutive columns.
template <class T>
__global__ void embedding_scatter_add_columns_kernel(const T* g, index_t gs0, index_t gs1, const std::int64_t* ids,
                                                     index_t n, index_t D, T* t, index_t ts0, index_t ts1) {
    for (index_t j = index_t(blockIdx.x) * blockDim.x + threadIdx.x; j < D; j += index_t(gridDim.x) * blockDim.x)
        for (index_t i = 0; i < n; ++i) {
            T* dst = t + ids[i] * ts0 + j * ts1;
            *dst = element_cast<T>(element_cast<float>(*dst) + element_cast<float>(g[i * gs0 + j * gs1]));
        }
}

namespace detail {

/// Shapes as the CPU checks them, then the ids on the device: throws index_error naming the first
/// out-of-range id and its position. Synchronises the current stream when n > 0.
template <class A, class B>
void check_embedding(const char* op, const A& table, const std::int64_t* ids, index_t n, const B& rows,
                     const char* table_name, const char* rows_name) {
    if (table.shape.rank != 2)
        throw shape_error(std::string(op) + ": " + table_name + " must be (V, D), got shape " + table.shape.str());
    if (n < 0) throw shape_error(std::string(op) + ": negative id count " + std::to_string(n));
    if (rows.shape.rank != 2 || rows.shape[0] != n || rows.shape[1] != table.shape[1])
        throw shape_error(std::string(op) + ": " + rows_name + " has shape " + rows.shape.str() + ", expected (" +
                          std::to_string(n) + ", " + std::to_string(table.shape[1]) + ") for " + table_name + " " +
                          table.shape.str() + " and " + std::to_string(n) + " ids");
    if (n == 0) return;
    if (!ids) throw shape_error(std::string(op) + ": ids is null but n = " + std::to_string(n));
    const index_t V = table.shape[0];
    struct Flag {  // device word, returned to the cache on every exit
        void* p = ward::DeviceMemory<ward::cuda>::allocate(sizeof(unsigned long long));
        ~Flag() { ward::DeviceMemory<ward::cuda>::release(p); }
    } flag;
    auto* first = static_cast<unsigned long long*>(flag.p);
    const unsigned long long none = static_cast<unsigned long long>(n);
    ward::DeviceMemory<ward::cuda>::from_host(first, &none, sizeof none);
    embedding_check_ids_kernel<<<grid_stride_blocks(n), block_threads, 0, current_stream()>>>(ids, n, V, first);
    check(cudaGetLastError(), "embedding id check kernel launch");
    unsigned long long bad = none;
    ward::DeviceMemory<ward::cuda>::to_host(&bad, first, sizeof bad);
    if (bad != none) {
        std::int64_t id = 0;
        ward::DeviceMemory<ward::cuda>::to_host(&id, ids + bad, sizeof id);
        throw index_error(std::string(op) + ": id " + std::to_string(id) + " at position " + std::to_string(bad) +
                          " is out of range for a table of V = " + std::to_string(V) + " rows");
    }
}

}  // namespace detail

/// out[i, :] = table[ids[i], :], on the current stream.
///   table is (V, D), ids is (n) contiguous, out is (n, D); device memory, any strides.
/// Throws index_error for an id outside [0, V) (nothing is written), shape_error for bad shapes.
template <class T>
void embedding_gather(StridedView<const T> table, const std::int64_t* ids, index_t n, StridedView<T> out) {
    detail::check_embedding("embedding_gather", table, ids, n, out, "table", "out");
    const index_t D = table.shape[1];
    if (n == 0 || D == 0) return;
    embedding_gather_kernel<T><<<grid_stride_blocks(n * D), block_threads, 0, current_stream()>>>(
        table.data, table.strides[0], table.strides[1], ids, n, D, out.data, out.strides[0], out.strides[1]);
    check(cudaGetLastError(), "embedding_gather kernel launch");
}

/// table_grad[ids[i], :] += out_grad[i, :] for i = 0..n-1 (accumulating), on the current stream.
///   out_grad is (n, D), ids is (n) contiguous, table_grad is (V, D); device memory, any strides.
/// Deterministic unless set_deterministic_embedding_grad(false) (see the file comment).
template <class T>
void embedding_scatter_add(StridedView<const T> out_grad, const std::int64_t* ids, index_t n,
                           StridedView<T> table_grad) {
    static_assert(KernelElement<T>, "ward: the CUDA embedding takes f32 or bf16");
    detail::check_embedding("embedding_scatter_add", table_grad, ids, n, out_grad, "table_grad", "out_grad");
    const index_t D = table_grad.shape[1];
    if (n == 0 || D == 0) return;
    if constexpr (std::is_same_v<T, float>) {
        if (!deterministic_embedding_grad()) {
            embedding_scatter_add_atomic_kernel<<<grid_stride_blocks(n * D), block_threads, 0, current_stream()>>>(
                out_grad.data, out_grad.strides[0], out_grad.strides[1], ids, n, D, table_grad.data,
                table_grad.strides[0], table_grad.strides[1]);
            check(cudaGetLastError(), "embedding_scatter_add kernel launch");
            return;
        }
    }
    embedding_scatter_add_columns_kernel<T><<<grid_stride_blocks(D), block_threads, 0, current_stream()>>>(
        out_grad.data, out_grad.strides[0], out_grad.strides[1], ids, n, D, table_grad.data, table_grad.strides[0],
        table_grad.strides[1]);
    check(cudaGetLastError(), "embedding_scatter_add kernel launch");
}

}  // namespace ward::backend::cuda
