#pragma once
// Parts of a bf16 graph computed in f32. bf16 keeps 8 bits of mantissa: a squared distance built as
// |u|^2 + |v|^2 - 2 u.v over a thousand dimensions loses every digit to cancellation. in_f32(f, xs)
// converts the inputs to f32, lets f record on an f32 tape of its own, and stands on the bf16 tape
// as one node whose backward runs f's tape and converts the input gradients back to bf16.
//
//   Var<bf16> d = ag::in_f32([](const auto& v) { return mmd(v[0], v[1]); }, {x, y});
//
// f takes a std::vector of Vars and returns one; it is written once, generic over the element type
// (`const auto&`). For f32 and f64 inputs in_f32 is f itself.

#include <type_traits>
#include <vector>

#include "ward/autograd/var.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::ag {

template <class F, FloatElement T, Device D>
Var<T, D> in_f32(F f, const std::vector<Var<T, D>>& xs) {
    if constexpr (std::is_same_v<T, compute_t<T>>) {
        return f(xs);
    } else {
        using W = compute_t<T>;
        std::vector<Var<W, D>> wide;
        for (const Var<T, D>& x : xs) wide.emplace_back(Tensor<W, D>(cast<W>(x.value())), grad_enabled() && x.requires_grad());
        Var<W, D> y = f(std::as_const(wide));
        return Var<T, D>::make(Tensor<T, D>(cast<T>(y.value())), xs, "in_f32", [y, wide](Node<T, D>& self) {
            if (!y.requires_grad()) return;
            // The f32 tape is kept (keep_graph) while the bf16 node lives, so that a backward that
            // keeps the bf16 graph can run this again; the leaves start from zero each time.
            for (const Var<W, D>& w : wide) w.zero_grad();
            y.backward(Tensor<W, D>(cast<W>(self.grad)), /*keep_graph=*/true);
            for (std::size_t i = 0; i < wide.size(); ++i)
                if (self.inputs[i] && self.inputs[i]->requires_grad && wide[i].grad().defined())
                    self.inputs[i]->accumulate(cast<T>(wide[i].grad()));
        });
    }
}

}  // namespace ward::ag
