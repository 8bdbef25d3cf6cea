#pragma once
// A deep copy of a model: the same configuration and values in storage of its own, so an attack or a
// defence can train the copy while the original stays as it was. (Copying a CausalLM by value
// shares its parameters: Vars are handles.)

#include <memory>
#include <string>

#include "ward/nn/transformer.hpp"

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

}  // namespace ward::nn
