#pragma once
// Multi-tensor kernels a device's Backend may provide: one call that updates a list of tensors
// (PyTorch's _foreach / fused optimisers). What the optimisers (optim/) hand over, and the
// has_* concept that tells whether Backend<D> has the kernel; where it does not, the optimiser
// updates each tensor with expressions on the same device.
//
//   Backend<D>::multi_tensor_adam(std::span<const AdamSlot<T>>, const AdamConstants<compute_t<T>>&)
//     every slot: n dense elements of param, grad, exp_avg, exp_avg_sq (and max_exp_avg_sq for
//     AMSGrad), updated in place by the arithmetic of optim::AdamRule::update, operation for
//     operation and rounding for rounding (each of its assignments rounds to T).

#include <concepts>
#include <span>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/tensor/fused.hpp"

namespace ward {

/// One tensor of a multi-tensor Adam/AdamW step. Pointers are the device's memory; the scalars are
/// the tensor's own (its group's lr and weight decay, its own step count), computed in double on
/// the host and rounded to compute_t<T>.
template <class T>
struct AdamSlot {
    using V = compute_t<T>;
    T* param = nullptr;
    const T* grad = nullptr;
    T* exp_avg = nullptr;
    T* exp_avg_sq = nullptr;
    T* max_exp_avg_sq = nullptr;  // AMSGrad only
    index_t n = 0;
    V decay = V(1);                   // AdamW: p = p * decay, with decay = 1 - lr * wd, when apply_decay
    V l2 = V(0);                      // Adam: g = g + l2 * p, with l2 = wd, when apply_l2
    V neg_step_size = V(0);           // -(lr / (1 - beta1^t))
    V bias_correction2_sqrt = V(1);  // sqrt(1 - beta2^t)
    bool apply_decay = false, apply_l2 = false;
};

/// What every tensor of one step shares (rounded to compute_t<T>).
template <class V>
struct AdamConstants {
    V one_minus_beta1 = V(0), beta2 = V(0), one_minus_beta2 = V(0), eps = V(0);
    bool amsgrad = false;
};

template <class T, class D>
concept has_multi_tensor_adam = detail::backend_complete<D>() &&
    requires(std::span<const AdamSlot<T>> slots, const AdamConstants<compute_t<T>>& k) {
        Backend<D>::multi_tensor_adam(slots, k);
    };

}  // namespace ward
