#pragma once
// Embedding lookup and its gradient, on strided views:
//
//   table is (V, D), ids is (n) contiguous int64, out is (n, D)
//   gather:      out[i, :] = table[ids[i], :]
//   scatter_add: table_grad[ids[i], :] += out_grad[i, :]   (the gradient of gather)
//
// Every id is checked before anything is written: an out-of-range id throws index_error naming
// the id, its position and V, and leaves the output untouched. scatter_add is deterministic:
// threads split the D columns, and each adds the rows in position order (repeated ids included).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "ward/backend/cpu/onednn.hpp"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cpu {

namespace detail {

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
    if (n > 0 && !ids) throw shape_error(std::string(op) + ": ids is null but n = " + std::to_string(n));
    const index_t V = table.shape[0];
    for (index_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= V)
            throw index_error(std::string(op) + ": id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                              " is out of range for a table of V = " + std::to_string(V) + " rows");
}

}  // namespace detail

/// out[i, :] = table[ids[i], :].
///   table is (V, D), ids is (n) contiguous, out is (n, D); any strides.
/// Throws index_error for an id outside [0, V) (nothing is written), shape_error for bad shapes.
template <class T>
void embedding_gather(StridedView<const T> table, const std::int64_t* ids, index_t n, StridedView<T> out) {
    detail::check_embedding("embedding_gather", table, ids, n, out, "table", "out");
    const index_t D = table.shape[1];
    if (n == 0 || D == 0) return;
    const index_t ts = table.strides[1], os = out.strides[1];
    const bool rows_dense = ts == 1 && os == 1;
    detail::for_each_row(n, D, [&](index_t i) {
        const T* src = table.data + ids[i] * table.strides[0];
        T* dst = out.data + i * out.strides[0];
        if (rows_dense) std::memcpy(dst, src, sizeof(T) * static_cast<std::size_t>(D));
        else
            for (index_t j = 0; j < D; ++j) dst[j * os] = src[j * ts];
    });
}

/// table_grad[ids[i], :] += out_grad[i, :] for i = 0..n-1 (accumulating; zero table_grad first).
///   out_grad is (n, D), ids is (n) contiguous, table_grad is (V, D); any strides.
/// Deterministic for a given thread count and independent of it (each column sums in order i).
template <class T>
void embedding_scatter_add(StridedView<const T> out_grad, const std::int64_t* ids, index_t n,
                           StridedView<T> table_grad) {
    detail::check_embedding("embedding_scatter_add", table_grad, ids, n, out_grad, "table_grad", "out_grad");
    const index_t D = table_grad.shape[1];
    if (n == 0 || D == 0) return;
    using A = compute_t<T>;
    const index_t gs = out_grad.strides[1], ts = table_grad.strides[1];
    // Columns are split into blocks; each block walks all ids in order, so no two threads touch
    // the same element and every sum has a fixed order.
    constexpr index_t block = 64;
    const index_t nblocks = (D + block - 1) / block;
    auto run_block = [&](index_t b) {
        const index_t j0 = b * block, j1 = std::min(D, j0 + block);
        for (index_t i = 0; i < n; ++i) {
            const T* g = out_grad.data + i * out_grad.strides[0];
            T* t = table_grad.data + ids[i] * table_grad.strides[0];
            for (index_t j = j0; j < j1; ++j)
                t[j * ts] = element_cast<T>(element_cast<A>(t[j * ts]) + element_cast<A>(g[j * gs]));
        }
    };
    if (nblocks > 1 && n * D >= (index_t{1} << 15)) {
#pragma omp parallel for schedule(static)
        for (index_t b = 0; b < nblocks; ++b) run_block(b);
    } else {
        for (index_t b = 0; b < nblocks; ++b) run_block(b);
    }
}

}  // namespace ward::backend::cpu
