#pragma once
// Differentiable fused element-wise expressions. ag::fused(f, a, b, ...) evaluates the expression
// f(a, b, ...) in one pass, and its backward evaluates, for each input that needs a gradient, one
// more pass: f on dual numbers seeded along that input gives g * df/dinput directly, so a user's
// own activation or gating written as one expression needs no hand-written derivative.
//
//   auto swish = [](auto x, auto beta) { return x * sigmoid(beta * x); };
//   Var y = ag::fused(swish, x, beta);   // forward: 1 pass; backward: 1 pass per input

#include <tuple>
#include <utility>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/core/dual.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::ag {

/// Reads a tensor as dual numbers (x, seed).
template <class S>
struct DualLeafEval {
    using value_type = Dual<compute_t<S>>;
    LeafEval<S> leaf;
    compute_t<S> seed;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) { leaf.seek(idx, outer); }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const { return {leaf.template load<Unit>(j), seed}; }
    template <class F>
    void for_each_strides(F&& f) { leaf.for_each_strides(f); }
};

template <FloatElement T, Device D>
struct DualLeaf : Expr<DualLeaf<T, D>> {
    using value_type = Dual<compute_t<T>>;
    using device = D;
    Tensor<T, D> t;
    bool seeded;
    Shape shape() const { return t.shape(); }
    DualLeafEval<T> evaluator(const Shape& out) const {
        return {t.evaluator(out), seeded ? compute_t<T>(1) : compute_t<T>(0)};
    }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const { return t.conflicts(p, o, s, st); }
};

/// The derivative part of a dual-valued expression.
template <class E>
struct DerivativeEval {
    using value_type = decltype(std::declval<typename E::value_type>().d);
    E e;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) { e.seek(idx, outer); }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const { return e.template load<Unit>(j).d; }
    template <class F>
    void for_each_strides(F&& f) { e.for_each_strides(f); }
};

template <Expression E>
struct DerivativeOf : Expr<DerivativeOf<E>> {
    static_assert(is_dual_v<value_t<E>>, "ward: DerivativeOf needs a dual-valued expression");
    using value_type = decltype(std::declval<value_t<E>>().d);
    using device = device_t<E>;
    E e;
    Shape shape() const { return e.shape(); }
    auto evaluator(const Shape& out) const { return DerivativeEval<decltype(e.evaluator(out))>{e.evaluator(out)}; }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const { return e.conflicts(p, o, s, st); }
};

namespace detail {
template <class F, class T, class D, std::size_t... I>
auto apply_dual(const F& f, const std::vector<Tensor<T, D>>& xs, std::size_t seeded, std::index_sequence<I...>) {
    return f(DualLeaf<T, D>{{}, xs[I], I == seeded}...);
}
template <class F, class T, class D, std::size_t... I>
Tensor<T, D> apply_plain(const F& f, const std::vector<Tensor<T, D>>& xs, std::index_sequence<I...>) {
    return Tensor<T, D>(f(xs[I]...) * compute_t<T>(1));
}
}  // namespace detail

/// y = f(inputs...) element-wise with broadcasting; f takes one expression per input and returns an
/// expression built from ward's element-wise functions and operators.
template <class F, FloatElement T, Device D, class... Rest>
Var<T, D> fused(F f, const Var<T, D>& first, const Rest&... rest) {
    static_assert((std::is_same_v<Rest, Var<T, D>> && ...), "ward: fused() inputs must be Vars of one type and device");
    constexpr std::size_t n = 1 + sizeof...(Rest);
    std::vector<Var<T, D>> inputs{first, rest...};
    std::vector<Tensor<T, D>> xs;
    for (const auto& v : inputs) xs.push_back(v.value());
    Tensor<T, D> y = detail::apply_plain(f, xs, std::make_index_sequence<n>{});
    return Var<T, D>::make(y, inputs, "fused", [f, xs](Node<T, D>& self) {
        for (std::size_t i = 0; i < n; ++i) {
            if (!self.inputs[i]->requires_grad) continue;
            auto dual = detail::apply_dual(f, xs, i, std::make_index_sequence<n>{});
            detail::accumulate_broadcast(self, i, self.grad * DerivativeOf<decltype(dual)>{{}, dual});
        }
    });
}

}  // namespace ward::ag
