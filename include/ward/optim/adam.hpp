#pragma once
// Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter), step for step as torch.optim.Adam/AdamW
// (the single-tensor CPU path), with optional AMSGrad:
//   AdamW: p = p * (1 - lr * wd)                 (decoupled decay, before the step)
//   Adam:  g = g + wd * p                        (L2 penalty folded into the gradient)
//   m = m + (1 - beta1) * (g - m)                (torch's lerp)
//   v = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                          (AMSGrad only; the denominator then uses vmax)
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// i.e. p -= lr * m_hat / (sqrt(v_hat) + eps), with eps added after the square root. Scalars are
// computed in double, as PyTorch computes them in Python, then rounded to the parameter's type.
// On a device whose Backend has a multi-tensor Adam kernel (tensor/multi_tensor.hpp), one step
// hands every parameter to it in one call (update_all); elsewhere each parameter is updated with
// expressions (update). Both take their scalars from step_scalars, so they compute the same.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/multi_tensor.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::optim {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    bool amsgrad = false;
};

/// AdamW's options: PyTorch's defaults, weight decay 1e-2.
struct AdamWOptions {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 1e-2;
    bool amsgrad = false;
};

/// Decoupled = false: Adam; true: AdamW.
template <bool Decoupled>
struct AdamRule {
    using options_type = std::conditional_t<Decoupled, AdamWOptions, AdamOptions>;
    static constexpr std::string_view name = Decoupled ? "adamw" : "adam";
    static constexpr std::array<std::string_view, 3> buffer_names{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};

    static void validate(const options_type& o) {
        auto bad = [](const std::string& what, double v) {
            return value_error(std::string(name) + ": invalid " + what + " " + std::to_string(v));
        };
        if (!(o.lr >= 0)) throw bad("lr", o.lr);
        if (!(o.beta1 >= 0 && o.beta1 < 1)) throw bad("beta1 (must lie in [0, 1))", o.beta1);
        if (!(o.beta2 >= 0 && o.beta2 < 1)) throw bad("beta2 (must lie in [0, 1))", o.beta2);
        if (!(o.eps >= 0)) throw bad("eps", o.eps);
        if (!(o.weight_decay >= 0)) throw bad("weight_decay", o.weight_decay);
    }
    template <class O, class F>
    static void visit_hyper_parameters(O& o, F&& f) {
        f("lr", o.lr);
        f("beta1", o.beta1);
        f("beta2", o.beta2);
        f("eps", o.eps);
        f("weight_decay", o.weight_decay);
        f("amsgrad", o.amsgrad);
    }
    static bool buffer_expected(const options_type& o, std::size_t b, std::int64_t step) {
        return step > 0 && (b < 2 || o.amsgrad);
    }

    /// One parameter's scalars for step `step` (pointers left null): what update and update_all use.
    template <FloatElement T>
    static AdamSlot<T> step_scalars(const options_type& o, double lr, double weight_decay, std::int64_t step) {
        using V = compute_t<T>;
        AdamSlot<T> k;
        k.apply_decay = Decoupled && weight_decay != 0;
        k.apply_l2 = !Decoupled && weight_decay != 0;
        if (k.apply_decay) k.decay = static_cast<V>(1.0 - lr * weight_decay);
        if (k.apply_l2) k.l2 = static_cast<V>(weight_decay);
        const double t = static_cast<double>(step);
        const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
        const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
        k.neg_step_size = static_cast<V>(-(lr / bias_correction1));
        k.bias_correction2_sqrt = static_cast<V>(std::sqrt(bias_correction2));
        return k;
    }
    template <class V>
    static AdamConstants<V> constants(const options_type& o) {
        return {static_cast<V>(1.0 - o.beta1), static_cast<V>(o.beta2), static_cast<V>(1.0 - o.beta2), static_cast<V>(o.eps),
                o.amsgrad};
    }

    template <FloatElement T, Device D>
    static void create_buffers(const options_type& o, const Tensor<T, D>& p, ParamState<T, D, 3>& s) {
        if (!s.buffers[0].defined()) s.buffers[0] = Tensor<T, D>::zeros(p.shape());
        if (!s.buffers[1].defined()) s.buffers[1] = Tensor<T, D>::zeros(p.shape());
        if (o.amsgrad && !s.buffers[2].defined()) s.buffers[2] = Tensor<T, D>::zeros(p.shape());
    }

    template <FloatElement T, Device D>
    static void update(const options_type& o, Tensor<T, D>& p, const Tensor<T, D>& g, ParamState<T, D, 3>& s, double lr,
                       double weight_decay) {
        create_buffers(o, p, s);
        Tensor<T, D>& m = s.buffers[0];
        Tensor<T, D>& v = s.buffers[1];
        Tensor<T, D>& vmax = s.buffers[2];
        const AdamSlot<T> k = step_scalars<T>(o, lr, weight_decay, s.step);
        const auto c = constants<compute_t<T>>(o);

        if (k.apply_decay) p.assign(p * k.decay);
        auto moments = [&](const auto& grad) {
            m.assign(m + c.one_minus_beta1 * (grad - m));
            v.assign(v * c.beta2 + c.one_minus_beta2 * grad * grad);
        };
        if (k.apply_l2) moments(g + k.l2 * p);
        else moments(g);

        if (o.amsgrad) {
            vmax.assign(ward::maximum(vmax, v));
            p.assign(p + k.neg_step_size * m / (ward::sqrt(vmax) / k.bias_correction2_sqrt + c.eps));
        } else {
            p.assign(p + k.neg_step_size * m / (ward::sqrt(v) / k.bias_correction2_sqrt + c.eps));
        }
    }

    /// Every parameter of a step in one call to the device's multi-tensor kernel. A parameter whose
    /// value, gradient or state is not dense takes update() instead; so does every parameter when
    /// two values share memory (the kernel would update them at once, update() one after another).
    template <FloatElement T, Device D>
        requires has_multi_tensor_adam<T, D>
    static void update_all(const options_type& o, std::span<ParamStep<T, D, 3>> all) {
        std::vector<AdamSlot<T>> slots;
        std::vector<ParamStep<T, D, 3>*> rest;
        slots.reserve(all.size());
        const bool overlap = values_overlap(all);
        for (ParamStep<T, D, 3>& e : all) {
            Tensor<T, D>& p = e.param->value;
            const Tensor<T, D>& g = e.param->grad;
            ParamState<T, D, 3>& s = *e.state;
            create_buffers(o, p, s);
            const bool dense = p.is_contiguous() && g.is_contiguous() && s.buffers[0].is_contiguous() &&
                               s.buffers[1].is_contiguous() && (!o.amsgrad || s.buffers[2].is_contiguous());
            if (overlap || !dense) {
                rest.push_back(&e);
                continue;
            }
            AdamSlot<T> k = step_scalars<T>(o, e.lr, e.weight_decay, s.step);
            k.param = p.data();
            k.grad = g.data();
            k.exp_avg = s.buffers[0].data();
            k.exp_avg_sq = s.buffers[1].data();
            k.max_exp_avg_sq = o.amsgrad ? s.buffers[2].data() : nullptr;
            k.n = p.numel();
            slots.push_back(k);
        }
        if (!slots.empty()) Backend<D>::multi_tensor_adam(std::span<const AdamSlot<T>>(slots), constants<compute_t<T>>(o));
        for (ParamStep<T, D, 3>* e : rest) update(o, e->param->value, e->param->grad, *e->state, e->lr, e->weight_decay);
    }

private:
    /// Whether the memory two parameter values can reach intersects (by their extreme offsets).
    template <FloatElement T, Device D>
    static bool values_overlap(std::span<ParamStep<T, D, 3>> all) {
        std::vector<std::pair<const T*, const T*>> spans;
        for (const auto& e : all) {
            const Tensor<T, D>& p = e.param->value;
            if (p.numel() == 0) continue;
            index_t lo = 0, hi = 0;
            for (int i = 0; i < p.rank(); ++i) {
                const index_t reach = (p.shape()[i] - 1) * p.strides()[i];
                (reach < 0 ? lo : hi) += reach;
            }
            spans.emplace_back(p.data() + lo, p.data() + hi + 1);
        }
        std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) { return std::less<>{}(a.first, b.first); });
        const T* reached = nullptr;  // the furthest end so far
        for (const auto& [begin, end] : spans) {
            if (reached && std::less<>{}(begin, reached)) return true;
            if (!reached || std::less<>{}(reached, end)) reached = end;
        }
        return false;
    }
};

/// torch.optim.Adam: Adam<float> opt(params, {.lr = 1e-3, .weight_decay = 0}).
template <FloatElement T, Device D = cpu>
using Adam = BasicOptimizer<AdamRule<false>, T, D>;
/// torch.optim.AdamW: AdamW<float> opt(params, {.lr = 1e-3, .weight_decay = 1e-2}).
template <FloatElement T, Device D = cpu>
using AdamW = BasicOptimizer<AdamRule<true>, T, D>;

}  // namespace ward::optim
