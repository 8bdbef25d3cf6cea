#pragma once
// matmul and linear on Vars. Backward passes are matmuls too, with transposes as strides:
//   out = a @ b        da = g @ b^T      db = a^T @ g      (summed over broadcast batch axes)
//   y = act(x W^T + b) gz = g * act'(z)  dx = gz @ W       dW = gz^T x      db = sum_rows(gz)

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor/ops.hpp"

namespace ward::ag {

/// a @ b over the last two axes, batch axes broadcast.
template <FloatElement T, Device D>
Var<T, D> matmul(const Var<T, D>& a, const Var<T, D>& b) {
    const Tensor<T, D>&x = a.value(), &y = b.value();
    return Var<T, D>::make(ward::matmul(x, y), {a, b}, "matmul", [x, y](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate(sum_to(ward::matmul(g, y.transpose()), x.shape()));
        if (self.inputs[1]->requires_grad) self.inputs[1]->accumulate(sum_to(ward::matmul(x.transpose(), g), y.shape()));
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
    Tensor<T, D> y = act == Activation::gelu_tanh ? Tensor<T, D>(ward::gelu_tanh(z))
                     : act == Activation::relu    ? Tensor<T, D>(ward::relu(z))
                                                  : z;
    const bool has_bias = bias.defined();
    return Var<T, D>::make(y, {x, weight, bias}, "linear", [xv, w, z, act, has_bias](Node<T, D>& self) {
        const Tensor<T, D>& g = self.grad;
        Tensor<T, D> gz = act == Activation::gelu_tanh ? Tensor<T, D>(g * ward::gelu_tanh_grad(z))
                          : act == Activation::relu    ? Tensor<T, D>(g * (z > 0))
                                                       : g;
        const index_t in = w.size(1), out = w.size(0);
        if (self.inputs[0]->requires_grad) self.inputs[0]->accumulate(ward::matmul(gz, w));
        Tensor<T, D> gz2 = gz.reshape(Shape{gz.numel() / out, out});
        if (self.inputs[1]->requires_grad)
            self.inputs[1]->accumulate(ward::matmul(gz2.transpose(), xv.reshape(Shape{xv.numel() / in, in})));
        if (has_bias && self.inputs[2]->requires_grad) self.inputs[2]->accumulate(ward::sum(gz2, 0));
    });
}

}  // namespace ward::ag
