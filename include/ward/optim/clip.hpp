#pragma once
// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2): the norm of
// all gradients taken together; when it exceeds max_norm every gradient is scaled in place by
// max_norm / (norm + 1e-6). A NaN or infinite norm throws (naming the first offending parameter)
// instead of scaling: an optimiser must never step on it.

#include <cmath>
#include <string>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/optim/parameter.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/reduce.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::optim {

/// sqrt of the sum of squares of every gradient element, accumulated in double.
template <FloatElement T, Device D>
double global_grad_norm(const ParameterList<T, D>& params) {
    double total = 0;
    for (const auto& p : params) {
        if (p.grad.numel() == 0) continue;
        double sq = ward::sum(ward::square(ward::cast<double>(p.grad))).item();
        if (!std::isfinite(sq))
            throw value_error("clip_grad_norm: gradient of parameter '" + p.name + "' is not finite (sum of squares = " +
                              std::to_string(sq) + ")");
        total += sq;
    }
    return std::sqrt(total);
}

/// Scales the gradients so that their global norm is at most max_norm; returns the norm before
/// clipping. value_error when max_norm is not positive or the norm is not finite.
template <FloatElement T, Device D>
double clip_grad_norm(const ParameterList<T, D>& params, double max_norm) {
    if (!(max_norm > 0) || !std::isfinite(max_norm))
        throw value_error("clip_grad_norm: max_norm must be positive and finite, got " + std::to_string(max_norm));
    const double norm = global_grad_norm(params);
    if (!std::isfinite(norm)) throw value_error("clip_grad_norm: global gradient norm overflows (" + std::to_string(norm) + ")");
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        using V = compute_t<T>;
        for (const auto& p : params) {
            Tensor<T, D> g = p.grad;  // a handle to the same memory: scaled in place
            g.assign(g * static_cast<V>(coef));
        }
    }
    return norm;
}

}  // namespace ward::optim
