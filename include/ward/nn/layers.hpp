#pragma once
// The basic layers: Linear (torch.nn.Linear's (out, in) weight, or GPT-2's Conv1D (in, out)),
// Embedding, LayerNorm and RMSNorm. Each holds Vars named as in Hugging Face checkpoints.

#include <cmath>
#include <string>

#include "ward/autograd/linalg.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/core/rng.hpp"
#include "ward/nn/module.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::nn {

/// y = act(x W^T + b). `conv1d` stores W as (in, out), GPT-2's layout, and reads it transposed
/// (a stride view, no copy), so the file's tensor is the parameter as it is.
template <FloatElement T, Device D = cpu>
struct Linear {
    Var<T, D> weight, bias;
    bool conv1d = false;

    Linear() = default;
    Linear(index_t in, index_t out, bool with_bias, Generator& gen, bool conv1d_layout = false, double init_std = 0.02)
        : conv1d(conv1d_layout) {
        using V = compute_t<T>;
        Shape s = conv1d ? Shape{in, out} : Shape{out, in};
        weight = Var<T, D>(Tensor<T, D>(normal<V, D>(gen, s, V(0), V(init_std))), true);
        if (with_bias) bias = Var<T, D>(Tensor<T, D>::zeros({out}), true);
    }
    index_t in_features() const { return weight.size(conv1d ? 0 : 1); }
    index_t out_features() const { return weight.size(conv1d ? 1 : 0); }

    Var<T, D> operator()(const Var<T, D>& x, Activation act = Activation::none) const {
        return ag::linear(x, conv1d ? ag::transpose(weight) : weight, bias, act);
    }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        f(join(prefix, "weight"), weight);
        if (bias.defined()) f(join(prefix, "bias"), bias);
    }
};

template <FloatElement T, Device D = cpu>
struct Embedding {
    Var<T, D> weight;  // (V, E)

    Embedding() = default;
    Embedding(index_t vocab, index_t dim, Generator& gen, double init_std = 0.02) {
        using V = compute_t<T>;
        weight = Var<T, D>(Tensor<T, D>(normal<V, D>(gen, {vocab, dim}, V(0), V(init_std))), true);
    }
    Var<T, D> operator()(const Tensor<std::int64_t, D>& ids) const { return ag::embedding(weight, ids); }
    template <class F>
    void visit(F&& f, const std::string& prefix) { f(join(prefix, "weight"), weight); }
};

template <FloatElement T, Device D = cpu>
struct LayerNorm {
    Var<T, D> weight, bias;
    double eps = 1e-5;

    LayerNorm() = default;
    LayerNorm(index_t dim, double epsilon) : eps(epsilon) {
        weight = Var<T, D>(Tensor<T, D>::ones({dim}), true);
        bias = Var<T, D>(Tensor<T, D>::zeros({dim}), true);
    }
    Var<T, D> operator()(const Var<T, D>& x) const { return ag::layer_norm(x, weight, bias, eps); }
    template <class F>
    void visit(F&& f, const std::string& prefix) {
        f(join(prefix, "weight"), weight);
        f(join(prefix, "bias"), bias);
    }
};

template <FloatElement T, Device D = cpu>
struct RMSNorm {
    Var<T, D> weight;
    double eps = 1e-6;

    RMSNorm() = default;
    RMSNorm(index_t dim, double epsilon) : eps(epsilon) { weight = Var<T, D>(Tensor<T, D>::ones({dim}), true); }
    Var<T, D> operator()(const Var<T, D>& x) const { return ag::rms_norm(x, weight, eps); }
    template <class F>
    void visit(F&& f, const std::string& prefix) { f(join(prefix, "weight"), weight); }
};

}  // namespace ward::nn
