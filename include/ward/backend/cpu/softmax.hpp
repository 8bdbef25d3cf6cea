#pragma once
// Softmax and log-softmax over the last axis, on strided views:
//
//   x is (..., D), y is (..., D)
//   y = exp(x - max) / sum(exp(x - max))           (log = false)
//   y = (x - max) - log(sum(exp(x - max)))         (log = true)
//
// f32 (and bf16 where the CPU has it) -> oneDNN softmax primitive, cached per shape; non-dense
// views go through a dense buffer (oneDNN would serve them with its slow reference kernel). f64 (and bf16 elsewhere) -> ward's row loop,
// numerically stable (max subtracted) and accumulated in double.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ward/backend/cpu/onednn.hpp"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cpu {

namespace detail {

template <class T>
void softmax_rows_loop(const StridedView<const T>& x, const StridedView<T>& y, bool log) {
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    const index_t sx = x.strides[r - 1], sy = y.strides[r - 1];
    for_each_row(rows, D, [&](index_t q) {
        const T* xr = x.data + row_offset(x, q);
        T* yr = y.data + row_offset(y, q);
        double mx = -std::numeric_limits<double>::infinity();
        for (index_t j = 0; j < D; ++j) mx = std::max(mx, static_cast<double>(element_cast<compute_t<T>>(xr[j * sx])));
        if (std::isinf(mx) && mx < 0) mx = 0;  // a row of -inf: exp gives 0/0 = NaN, as oneDNN does
        double sum = 0;
        for (index_t j = 0; j < D; ++j) sum += std::exp(static_cast<double>(element_cast<compute_t<T>>(xr[j * sx])) - mx);
        const double lse = std::log(sum), inv = 1.0 / sum;
        for (index_t j = 0; j < D; ++j) {
            const double v = static_cast<double>(element_cast<compute_t<T>>(xr[j * sx])) - mx;
            yr[j * sy] = element_cast<T>(static_cast<compute_t<T>>(log ? v - lse : std::exp(v) * inv));
        }
    });
}

template <class T>
bool softmax_onednn(const StridedView<const T>& x, const StridedView<T>& y, bool log) {
    // The primitive works on dense (rows, D): direct for dense views, through a buffer otherwise.
    const index_t D = x.shape[x.shape.rank - 1];
    const dnnl_dim_t dims[2] = {x.numel() / D, D};
    onednn::Key key;
    key.push(static_cast<std::int64_t>(onednn::Op::softmax) | (static_cast<std::int64_t>(onednn::data_type_of<T>()) << 8) |
             (std::int64_t{log} << 16));
    key.push(dims[0]);
    key.push(dims[1]);
    auto& cache = onednn::PrimitiveCache::instance();
    auto prim = cache.get(key, [&] {
        const dnnl_dim_t ds[2] = {D, 1};
        onednn::MemoryDesc md(2, dims, ds, onednn::data_type_of<T>());
        dnnl_primitive_desc_t pd = nullptr;
        dnnl_status_t st = onednn::softmax_pd(&pd, log, md, md, 1);
        if (st == dnnl_unimplemented) return std::make_shared<onednn::Primitive>();
        onednn::check(st, "softmax primitive descriptor creation");
        return onednn::Primitive::create(pd, {DNNL_ARG_SRC, DNNL_ARG_DST});
    });
    if (!prim->usable()) return false;
    // oneDNN's fast kernels want dense rows; other layouts go through a dense buffer (its
    // reference kernel would be far slower than the copies).
    const bool xd = x.contiguous(), yd = y.contiguous();
    const Strides dense = contiguous_strides(x.shape);
    std::vector<T> buf;
    if (!xd || !yd) buf.resize(static_cast<std::size_t>(x.numel()));
    if (!xd) copy_strided<T, T>(x, StridedView<T>{buf.data(), x.shape, dense});
    void* h[2] = {xd ? const_cast<T*>(x.data) : buf.data(), yd ? y.data : buf.data()};
    prim->execute(h);
    if (!yd) copy_strided<T, T>(StridedView<const T>{buf.data(), x.shape, dense}, y);
    cache.count_copy(static_cast<std::uint64_t>(!xd) + static_cast<std::uint64_t>(!yd));
    return true;
}

}  // namespace detail

/// Softmax (log = false) or log-softmax (log = true) over the last axis.
///   x is (..., D), y is (..., D), any strides; y may be x itself (same view) but must not
///   partially overlap it. T = float, bf16, double. Throws shape_error when the shapes differ.
template <class T>
void softmax_lastdim(StridedView<const T> x, StridedView<T> y, bool log) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>,
                  "softmax takes float, double or bf16");
    if (x.shape.rank < 1) throw shape_error("softmax: input must have rank >= 1, got shape " + x.shape.str());
    if (!(x.shape == y.shape))
        throw shape_error("softmax: output shape " + y.shape.str() + " differs from input shape " + x.shape.str());
    if (x.numel() == 0) return;
    if constexpr (!std::is_same_v<T, double>) {
        if (detail::softmax_onednn(x, y, log)) return;
        onednn::PrimitiveCache::instance().count_loop();
    }
    detail::softmax_rows_loop(x, y, log);
}

}  // namespace ward::backend::cpu
