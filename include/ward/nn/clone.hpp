#pragma once
// A deep copy of a model: the same configuration and values in storage of its own, so an attack or a
// defence can train the copy while the original stays as it was. (Copying a CausalLM by value
// shares its parameters: Vars are handles.) to_device gives the copy on another device, to_dtype
// with another element type (an f32 model as bf16 for mixed-precision training, and back).

#include <memory>
#include <string>
#include <type_traits>

#include "ward/core/error.hpp"

#include "ward/nn/transformer.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::nn {

template <FloatElement T, Device D>
CausalLM<T, D> clone(const CausalLM<T, D>& model) {
    CausalLM<T, D> copy = model;
    // Adapters are held by shared_ptr: give the copy its own before its Vars are replaced.
    copy.for_each_linear([](const std::string&, Linear<T, D>& lin) {
        if (!lin.lora) return;
        auto own = std::make_shared<LoRA<T, D>>(*lin.lora);
        own->dropout_gen = std::make_shared<Generator>(*lin.lora->dropout_gen);
        lin.lora = own;
    });
    copy.visit([](const std::string&, Var<T, D>& v) {
        if (v.defined()) v = Var<T, D>(v.value().clone(), v.requires_grad());
    }, "");
    return copy;
}

namespace detail {
/// A model of element type T2 on device D2 with the configuration of `model` and each parameter
/// `convert(value)`, trainable where it was. `what` names the caller in errors; adapters are refused
/// (`verb` the base model, then attach them).
template <FloatElement T2, Device D2, FloatElement T, Device D, class Convert>
CausalLM<T2, D2> converted(const CausalLM<T, D>& model, const char* what, const char* verb, Convert convert) {
    const std::string who(what);
    CausalLM<T, D> src = model;  // handles to the same parameters, walkable
    bool adapted = false;
    src.for_each_linear([&](const std::string&, Linear<T, D>& lin) { adapted = adapted || bool(lin.lora); });
    if (adapted) throw value_error(who + ": the model has LoRA adapters; " + verb + " the base model, then attach them");
    CausalLM<T2, D2> out = CausalLM<T2, D2>::uninitialised(model.config);
    out.checkpoint_blocks = model.checkpoint_blocks;
    auto from = named_parameters<T, D>(src);
    auto to = named_parameters<T2, D2>(out);
    if (from.size() != to.size()) throw shape_error(who + ": the copy has a different set of parameters");
    for (std::size_t i = 0; i < from.size(); ++i) {
        if (from[i].name != to[i].name) throw shape_error(who + ": parameter '" + from[i].name + "' meets '" + to[i].name + "'");
        if (!from[i].var->defined()) continue;
        *to[i].var = Var<T2, D2>(convert(from[i].var->value()), from[i].var->requires_grad());
    }
    return out;
}
}  // namespace detail

/// The model on device D2: every parameter copied, trainable where it was. Adapters are not carried
/// over (attach them on the new device).
template <Device D2, FloatElement T, Device D>
CausalLM<T, D2> to_device(const CausalLM<T, D>& model) {
    if constexpr (std::is_same_v<D, D2>) return clone(model);
    else return detail::converted<T, D2>(model, "to_device", "move", [](const Tensor<T, D>& v) { return v.template to<D2>(); });
}

/// The model with element type T2 (on the same device): every parameter converted (bf16 rounds to
/// nearest even), trainable where it was. Adapters are not carried over.
template <FloatElement T2, FloatElement T, Device D>
CausalLM<T2, D> to_dtype(const CausalLM<T, D>& model) {
    if constexpr (std::is_same_v<T, T2>) return clone(model);
    else return detail::converted<T2, D>(model, "to_dtype", "convert", [](const Tensor<T, D>& v) { return Tensor<T2, D>(cast<T2>(v)); });
}

}  // namespace ward::nn
