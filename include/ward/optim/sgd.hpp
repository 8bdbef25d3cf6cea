#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and (coupled) weight
// decay, step for step as torch.optim.SGD:
//   d = g + wd * p
//   buf = d                                   (first step: the buffer starts as the gradient)
//   buf = momentum * buf + (1 - dampening) * d   (later steps)
//   d = nesterov ? d + momentum * buf : buf      (when momentum != 0)
//   p = p - lr * d
// Each line is one fused pass over memory.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::optim {

struct SgdOptions {
    double lr = 1e-3;
    double momentum = 0.0;
    double dampening = 0.0;
    double weight_decay = 0.0;
    bool nesterov = false;
};

struct SgdRule {
    using options_type = SgdOptions;
    static constexpr std::string_view name = "sgd";
    static constexpr std::array<std::string_view, 1> buffer_names{"momentum_buffer"};

    static void validate(const SgdOptions& o) {
        auto bad = [](const std::string& what, double v) {
            return value_error("sgd: invalid " + what + " " + std::to_string(v));
        };
        if (!(o.lr >= 0)) throw bad("lr", o.lr);
        if (!(o.momentum >= 0)) throw bad("momentum", o.momentum);
        if (!(o.dampening >= 0 && o.dampening <= 1)) throw bad("dampening (must lie in [0, 1])", o.dampening);
        if (!(o.weight_decay >= 0)) throw bad("weight_decay", o.weight_decay);
        if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
            throw value_error("sgd: Nesterov momentum requires momentum > 0 and dampening = 0");
    }
    template <class O, class F>
    static void visit_hyper_parameters(O& o, F&& f) {
        f("lr", o.lr);
        f("momentum", o.momentum);
        f("dampening", o.dampening);
        f("weight_decay", o.weight_decay);
        f("nesterov", o.nesterov);
    }
    static bool buffer_expected(const SgdOptions& o, std::size_t, std::int64_t step) { return o.momentum != 0 && step > 0; }

    template <FloatElement T, Device D>
    static void update(const SgdOptions& o, Tensor<T, D>& p, const Tensor<T, D>& g, ParamState<T, D, 1>& s, double lr,
                       double weight_decay) {
        using V = compute_t<T>;
        const V neg_lr = static_cast<V>(-lr), wd = static_cast<V>(weight_decay);
        const V mu = static_cast<V>(o.momentum), keep = static_cast<V>(1.0 - o.dampening);
        // d = g + wd * p, written out in each branch so every update stays one pass.
        auto with_decay = [&](auto&& step_with) {
            if (weight_decay != 0) step_with(g + wd * p);
            else step_with(g);
        };
        if (o.momentum == 0) {
            with_decay([&](const auto& d) { p.assign(p + neg_lr * d); });
            return;
        }
        Tensor<T, D>& buf = s.buffers[0];
        with_decay([&](const auto& d) {
            if (!buf.defined()) {  // a copy of d, never an alias of the gradient
                if constexpr (is_tensor_v<std::remove_cvref_t<decltype(d)>>) buf = d.clone();
                else buf = Tensor<T, D>(d);
            } else buf.assign(buf * mu + keep * d);
            if (o.nesterov) p.assign(p + neg_lr * (d + mu * buf));
            else p.assign(p + neg_lr * buf);
        });
    }
};

/// torch.optim.SGD: Sgd<float> opt(params, {.lr = 0.1, .momentum = 0.9, .nesterov = true}).
template <FloatElement T, Device D = cpu>
using Sgd = BasicOptimizer<SgdRule, T, D>;

}  // namespace ward::optim
