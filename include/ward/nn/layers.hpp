#pragma once
// The basic layers: Linear (torch.nn.Linear's (out, in) weight, or GPT-2's Conv1D (in, out)),
// Embedding, LayerNorm and RMSNorm. Each holds Vars named as in Hugging Face checkpoints.

#include <cmath>
#include <memory>
#include <string>

#include "ward/autograd/linalg.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/core/rng.hpp"
#include "ward/nn/module.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::nn {

/// Where a layer's initial weights come from: a seeded generator (normal(0, std), training from
/// scratch), or nowhere (Init::none(): allocated and left unwritten, for a loader that overwrites
/// every parameter; untouched pages cost no memory until the loader fills them).
class Init {
public:
    Init(Generator& gen) : gen_(&gen) {}  // implicit: layers take a Generator where they always did
    static Init none() { return Init(); }

    template <FloatElement T, Device D>
    Tensor<T, D> normal(const Shape& shape, double stddev) const {
        using V = compute_t<T>;
        if (!gen_) return Tensor<T, D>::empty(shape);
        return Tensor<T, D>(ward::normal<V, D>(*gen_, shape, V(0), V(stddev)));
    }

private:
    Init() = default;
    Generator* gen_ = nullptr;
};

/// A low-rank adapter on a linear layer (LoRA, Hu et al. 2021): y += scale * dropout(x) A^T B^T,
/// scale = alpha / rank, A (rank, in) random, B (out, rank) zero, so a new adapter changes nothing.
template <FloatElement T, Device D = cpu>
struct LoRA {
    Var<T, D> a, b;
    double scale = 1.0;
    double dropout = 0.0;
    bool enabled = true;
    std::shared_ptr<Generator> dropout_gen;  // seeded; shared by the copies of the layer
};

/// y = act(x W^T + b). `conv1d` stores W as (in, out), GPT-2's layout, and reads it transposed
/// (a stride view, no copy), so the file's tensor is the parameter as it is.
template <FloatElement T, Device D = cpu>
struct Linear {
    Var<T, D> weight, bias;
    bool conv1d = false;
    std::shared_ptr<LoRA<T, D>> lora;  // attached by attach_lora()

    Linear() = default;
    Linear(index_t in, index_t out, bool with_bias, const Init& init, bool conv1d_layout = false, double init_std = 0.02)
        : conv1d(conv1d_layout) {
        weight = Var<T, D>(init.normal<T, D>(conv1d ? Shape{in, out} : Shape{out, in}, init_std), true);
        if (with_bias) bias = Var<T, D>(Tensor<T, D>::zeros({out}), true);
    }
    index_t in_features() const { return weight.size(conv1d ? 0 : 1); }
    index_t out_features() const { return weight.size(conv1d ? 1 : 0); }

    Var<T, D> operator()(const Var<T, D>& x, Activation act = Activation::none) const {
        Var<T, D> w = conv1d ? ag::transpose(weight) : weight;
        if (!lora || !lora->enabled) return ag::linear(x, w, bias, act);
        Var<T, D> in = lora->dropout > 0 ? ag::dropout(x, lora->dropout, *lora->dropout_gen, ag::grad_enabled()) : x;
        Var<T, D> z = ag::linear(x, w, bias) + ag::linear(ag::linear(in, lora->a), lora->b) * lora->scale;
        if (act == Activation::gelu_tanh) return ag::gelu_tanh(z);
        if (act == Activation::relu) return ag::relu(z);
        return z;
    }

    /// Adds a rank-r adapter; the base weight and bias stop requiring grad, so only A and B train.
    void attach_lora(index_t rank, double alpha, double dropout, std::uint64_t seed) {
        if (rank <= 0) throw value_error("LoRA rank must be positive, got " + std::to_string(rank));
        using V = compute_t<T>;
        Generator gen(seed);
        auto l = std::make_shared<LoRA<T, D>>();
        const double bound = 1.0 / std::sqrt(double(in_features()));  // PEFT's kaiming-uniform(a = sqrt 5) bound
        l->a = Var<T, D>(Tensor<T, D>(uniform<V, D>(gen, {rank, in_features()}, V(-bound), V(bound))), true);
        l->b = Var<T, D>(Tensor<T, D>::zeros({out_features(), rank}), true);
        l->scale = alpha / double(rank);
        l->dropout = dropout;
        l->dropout_gen = std::make_shared<Generator>(seed, 1);
        lora = l;
        weight = Var<T, D>(weight.value(), false);
        if (bias.defined()) bias = Var<T, D>(bias.value(), false);
    }
    /// Folds the adapter into the weight (W += scale B A) and removes it.
    void merge_lora() {
        if (!lora) return;
        ag::NoGrad ng;
        Tensor<T, D> delta = Tensor<T, D>(matmul(lora->b.value(), lora->a.value()) * compute_t<T>(lora->scale));
        Tensor<T, D> w = weight.value().clone();
        if (conv1d) w.assign(w + delta.transpose());
        else w.assign(w + delta);
        weight = Var<T, D>(w, false);
        lora.reset();
    }

    template <class F>
    void visit(F&& f, const std::string& prefix) {
        f(join(prefix, "weight"), weight);
        if (bias.defined()) f(join(prefix, "bias"), bias);
        if (lora) {
            f(join(prefix, "lora_A.weight"), lora->a);
            f(join(prefix, "lora_B.weight"), lora->b);
        }
    }
};

template <FloatElement T, Device D = cpu>
struct Embedding {
    Var<T, D> weight;  // (V, E)

    Embedding() = default;
    Embedding(index_t vocab, index_t dim, const Init& init, double init_std = 0.02) {
        weight = Var<T, D>(init.normal<T, D>({vocab, dim}, init_std), true);
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
