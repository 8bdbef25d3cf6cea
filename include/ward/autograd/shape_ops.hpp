#pragma once
// Views and joins on Vars: reshape, transpose, permute, slice, select, expand, (un)squeeze,
// concat and split. Forward values are views where the tensor layer makes them; gradients are
// the inverse view, or a scatter into zeros for slices.

#include <vector>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor/ops.hpp"

namespace ward::ag {

namespace detail {
/// Backward of a view op: input 0's gradient is view(this node's gradient). The node is done with
/// its gradient (unless it keeps it), so the view is handed over without a copy.
template <FloatElement T, Device D, class View>
void pass_view(Node<T, D>& self, View&& view) {
    Tensor<T, D> g = self.retain_grad ? self.grad : std::move(self.grad);
    Tensor<T, D> v = view(g);
    g = Tensor<T, D>();
    accumulate_fresh(*self.inputs[0], std::move(v));
}
}  // namespace detail

template <FloatElement T, Device D>
Var<T, D> reshape(const Var<T, D>& a, const Shape& to) {
    Shape in = a.shape();
    return Var<T, D>::make(a.value().reshape(to), {a}, "reshape",
                           [in](Node<T, D>& self) { detail::pass_view(self, [&](const Tensor<T, D>& g) { return g.reshape(in); }); });
}

template <FloatElement T, Device D>
Var<T, D> transpose(const Var<T, D>& a, int x = -2, int y = -1) {
    return Var<T, D>::make(a.value().transpose(x, y), {a}, op_name::transpose,
                           [x, y](Node<T, D>& self) { detail::pass_view(self, [&](const Tensor<T, D>& g) { return g.transpose(x, y); }); });
}

template <FloatElement T, Device D>
Var<T, D> permute(const Var<T, D>& a, const std::vector<int>& order) {
    std::vector<int> inverse(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) inverse[static_cast<std::size_t>(a.shape().axis(order[i]))] = static_cast<int>(i);
    return Var<T, D>::make(a.value().permute(order), {a}, "permute",
                           [inverse](Node<T, D>& self) { detail::pass_view(self, [&](const Tensor<T, D>& g) { return g.permute(inverse); }); });
}

template <FloatElement T, Device D>
Var<T, D> slice(const Var<T, D>& a, int axis, index_t start, index_t stop, index_t step = 1) {
    Shape in = a.shape();
    // The gradient is summed straight into the input's slice: the pieces of a split fill one buffer.
    return Var<T, D>::make(a.value().slice(axis, start, stop, step), {a}, "slice", [=](Node<T, D>& self) {
        Node<T, D>& input = *self.inputs[0];
        if (!input.grad.defined()) {
            input.grad = Tensor<T, D>::zeros(in);
            input.grad.slice(axis, start, stop, step).assign(self.grad);
        } else {
            Tensor<T, D> part = input.grad.slice(axis, start, stop, step);
            part.assign(part + self.grad);
        }
    });
}

template <FloatElement T, Device D>
Var<T, D> select(const Var<T, D>& a, int axis, index_t index) {
    int ax = a.shape().axis(axis);
    index_t i = index < 0 ? index + a.size(ax) : index;
    return reshape(slice(a, ax, i, i + 1), a.value().select(ax, i).shape());
}

template <FloatElement T, Device D>
Var<T, D> expand(const Var<T, D>& a, const Shape& to) {
    Shape in = a.shape();
    return Var<T, D>::make(a.value().expand(to), {a}, "expand",
                           [in](Node<T, D>& self) { self.inputs[0]->accumulate(sum_to(self.grad, in)); });
}

template <FloatElement T, Device D>
Var<T, D> unsqueeze(const Var<T, D>& a, int axis) {
    return reshape(a, a.value().unsqueeze(axis).shape());
}
template <FloatElement T, Device D>
Var<T, D> squeeze(const Var<T, D>& a, int axis) {
    return reshape(a, a.value().squeeze(axis).shape());
}

/// Joins Vars along `axis`; each input's gradient is its slice of the output gradient.
template <FloatElement T, Device D>
Var<T, D> concat(const std::vector<Var<T, D>>& parts, int axis) {
    std::vector<Tensor<T, D>> values;
    std::vector<index_t> sizes;
    for (const auto& p : parts) {
        values.push_back(p.value());
        sizes.push_back(p.size(axis));
    }
    Tensor<T, D> out = ward::concat(values, axis);
    int ax = out.shape().axis(axis);
    return Var<T, D>::make(out, parts, "concat", [sizes, ax](Node<T, D>& self) {
        auto pieces = ward::split(self.grad, sizes, ax);
        for (std::size_t i = 0; i < pieces.size(); ++i)
            if (self.inputs[i]->requires_grad) self.inputs[i]->accumulate(pieces[i]);
    });
}

/// Consecutive pieces along `axis` (views forward; each piece's gradient scatters back).
template <FloatElement T, Device D>
std::vector<Var<T, D>> split(const Var<T, D>& a, const std::vector<index_t>& sizes, int axis) {
    ward::split(a.value(), sizes, axis);  // validates the sizes
    std::vector<Var<T, D>> out;
    index_t start = 0;
    for (index_t s : sizes) {
        out.push_back(slice(a, axis, start, start + s));
        start += s;
    }
    return out;
}

}  // namespace ward::ag
