#pragma once
// SafeLoRA (Hsu et al. 2024, "Safe LoRA: the Silver Lining of Reducing Safety
// Risks when Fine-tuning Large Language Models"). After LoRA fine-tuning, each adapted layer's update
// is compared with the layer's alignment direction, the difference between the aligned model's and
// the unaligned base model's weights:
//   V = W_aligned - W_base   (out, in),     C = V V^T / ||V||_F   (out, out),
//   dW = scale * B A,   similarity = <dW, C dW>_F / (||dW||_F ||C dW||_F).
// Layers whose similarity falls below the threshold get the update C dW in place of dW. C dW =
// scale * (C B) A, so the adapter keeps its rank: B becomes C B. (C is the paper's cheap stand-in for
// the exact projection V (V^T V)^-1 V^T.) Weights in the Conv1D layout (in, out) are transposed to
// (out, in) first, so V and dW are oriented as in PyTorch's Linear.

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "ward/nn/lora.hpp"
#include "ward/tensor.hpp"

namespace ward::defence {

struct SafeLoraOptions {
    double threshold = 0.5;  // project the layers whose similarity is below this
    bool apply = true;       // false: only measure
};

struct SafeLoraLayer {
    std::string name;
    double similarity = 1;  // cos(dW, C dW); 1 for an update that is zero
    bool projected = false;
};

struct SafeLoraReport {
    std::vector<SafeLoraLayer> layers;  // every layer that carries an adapter, in model order
    int projected = 0;
};

namespace detail {
/// A weight (any device) as (out, in) in f64 on the host, where the projection is computed.
template <FloatElement T, Device D>
Tensor<double, cpu> on_host_f64(const Tensor<T, D>& t) {
    return Tensor<double, cpu>(ward::cast<double>(on_device<cpu>(t)));
}
template <FloatElement T, Device D>
Tensor<double, cpu> as_out_in(const nn::Linear<T, D>& lin) {
    Tensor<double, cpu> w = on_host_f64(lin.weight.value());
    return lin.conv1d ? Tensor<double, cpu>(w.transpose()) : w;
}
inline double frobenius(const Tensor<double, cpu>& x) { return std::sqrt(ward::sum(ward::square(x)).item()); }
}  // namespace detail

/// Measures, and with opt.apply projects, every LoRA update of `model` against the alignment
/// direction of the same layer in `aligned` and `base` (same architecture; their adapters, if any,
/// are ignored: their weights are read as stored).
template <FloatElement T, Device D>
SafeLoraReport safelora_project(nn::CausalLM<T, D>& model, nn::CausalLM<T, D>& aligned, nn::CausalLM<T, D>& base,
                                const SafeLoraOptions& opt = {}) {
    if (!std::isfinite(opt.threshold)) throw value_error("safelora: the threshold must be finite");
    std::map<std::string, nn::Linear<T, D>*> al, ba;
    aligned.for_each_linear([&](const std::string& n, nn::Linear<T, D>& l) { al[n] = &l; });
    base.for_each_linear([&](const std::string& n, nn::Linear<T, D>& l) { ba[n] = &l; });
    SafeLoraReport rep;
    model.for_each_linear([&](const std::string& name, nn::Linear<T, D>& lin) {
        if (!lin.lora) return;
        auto a = al.find(name), b = ba.find(name);
        if (a == al.end() || b == ba.end())
            throw value_error("safelora: layer " + name + " is missing from the " + (a == al.end() ? "aligned" : "base") + " model");
        const nn::Linear<T, D>* others[] = {a->second, b->second};  // nvcc 13 mis-parses a braced list here
        for (const auto* other : others)
            if (!(other->weight.shape() == lin.weight.shape()) || other->conv1d != lin.conv1d)
                throw shape_error("safelora: layer " + name + " has weight " + lin.weight.shape().str() + " in the fine-tuned model but " +
                                  other->weight.shape().str() + " in the aligned or base model");
        Tensor<double, cpu> v(detail::as_out_in(*a->second) - detail::as_out_in(*b->second));
        const double vn = detail::frobenius(v);
        if (!(vn > 0) || !std::isfinite(vn))
            throw value_error("safelora: layer " + name + " has no alignment direction (||W_aligned - W_base||_F = " + std::to_string(vn) + ")");
        Tensor<double, cpu> c(matmul(v, v.transpose()) * (1.0 / vn));  // (out, out)
        Tensor<double, cpu> bb = detail::on_host_f64(lin.lora->b.value()), aa = detail::on_host_f64(lin.lora->a.value());
        Tensor<double, cpu> dw(matmul(bb, aa) * lin.lora->scale), cdw(matmul(c, dw));
        SafeLoraLayer layer{name, 1.0, false};
        const double n1 = detail::frobenius(dw), n2 = detail::frobenius(cdw);
        if (n1 > 0) layer.similarity = n2 > 0 ? ward::sum(dw * cdw).item() / (n1 * n2) : 0.0;
        if (!std::isfinite(layer.similarity)) throw value_error("safelora: layer " + name + " has a similarity that is not finite");
        if (layer.similarity < opt.threshold) {
            layer.projected = true;
            ++rep.projected;
            if (opt.apply) {
                Tensor<T, cpu> nb(ward::cast<T>(matmul(c, bb)));
                lin.lora->b = ag::Var<T, D>(on_device<D>(nb), lin.lora->b.requires_grad());
            }
        }
        rep.layers.push_back(layer);
    });
    if (rep.layers.empty()) throw value_error("safelora: the model carries no LoRA adapter");
    return rep;
}

}  // namespace ward::defence
