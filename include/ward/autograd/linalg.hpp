#pragma once
// matmul and linear on Vars. Backward passes are matmuls too, with transposes as strides:
//   out = a @ b        da = g @ b^T      db = a^T @ g      (summed over broadcast batch axes)
//   y = act(x W^T + b) gz = g * act'(z)  dx = gz @ W       dW = gz^T x      db = sum_rows(gz)

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"

namespace ward::ag {

namespace detail {
/// dW += gz^T x, summed by the device's gemm straight into the weight's gradient storage: wn is the
/// weight input (out, in) of linear, g is (rows, out) and x (rows, in), both dense. When wn is a
/// transpose of a 2-D leaf (GPT-2's Conv1D weights, stored (in, out)), the sum goes into that
/// leaf's gradient as x^T gz, in its own layout: the transpose node is passed by (its backward
/// would only transpose the same sum), which is exact because gradients add linearly. Returns
/// false where no such dense gradient is there to sum into.
template <FloatElement T, Device D>
bool accumulate_weight_grad(Node<T, D>& wn, const Tensor<T, D>& g, const Tensor<T, D>& x) {
    const index_t out = g.size(1), in = x.size(1);
    auto dense = [](const Node<T, D>& n) {
        return n.grad.defined() && n.grad.storage() && n.grad.is_contiguous() && n.grad.numel() == n.value.numel();
    };
    if (dense(wn)) {
        ward::gemm_accumulate(g, true, x, false, wn.grad.reshape(Shape{out, in}));
        return true;
    }
    if (wn.op != op_name::transpose || wn.retain_grad || wn.grad.defined() || wn.inputs.size() != 1 || !wn.inputs[0])
        return false;
    Node<T, D>& leaf = *wn.inputs[0];
    const Tensor<T, D>& v = leaf.value;
    if (!leaf.requires_grad || v.rank() != 2 || v.size(0) != in || v.size(1) != out || !dense(leaf) ||
        wn.value.data() != v.data() || wn.value.strides()[0] != v.strides()[1] || wn.value.strides()[1] != v.strides()[0])
        return false;
    ward::gemm_accumulate(x, true, g, false, leaf.grad);
    return true;
}
}  // namespace detail

/// a @ b over the last two axes, batch axes broadcast.
template <FloatElement T, Device D>
Var<T, D> matmul(const Var<T, D>& a, const Var<T, D>& b) {
    const Tensor<T, D>&x = a.value(), &y = b.value();
    return Var<T, D>::make(ward::matmul(x, y), {a, b}, "matmul", [x, y](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        if (self.inputs[0]->requires_grad) detail::accumulate_fresh(*self.inputs[0], sum_to(ward::matmul(g, y.transpose()), x.shape()));
        if (self.inputs[1]->requires_grad) detail::accumulate_fresh(*self.inputs[1], sum_to(ward::matmul(x.transpose(), g), y.shape()));
    });
}

/// act(x @ weight^T + bias) with weight (out, in) as torch.nn.Linear stores it; x is (..., in).
/// bias may be an undefined Var. The bias is fused into the matmul; the activation is applied in a
/// separate pass, which keeps the pre-activation its gradient needs.
template <FloatElement T, Device D>
Var<T, D> linear(const Var<T, D>& x, const Var<T, D>& weight, const Var<T, D>& bias = {},
                 Activation act = Activation::none) {
    if (weight.rank() != 2 || weight.size(1) != x.size(-1))
        throw shape_error("linear: weight of shape " + weight.shape().str() + " does not take inputs of shape " +
                          x.shape().str() + " (weight must be (out, in))");
    const Tensor<T, D>&xv = x.value(), &w = weight.value();
    Tensor<T, D> z = bias.defined() ? ward::matmul(xv, w.transpose(), bias.value()) : ward::matmul(xv, w.transpose());
    Tensor<T, D> y = act == Activation::gelu_tanh ? ward::gelu_tanh_values(z)
                     : act == Activation::relu    ? Tensor<T, D>(ward::relu(z))
                                                  : z;
    const bool has_bias = bias.defined();
    return Var<T, D>::make(y, {x, weight, bias}, "linear", [xv, w, z, act, has_bias](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        Tensor<T, D> gz = act == Activation::gelu_tanh ? ward::gelu_tanh_input_grad(z, g)
                          : act == Activation::relu    ? Tensor<T, D>(g * (z > 0))
                                                       : g;
        const index_t in = w.size(1), out = w.size(0);
        if constexpr (has_gemm_accumulate<T, D>) {  // the gradients are summed in place, not added
            if (self.inputs[0]->requires_grad) detail::accumulate_fresh(*self.inputs[0], ward::matmul(gz, w));
            const index_t rows = gz.numel() / out;
            Tensor<T, D> g2 = gz.reshape(Shape{rows, out}).contiguous();
            bool done = !self.inputs[1]->requires_grad;
            if (!done) done = detail::accumulate_weight_grad(*self.inputs[1], g2, xv.reshape(Shape{rows, in}).contiguous());
            if (!done) self.inputs[1]->accumulate(ward::matmul(g2.transpose(), xv.reshape(Shape{rows, in})));
            if (has_bias && self.inputs[2]->requires_grad) {
                Node<T, D>& b = *self.inputs[2];
                if (b.grad.defined() && b.grad.is_contiguous() && b.grad.numel() == out) {
                    ward::gemm_accumulate(Tensor<T, D>::ones(Shape{1, rows}), false, g2, false, b.grad.reshape(Shape{1, out}));  // db += 1^T gz
                } else {
                    b.accumulate(ward::sum(g2, 0));
                }
            }
            return;
        }
        if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate(ward::matmul(gz, w));
        Tensor<T, D> gz2 = gz.reshape(Shape{gz.numel() / out, out});
        if (self.inputs[1]->requires_grad)
            self.inputs[1]->accumulate(ward::matmul(gz2.transpose(), xv.reshape(Shape{xv.numel() / in, in})));
        if (has_bias && self.inputs[2]->requires_grad) self.inputs[2]->accumulate(ward::sum(gz2, 0));
    });
}

}  // namespace ward::ag
