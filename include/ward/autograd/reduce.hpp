#pragma once
// Reductions on Vars: sum, mean, max (amax semantics: ties share the gradient), logsumexp.

#include "ward/autograd/var.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/reduce.hpp"

namespace ward::ag {

namespace detail {
/// The reduced result viewed with the reduced axis kept (size 1), so it broadcasts back.
template <class T, class D>
Tensor<T, D> keep_axis(const Tensor<T, D>& r, const Shape& in, int axis, bool all) {
    if (all) return r.reshape(Shape::of_rank(in.rank, 1));
    Shape s = in;
    s[axis] = 1;
    return r.reshape(s);
}
}  // namespace detail

/// Sum over everything (a scalar) or over one axis.
template <FloatElement T, Device D>
Var<T, D> sum(const Var<T, D>& a) {
    Shape in = a.shape();
    return Var<T, D>::make(ward::sum(a.value()), {a}, "sum", [in](Node<T, D>& self) {
        self.inputs[0]->accumulate(self.grad.reshape(Shape::of_rank(in.rank, 1)).expand(in));
    });
}
template <FloatElement T, Device D>
Var<T, D> sum(const Var<T, D>& a, int axis, bool keepdim = false) {
    Shape in = a.shape();
    int ax = in.axis(axis);
    return Var<T, D>::make(ward::sum(a.value(), ax, keepdim), {a}, "sum_axis", [in, ax](Node<T, D>& self) {
        self.inputs[0]->accumulate(detail::keep_axis(self.grad, in, ax, false).expand(in));
    });
}

template <FloatElement T, Device D>
Var<T, D> mean(const Var<T, D>& a) {
    return sum(a) / static_cast<double>(a.value().numel());
}
template <FloatElement T, Device D>
Var<T, D> mean(const Var<T, D>& a, int axis, bool keepdim = false) {
    return sum(a, axis, keepdim) / static_cast<double>(a.size(axis));
}

/// Maximum over one axis; the gradient goes to the maximal elements, shared equally at ties.
template <FloatElement T, Device D>
Var<T, D> max(const Var<T, D>& a, int axis, bool keepdim = false) {
    Shape in = a.shape();
    int ax = in.axis(axis);
    const Tensor<T, D>& x = a.value();
    Tensor<T, D> m = ward::max(x, ax, true);
    Tensor<T, D> out = keepdim ? m : m.squeeze(ax);
    return Var<T, D>::make(out, {a}, "max", [x, m, in, ax](Node<T, D>& self) {
        Tensor<T, D> hit = ward::eq(x, m);
        Tensor<T, D> count = ward::sum(hit, ax, true);
        self.inputs[0]->accumulate(hit / count * detail::keep_axis(self.grad, in, ax, false));
    });
}

/// log(sum(exp(x))) over one axis; d/dx = softmax(x).
template <FloatElement T, Device D>
Var<T, D> logsumexp(const Var<T, D>& a, int axis, bool keepdim = false) {
    Shape in = a.shape();
    int ax = in.axis(axis);
    const Tensor<T, D>& x = a.value();
    Tensor<T, D> l = ward::logsumexp(x, ax, true);
    Tensor<T, D> out = keepdim ? l : l.squeeze(ax);
    return Var<T, D>::make(out, {a}, "logsumexp", [x, l, in, ax](Node<T, D>& self) {
        self.inputs[0]->accumulate(ward::exp(x - l) * detail::keep_axis(self.grad, in, ax, false));
    });
}

}  // namespace ward::ag
