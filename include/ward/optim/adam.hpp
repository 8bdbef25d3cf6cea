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

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/tensor/expr.hpp"
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

    template <FloatElement T, Device D>
    static void update(const options_type& o, Tensor<T, D>& p, const Tensor<T, D>& g, ParamState<T, D, 3>& s, double lr,
                       double weight_decay) {
        using V = compute_t<T>;
        Tensor<T, D>& m = s.buffers[0];
        Tensor<T, D>& v = s.buffers[1];
        Tensor<T, D>& vmax = s.buffers[2];
        if (!m.defined()) m = Tensor<T, D>::zeros(p.shape());
        if (!v.defined()) v = Tensor<T, D>::zeros(p.shape());
        if (o.amsgrad && !vmax.defined()) vmax = Tensor<T, D>::zeros(p.shape());

        if (Decoupled && weight_decay != 0) p.assign(p * static_cast<V>(1.0 - lr * weight_decay));

        const V one_minus_b1 = static_cast<V>(1.0 - o.beta1), b2 = static_cast<V>(o.beta2),
                one_minus_b2 = static_cast<V>(1.0 - o.beta2);
        auto moments = [&](const auto& grad) {
            m.assign(m + one_minus_b1 * (grad - m));
            v.assign(v * b2 + one_minus_b2 * grad * grad);
        };
        if (!Decoupled && weight_decay != 0) moments(g + static_cast<V>(weight_decay) * p);
        else moments(g);

        const double t = static_cast<double>(s.step);
        const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
        const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
        const V neg_step_size = static_cast<V>(-(lr / bias_correction1));
        const V bc2_sqrt = static_cast<V>(std::sqrt(bias_correction2)), eps = static_cast<V>(o.eps);
        if (o.amsgrad) {
            vmax.assign(ward::maximum(vmax, v));
            p.assign(p + neg_step_size * m / (ward::sqrt(vmax) / bc2_sqrt + eps));
        } else {
            p.assign(p + neg_step_size * m / (ward::sqrt(v) / bc2_sqrt + eps));
        }
    }
};

/// torch.optim.Adam: Adam<float> opt(params, {.lr = 1e-3, .weight_decay = 0}).
template <FloatElement T, Device D = cpu>
using Adam = BasicOptimizer<AdamRule<false>, T, D>;
/// torch.optim.AdamW: AdamW<float> opt(params, {.lr = 1e-3, .weight_decay = 1e-2}).
template <FloatElement T, Device D = cpu>
using AdamW = BasicOptimizer<AdamRule<true>, T, D>;

}  // namespace ward::optim
