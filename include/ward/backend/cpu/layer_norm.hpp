#pragma once
// Layer norm and RMS norm over the last axis, on strided views:
//
//   x is (..., D), y is (..., D), gamma and beta are (D) contiguous or null (1 and 0)
//   layer norm: y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)  (biased var)
//   RMS norm:   y = x * rstd * gamma,                  rstd = 1 / sqrt(mean(x^2) + eps)
//
// Statistics for the backward pass: mean_out and rstd_out, when not null, receive one value per
// row (rows in row-major order of the leading dims, contiguous), typed compute_t<T>: float for
// f32 and bf16, double for f64.
//
// Layer norm f32 -> oneDNN layer_normalization primitive (it returns mean and variance; ward turns
// variance into rstd), cached per shape; non-dense views go through a dense buffer. f64, bf16 and
// RMS norm (oneDNN 2.6 has none) -> ward's two-pass row loops, accumulated in double.

#include <cmath>
#include <cstdint>
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
void check_norm_shapes(const char* op, const StridedView<const T>& x, const StridedView<T>& y, double eps) {
    if (x.shape.rank < 1) throw shape_error(std::string(op) + ": input must have rank >= 1, got shape " + x.shape.str());
    if (!(x.shape == y.shape))
        throw shape_error(std::string(op) + ": output shape " + y.shape.str() + " differs from input shape " +
                          x.shape.str());
    if (!(eps >= 0) || !std::isfinite(eps))
        throw value_error(std::string(op) + ": eps must be finite and >= 0, got " + std::to_string(eps));
}

template <class T>
void layer_norm_loop(const StridedView<const T>& x, const T* gamma, const T* beta, double eps, const StridedView<T>& y,
                     compute_t<T>* mean_out, compute_t<T>* rstd_out) {
    using A = compute_t<T>;
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    const index_t sx = x.strides[r - 1], sy = y.strides[r - 1];
    for_each_row(rows, D, [&](index_t q) {
        const T* xr = x.data + row_offset(x, q);
        T* yr = y.data + row_offset(y, q);
        double sum = 0;
        for (index_t j = 0; j < D; ++j) sum += static_cast<double>(element_cast<A>(xr[j * sx]));
        const double mean = sum / static_cast<double>(D);
        double ss = 0;
        for (index_t j = 0; j < D; ++j) {
            const double d = static_cast<double>(element_cast<A>(xr[j * sx])) - mean;
            ss += d * d;
        }
        const double rstd = 1.0 / std::sqrt(ss / static_cast<double>(D) + eps);
        for (index_t j = 0; j < D; ++j) {
            double v = (static_cast<double>(element_cast<A>(xr[j * sx])) - mean) * rstd;
            if (gamma) v *= static_cast<double>(element_cast<A>(gamma[j]));
            if (beta) v += static_cast<double>(element_cast<A>(beta[j]));
            yr[j * sy] = element_cast<T>(static_cast<A>(v));
        }
        if (mean_out) mean_out[q] = static_cast<A>(mean);
        if (rstd_out) rstd_out[q] = static_cast<A>(rstd);
    });
}

inline bool layer_norm_onednn(const StridedView<const float>& x, const float* gamma, const float* beta, double eps,
                              const StridedView<float>& y, float* mean_out, float* rstd_out) {
    const index_t D = x.shape[x.shape.rank - 1], rows = x.numel() / D;
    const bool training = mean_out || rstd_out;
    const unsigned flags = (gamma ? unsigned(dnnl_use_scale) : 0u) | (beta ? unsigned(dnnl_use_shift) : 0u);
    onednn::Key key;
    key.push(static_cast<std::int64_t>(onednn::Op::layer_norm) | (std::int64_t{training} << 8) |
             (std::int64_t{flags} << 16));
    key.push(rows);
    key.push(D);
    key.push_double(static_cast<double>(static_cast<float>(eps)));
    auto& cache = onednn::PrimitiveCache::instance();
    auto prim = cache.get(key, [&] {
        const dnnl_dim_t dims[2] = {rows, D}, ds[2] = {D, 1};
        onednn::MemoryDesc md(2, dims, ds, dnnl_f32);
        dnnl_primitive_desc_t pd = nullptr;
        dnnl_status_t st = onednn::layer_norm_pd(&pd, training, md, md, static_cast<float>(eps), flags);
        if (st == dnnl_unimplemented) return std::make_shared<onednn::Primitive>();
        onednn::check(st, "layer normalization primitive descriptor creation");
        int args[6] = {DNNL_ARG_SRC, DNNL_ARG_DST};
        int n = 2;
        if (training) args[n++] = DNNL_ARG_MEAN, args[n++] = DNNL_ARG_VARIANCE;
        if (gamma) args[n++] = DNNL_ARG_SCALE;
        if (beta) args[n++] = DNNL_ARG_SHIFT;
        switch (n) {  // Primitive::create takes an initializer list
            case 2: return onednn::Primitive::create(pd, {args[0], args[1]});
            case 3: return onednn::Primitive::create(pd, {args[0], args[1], args[2]});
            case 4: return onednn::Primitive::create(pd, {args[0], args[1], args[2], args[3]});
            case 5: return onednn::Primitive::create(pd, {args[0], args[1], args[2], args[3], args[4]});
            default: return onednn::Primitive::create(pd, {args[0], args[1], args[2], args[3], args[4], args[5]});
        }
    });
    if (!prim->usable()) return false;

    const bool xd = x.contiguous(), yd = y.contiguous();
    const Strides dense = contiguous_strides(x.shape);
    std::vector<float> buf, stats;
    if (!xd || !yd) buf.resize(static_cast<std::size_t>(x.numel()));
    if (!xd) copy_strided<float, float>(x, StridedView<float>{buf.data(), x.shape, dense});
    float* mean = mean_out;
    float* var = rstd_out;  // variance lands here and becomes rstd below
    if (training && (!mean || !var)) {
        stats.resize(2 * static_cast<std::size_t>(rows));
        if (!mean) mean = stats.data();
        if (!var) var = stats.data() + rows;
    }
    void* h[6];
    int n = 0;
    h[n++] = xd ? const_cast<float*>(x.data) : buf.data();
    h[n++] = yd ? y.data : buf.data();
    if (training) h[n++] = mean, h[n++] = var;
    if (gamma) h[n++] = const_cast<float*>(gamma);
    if (beta) h[n++] = const_cast<float*>(beta);
    prim->execute(h);
    if (!yd) copy_strided<float, float>(StridedView<const float>{buf.data(), x.shape, dense}, y);
    if (!xd || !yd) cache.count_copy(static_cast<std::uint64_t>(!xd) + static_cast<std::uint64_t>(!yd));
    if (rstd_out)
        for (index_t q = 0; q < rows; ++q) rstd_out[q] = 1.0f / std::sqrt(rstd_out[q] + static_cast<float>(eps));
    return true;
}

}  // namespace detail

/// Layer norm over the last axis: y = (x - mean) / sqrt(var + eps) * gamma + beta.
///   x, y are (..., D) with any strides (y may be x itself); gamma, beta are (D) or null.
///   mean_out, rstd_out: null, or (rows) buffers receiving each row's mean and 1/sqrt(var + eps).
/// T = float, bf16, double. Throws shape_error when x and y differ in shape.
template <class T>
void layer_norm_lastdim(StridedView<const T> x, const T* gamma, const T* beta, double eps, StridedView<T> y,
                        compute_t<T>* mean_out, compute_t<T>* rstd_out) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>,
                  "layer_norm takes float, double or bf16");
    detail::check_norm_shapes("layer_norm", x, y, eps);
    if (x.numel() == 0) return;
    if constexpr (std::is_same_v<T, float>) {
        if (detail::layer_norm_onednn(x, gamma, beta, eps, y, mean_out, rstd_out)) return;
        onednn::PrimitiveCache::instance().count_loop();
    }
    detail::layer_norm_loop(x, gamma, beta, eps, y, mean_out, rstd_out);
}

/// RMS norm over the last axis: y = x / sqrt(mean(x^2) + eps) * gamma.
///   x, y are (..., D) with any strides (y may be x itself); gamma is (D) or null.
///   rstd_out: null, or a (rows) buffer receiving each row's 1/sqrt(mean(x^2) + eps).
template <class T>
void rms_norm_lastdim(StridedView<const T> x, const T* gamma, double eps, StridedView<T> y, compute_t<T>* rstd_out) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>,
                  "rms_norm takes float, double or bf16");
    detail::check_norm_shapes("rms_norm", x, y, eps);
    if (x.numel() == 0) return;
    using A = compute_t<T>;
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    const index_t sx = x.strides[r - 1], sy = y.strides[r - 1];
    detail::for_each_row(rows, D, [&](index_t q) {
        const T* xr = x.data + detail::row_offset(x, q);
        T* yr = y.data + detail::row_offset(y, q);
        double ss = 0;
        for (index_t j = 0; j < D; ++j) {
            const double v = static_cast<double>(element_cast<A>(xr[j * sx]));
            ss += v * v;
        }
        const double rstd = 1.0 / std::sqrt(ss / static_cast<double>(D) + eps);
        for (index_t j = 0; j < D; ++j) {
            double v = static_cast<double>(element_cast<A>(xr[j * sx])) * rstd;
            if (gamma) v *= static_cast<double>(element_cast<A>(gamma[j]));
            yr[j * sy] = element_cast<T>(static_cast<A>(v));
        }
        if (rstd_out) rstd_out[q] = static_cast<A>(rstd);
    });
}

}  // namespace ward::backend::cpu
