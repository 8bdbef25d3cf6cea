#pragma once
// Element-wise ops on Vars, each forward and backward side by side. Forwards are one fused pass;
// so is each input's backward. Broadcast operands get their gradients summed back to their shape.

#include <utility>

#include "ward/autograd/var.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/reduce.hpp"

namespace ward::ag {

/// Sums a gradient over the axes along which an operand of shape `to` was broadcast.
template <FloatElement T, Device D>
Tensor<T, D> sum_to(const Tensor<T, D>& g, const Shape& to) {
    if (g.shape() == to) return g;
    Tensor<T, D> r = g;
    while (r.rank() > to.rank) r = ward::sum(r, 0);
    for (int d = 0; d < to.rank; ++d)
        if (to[d] == 1 && r.shape()[d] != 1) r = ward::sum(r, d, true);
    if (!(r.shape() == to)) throw shape_error("autograd: cannot reduce gradient " + g.shape().str() + " to " + to.str());
    return r;
}

namespace detail {
/// Hands a freshly computed gradient g (a new tensor no one else holds) to `in`: it becomes the
/// gradient where none has flowed yet, saving the copy accumulate() makes of a tensor; else it is
/// summed in.
template <class N, class T, class D>
void accumulate_fresh(N& in, Tensor<T, D>&& g) {
    // A leaf's gradient is what optimisers and users read: it is kept contiguous. An intermediate's
    // may be any view that covers its storage once (a permutation), since backward functions read
    // gradients through strides and later ones are summed into it in place.
    auto covers_storage_once = [&] {
        if (static_cast<std::size_t>(g.numel()) != g.storage()->size()) return false;
        for (int d = 0; d < g.rank(); ++d)
            if (g.size(d) > 1 && g.stride(d) == 0) return false;
        return true;
    };
    if (!in.grad.defined() && g.shape() == in.value.shape() && g.storage() && g.storage().use_count() == 1 &&
        (g.is_contiguous() || (!in.is_leaf() && covers_storage_once())))
        in.grad = std::move(g);
    else
        in.accumulate(g);
}

/// Accumulates g (an expression of the output's shape) into input i, reduced to its shape.
template <class N, Expression E>
void accumulate_broadcast(N& self, std::size_t i, const E& g) {
    N& in = *self.inputs[i];
    if (!in.requires_grad) return;
    if (g.shape() == in.value.shape()) {
        in.accumulate(g);
    } else {
        using T = typename decltype(in.value)::element_type;
        using D = typename decltype(in.value)::device;
        in.accumulate(sum_to(Tensor<T, D>(g), in.value.shape()));
    }
}
}  // namespace detail

// ---- unary ---------------------------------------------------------------------------------
// Each: y = f(x); dx = g * f'(x) written with x (the input) and/or y (the output).
#define WARD_AG_UNARY(name, forward, grad_expr)                                                       \
    template <FloatElement T, Device D>                                                               \
    Var<T, D> name(const Var<T, D>& a) {                                                              \
        const Tensor<T, D>& x = a.value();                                                            \
        Tensor<T, D> y = forward;                                                                     \
        return Var<T, D>::make(y, {a}, #name, [x, y](Node<T, D>& self) {                             \
            const Tensor<T, D>& g = self.grad;                                                        \
            (void)x;                                                                                  \
            (void)y;                                                                                  \
            self.inputs[0]->accumulate(grad_expr);                                                    \
        });                                                                                           \
    }

WARD_AG_UNARY(neg, -x, -g)
WARD_AG_UNARY(exp, ward::exp(x), g * y)
WARD_AG_UNARY(log, ward::log(x), g / x)
WARD_AG_UNARY(sqrt, ward::sqrt(x), g * 0.5 / y)
WARD_AG_UNARY(rsqrt, ward::rsqrt(x), g * -0.5 * y * y * y)
WARD_AG_UNARY(tanh, ward::tanh(x), g * (1 - y * y))
WARD_AG_UNARY(sigmoid, ward::sigmoid(x), g * y * (1 - y))
WARD_AG_UNARY(relu, ward::relu(x), g * (x > 0))
WARD_AG_UNARY(gelu_tanh, ward::gelu_tanh(x), g * ward::gelu_tanh_grad(x))
WARD_AG_UNARY(abs, ward::abs(x), g * ward::sign(x))
WARD_AG_UNARY(square, ward::square(x), g * 2 * x)
// log(sigmoid(x)) = -(max(-x, 0) + log(1 + exp(-|x|))), finite for any finite x; d/dx = sigmoid(-x).
WARD_AG_UNARY(log_sigmoid, -(ward::relu(-x) + ward::log1p(ward::exp(-ward::abs(x)))), g * ward::sigmoid(-x))
#undef WARD_AG_UNARY

template <FloatElement T, Device D>
Var<T, D> operator-(const Var<T, D>& a) {
    return neg(a);
}

/// x^p for a scalar exponent.
template <FloatElement T, Device D>
Var<T, D> pow(const Var<T, D>& a, double p) {
    const Tensor<T, D>& x = a.value();
    return Var<T, D>::make(ward::pow(x, p), {a}, "pow", [x, p](Node<T, D>& self) {
        self.inputs[0]->accumulate(self.grad * p * ward::pow(x, p - 1));
    });
}

/// min(max(x, lo), hi); the gradient passes where lo <= x <= hi.
template <FloatElement T, Device D>
Var<T, D> clamp(const Var<T, D>& a, double lo, double hi) {
    const Tensor<T, D>& x = a.value();
    return Var<T, D>::make(ward::clamp(x, lo, hi), {a}, "clamp", [x, lo, hi](Node<T, D>& self) {
        using V = compute_t<T>;
        self.inputs[0]->accumulate(self.grad * (x >= V(lo)) * (x <= V(hi)));
    });
}

// ---- binary (broadcasting) -----------------------------------------------------------------
template <FloatElement T, Device D>
Var<T, D> operator+(const Var<T, D>& a, const Var<T, D>& b) {
    return Var<T, D>::make(a.value() + b.value(), {a, b}, "add", [](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, self.grad);
        detail::accumulate_broadcast(self, 1, self.grad);
    });
}

template <FloatElement T, Device D>
Var<T, D> operator-(const Var<T, D>& a, const Var<T, D>& b) {
    return Var<T, D>::make(a.value() - b.value(), {a, b}, "sub", [](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, self.grad);
        detail::accumulate_broadcast(self, 1, -self.grad);
    });
}

template <FloatElement T, Device D>
Var<T, D> operator*(const Var<T, D>& a, const Var<T, D>& b) {
    const Tensor<T, D>&x = a.value(), &y = b.value();
    return Var<T, D>::make(x * y, {a, b}, "mul", [x, y](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, self.grad * y);
        detail::accumulate_broadcast(self, 1, self.grad * x);
    });
}

template <FloatElement T, Device D>
Var<T, D> operator/(const Var<T, D>& a, const Var<T, D>& b) {
    const Tensor<T, D>&x = a.value(), &y = b.value();
    return Var<T, D>::make(x / y, {a, b}, "div", [x, y](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, self.grad / y);
        detail::accumulate_broadcast(self, 1, -self.grad * x / (y * y));
    });
}

/// Element-wise maximum; at ties each operand gets half the gradient.
template <FloatElement T, Device D>
Var<T, D> maximum(const Var<T, D>& a, const Var<T, D>& b) {
    const Tensor<T, D>&x = a.value(), &y = b.value();
    return Var<T, D>::make(ward::maximum(x, y), {a, b}, "maximum", [x, y](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, self.grad * ((x > y) + 0.5 * ward::eq(x, y)));
        detail::accumulate_broadcast(self, 1, self.grad * ((y > x) + 0.5 * ward::eq(x, y)));
    });
}

/// cond != 0 ? a : b; cond is a constant mask (no gradient).
template <FloatElement T, Device D>
Var<T, D> where(const Tensor<T, D>& cond, const Var<T, D>& a, const Var<T, D>& b) {
    return Var<T, D>::make(ward::where(cond, a.value(), b.value()), {a, b}, "where", [cond](Node<T, D>& self) {
        detail::accumulate_broadcast(self, 0, ward::where(cond, self.grad, 0.0));
        detail::accumulate_broadcast(self, 1, ward::where(cond, 0.0, self.grad));
    });
}

// ---- with a scalar ------------------------------------------------------------------------
template <class S>
concept Scalar = std::is_arithmetic_v<S>;

template <FloatElement T, Device D, Scalar S>
Var<T, D> operator+(const Var<T, D>& a, S s) {
    return Var<T, D>::make(a.value() + s, {a}, "add_scalar", [](Node<T, D>& self) { self.inputs[0]->accumulate(self.grad); });
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator+(S s, const Var<T, D>& a) {
    return a + s;
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator-(const Var<T, D>& a, S s) {
    return a + (-s);
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator-(S s, const Var<T, D>& a) {
    return Var<T, D>::make(s - a.value(), {a}, "rsub_scalar", [](Node<T, D>& self) { self.inputs[0]->accumulate(-self.grad); });
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator*(const Var<T, D>& a, S s) {
    return Var<T, D>::make(a.value() * s, {a}, "mul_scalar",
                           [s](Node<T, D>& self) { self.inputs[0]->accumulate(self.grad * s); });
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator*(S s, const Var<T, D>& a) {
    return a * s;
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator/(const Var<T, D>& a, S s) {
    return a * (1.0 / static_cast<double>(s));
}
template <FloatElement T, Device D, Scalar S>
Var<T, D> operator/(S s, const Var<T, D>& a) {
    const Tensor<T, D>& x = a.value();
    return Var<T, D>::make(s / x, {a}, "rdiv_scalar",
                           [x, s](Node<T, D>& self) { self.inputs[0]->accumulate(-self.grad * s / (x * x)); });
}

}  // namespace ward::ag
