#pragma once
// The heavy ops: matmul, softmax, layer and RMS normalisation, embedding gather, concat and split.
// Each is an evaluated node: it checks shapes, allocates the result and hands contiguous work to
// the device's Backend (oneDNN on the CPU, cuBLASLt on the GPU), with bias and activation tails
// fused into the kernel where the backend allows. Operands may be expressions; they are
// evaluated first.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward {

/// Element-wise tail fused into a matmul.
enum class Activation { none, relu, gelu_tanh };

/// Heavy-op kernels of device D; specialised by each backend (backend/cpu/backend.hpp,
/// backend/cuda/backend.cuh). Members take strided views and write preallocated outputs.
template <Device D>
struct Backend;

/// A tensor for an operand: tensors pass as handles, other expressions are evaluated.
template <Expression E>
auto materialise(const E& e) {
    using V = value_t<E>;
    if constexpr (is_tensor_v<std::remove_cvref_t<E>>) return e;
    else return Tensor<V, device_t<E>>(e);
}

namespace detail {
inline Shape matmul_shape(const Shape& a, const Shape& b) {
    if (a.rank < 2 || b.rank < 2)
        throw shape_error("matmul: operands need rank >= 2, got " + a.str() + " @ " + b.str());
    if (a[a.rank - 1] != b[b.rank - 2])
        throw shape_error("matmul: inner dimensions differ: " + a.str() + " @ " + b.str());
    Shape batch_a = Shape::of_rank(a.rank - 2), batch_b = Shape::of_rank(b.rank - 2);
    for (int i = 0; i < a.rank - 2; ++i) batch_a[i] = a[i];
    for (int i = 0; i < b.rank - 2; ++i) batch_b[i] = b[i];
    Shape batch;
    try {
        batch = broadcast_shapes(batch_a, batch_b);
    } catch (const shape_error&) {
        throw shape_error("matmul: batch dimensions do not broadcast: " + a.str() + " @ " + b.str());
    }
    Shape out = Shape::of_rank(batch.rank + 2);
    for (int i = 0; i < batch.rank; ++i) out[i] = batch[i];
    out[batch.rank] = a[a.rank - 2];
    out[batch.rank + 1] = b[b.rank - 1];
    return out;
}

/// x viewed with leading size-1 axes up to `rank` (so batch axes line up for the backend).
template <class T, Device D>
Tensor<T, D> lift_rank(const Tensor<T, D>& x, int rank) {
    Tensor<T, D> y = x;
    while (y.rank() < rank) y = y.unsqueeze(0);
    return y;
}

template <FloatElement T, Device D>
Tensor<T, D> matmul_tensors(const Tensor<T, D>& a, const Tensor<T, D>& b, const Tensor<T, D>* bias, Activation act) {
    Shape out = matmul_shape(a.shape(), b.shape());
    Tensor<T, D> bias_c;
    if (bias) {
        if (bias->rank() != 1 || bias->size(0) != out[out.rank - 1])
            throw shape_error("matmul: bias of shape " + bias->shape().str() + " does not match output " + out.str());
        bias_c = bias->contiguous();
    }
    auto c = Tensor<T, D>::empty(out);
    Backend<D>::matmul(lift_rank(a, out.rank).cview(), lift_rank(b, out.rank).cview(),
                       bias ? static_cast<const T*>(bias_c.data()) : static_cast<const T*>(nullptr), act, c.view());
    return c;
}
}  // namespace detail

/// a @ b over the last two axes, batch axes broadcast (NumPy rules). Transposed views are passed
/// to the backend as strides, not copied.
template <Expression A, Expression B>
auto matmul(const A& a, const B& b) {
    auto ta = materialise(a);
    return detail::matmul_tensors(ta, materialise(b), static_cast<const decltype(ta)*>(nullptr), Activation::none);
}

/// activation(a @ b + bias), with bias (N) and the activation fused into the matmul kernel.
template <Expression A, Expression B, Expression C>
auto matmul(const A& a, const B& b, const C& bias, Activation act = Activation::none) {
    auto ta = materialise(a);
    auto tbias = materialise(bias);
    return detail::matmul_tensors(ta, materialise(b), &tbias, act);
}

/// softmax over the last axis.
template <FloatElement T, Device D>
Tensor<T, D> softmax(const Tensor<T, D>& x) {
    if (x.rank() < 1) throw shape_error("softmax: needs rank >= 1, got a scalar");
    auto y = Tensor<T, D>::empty(x.shape());
    Backend<D>::softmax(x.cview(), y.view(), false);
    return y;
}

/// log(softmax(x)) over the last axis, computed stably (not as log of softmax).
template <FloatElement T, Device D>
Tensor<T, D> log_softmax(const Tensor<T, D>& x) {
    if (x.rank() < 1) throw shape_error("log_softmax: needs rank >= 1, got a scalar");
    auto y = Tensor<T, D>::empty(x.shape());
    Backend<D>::softmax(x.cview(), y.view(), true);
    return y;
}

/// Statistics a normalisation saves for its backward pass: one value per row, in the compute type.
template <FloatElement T, Device D>
struct NormStats {
    Tensor<compute_t<T>, D> mean;  // undefined for RMS norm
    Tensor<compute_t<T>, D> rstd;  // 1 / sqrt(var + eps)
};

namespace detail {
template <class T, Device D>
void check_norm_params(const char* op, const Tensor<T, D>& x, const Tensor<T, D>* p, const char* name) {
    if (p && p->defined() && (p->rank() != 1 || p->size(0) != x.size(-1)))
        throw shape_error(std::string(op) + ": " + name + " of shape " + p->shape().str() + " does not match the last axis of " +
                          x.shape().str());
}
template <class T, Device D>
Shape rows_shape(const Tensor<T, D>& x) {
    Shape s = x.shape();
    --s.rank;
    return s;
}
}  // namespace detail

/// Layer normalisation over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta.
/// gamma and beta may be undefined tensors (no affine part). `stats`, when given, receives the
/// per-row mean and rstd.
template <FloatElement T, Device D>
Tensor<T, D> layer_norm(const Tensor<T, D>& x, const Tensor<T, D>& gamma, const Tensor<T, D>& beta, double eps = 1e-5,
                        NormStats<T, D>* stats = nullptr) {
    if (x.rank() < 1) throw shape_error("layer_norm: needs rank >= 1, got a scalar");
    detail::check_norm_params("layer_norm", x, &gamma, "gamma");
    detail::check_norm_params("layer_norm", x, &beta, "beta");
    auto y = Tensor<T, D>::empty(x.shape());
    Tensor<T, D> g = gamma.defined() ? gamma.contiguous() : Tensor<T, D>(), b = beta.defined() ? beta.contiguous() : Tensor<T, D>();
    compute_t<T>* mean = nullptr;
    compute_t<T>* rstd = nullptr;
    if (stats) {
        stats->mean = Tensor<compute_t<T>, D>::empty(detail::rows_shape(x));
        stats->rstd = Tensor<compute_t<T>, D>::empty(detail::rows_shape(x));
        mean = stats->mean.data();
        rstd = stats->rstd.data();
    }
    Backend<D>::layer_norm(x.cview(), g.data(), b.data(), eps, y.view(), mean, rstd);
    return y;
}

/// RMS normalisation over the last axis: x / sqrt(mean(x^2) + eps) * gamma (Llama's RMSNorm).
template <FloatElement T, Device D>
Tensor<T, D> rms_norm(const Tensor<T, D>& x, const Tensor<T, D>& gamma, double eps = 1e-6, NormStats<T, D>* stats = nullptr) {
    if (x.rank() < 1) throw shape_error("rms_norm: needs rank >= 1, got a scalar");
    detail::check_norm_params("rms_norm", x, &gamma, "gamma");
    auto y = Tensor<T, D>::empty(x.shape());
    Tensor<T, D> g = gamma.defined() ? gamma.contiguous() : Tensor<T, D>();
    compute_t<T>* rstd = nullptr;
    if (stats) {
        stats->rstd = Tensor<compute_t<T>, D>::empty(detail::rows_shape(x));
        rstd = stats->rstd.data();
    }
    Backend<D>::rms_norm(x.cview(), g.data(), eps, y.view(), rstd);
    return y;
}

/// Rows of `table` (V, E) picked by `ids` (any shape) -> ids.shape + (E). An id outside [0, V)
/// throws index_error naming it and its position.
template <FloatElement T, Device D>
Tensor<T, D> embedding(const Tensor<T, D>& table, const Tensor<std::int64_t, D>& ids) {
    if (table.rank() != 2) throw shape_error("embedding: table must be (V, E), got " + table.shape().str());
    if (ids.rank() + 1 > max_rank) throw shape_error("embedding: ids of shape " + ids.shape().str() + " have too many axes");
    Shape out = Shape::of_rank(ids.rank() + 1);
    for (int i = 0; i < ids.rank(); ++i) out[i] = ids.shape()[i];
    out[ids.rank()] = table.size(1);
    auto y = Tensor<T, D>::empty(out);
    Tensor<std::int64_t, D> flat = ids.contiguous();
    Backend<D>::embedding_gather(table.cview(), flat.data(), flat.numel(), y.view_as(Shape{flat.numel(), table.size(1)}).view());
    return y;
}

/// table_grad (V, E) += the rows of out_grad (ids.shape + (E)) at their ids: the gradient of
/// embedding(), deterministic (rows accumulate in id order).
template <FloatElement T, Device D>
void embedding_backward(const Tensor<T, D>& out_grad, const Tensor<std::int64_t, D>& ids, Tensor<T, D>& table_grad) {
    if (table_grad.rank() != 2 || !table_grad.is_contiguous())
        throw shape_error("embedding_backward: table gradient must be a contiguous (V, E), got " + table_grad.shape().str());
    Tensor<std::int64_t, D> flat = ids.contiguous();
    Tensor<T, D> g = out_grad.contiguous().reshape(Shape{flat.numel(), table_grad.size(1)});
    Backend<D>::embedding_scatter_add(g.cview(), flat.data(), flat.numel(), table_grad.view());
}

/// Joins tensors along `axis`; all other extents must agree.
template <FloatElement T, Device D>
Tensor<T, D> concat(const std::vector<Tensor<T, D>>& parts, int axis) {
    if (parts.empty()) throw shape_error("concat: no tensors given");
    const Shape& first = parts[0].shape();
    int a = first.axis(axis);
    Shape out = first;
    out[a] = 0;
    for (const auto& p : parts) {
        if (p.rank() != first.rank)
            throw shape_error("concat: tensor of shape " + p.shape().str() + " has another rank than " + first.str());
        for (int d = 0; d < first.rank; ++d)
            if (d != a && p.shape()[d] != first[d])
                throw shape_error("concat: tensor of shape " + p.shape().str() + " does not match " + first.str() +
                                  " outside axis " + std::to_string(a));
        out[a] += p.shape()[a];
    }
    auto y = Tensor<T, D>::empty(out);
    std::vector<StridedView<const T>> views;
    views.reserve(parts.size());
    for (const auto& p : parts) views.push_back(p.cview());
    Backend<D>::concat(std::span<const StridedView<const T>>(views), a, y.view());
    return y;
}

/// Views of consecutive pieces of `x` along `axis` with the given sizes (no copies).
template <Element T, Device D>
std::vector<Tensor<T, D>> split(const Tensor<T, D>& x, const std::vector<index_t>& sizes, int axis) {
    int a = x.shape().axis(axis);
    index_t total = 0;
    for (index_t s : sizes) {
        if (s < 0) throw shape_error("split: negative size " + std::to_string(s));
        total += s;
    }
    if (total != x.size(a))
        throw shape_error("split: sizes add up to " + std::to_string(total) + " but axis " + std::to_string(a) + " of " +
                          x.shape().str() + " has " + std::to_string(x.size(a)));
    std::vector<Tensor<T, D>> out;
    index_t start = 0;
    for (index_t s : sizes) {
        out.push_back(x.slice(a, start, start + s));
        start += s;
    }
    return out;
}

}  // namespace ward
