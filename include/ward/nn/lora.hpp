#pragma once
// LoRA on a model: adapters on the linear layers whose names end with one of the targets; the rest
// of the model is frozen, so an optimiser over nn::parameters(model) trains the adapters alone.
// Adapters can be switched off (Security Vectors evaluates with them off) or merged into the weights.

#include <string>
#include <vector>

#include "ward/nn/transformer.hpp"

namespace ward::nn {

struct LoraOptions {
    std::vector<std::string> targets = {"q_proj", "v_proj", "c_attn"};
    index_t rank = 8;
    double alpha = 16;
    double dropout = 0.0;
    std::uint64_t seed = 0;
};

namespace detail {
inline bool ends_with_any(const std::string& name, const std::vector<std::string>& targets) {
    for (const auto& t : targets)
        if (name.size() >= t.size() && name.compare(name.size() - t.size(), t.size(), t) == 0) return true;
    return false;
}
}  // namespace detail

/// Freezes the model and attaches adapters; returns how many layers got one.
template <FloatElement T, Device D>
int add_lora(CausalLM<T, D>& model, const LoraOptions& opt) {
    set_requires_grad<T, D>(model, false);
    int n = 0;
    std::uint64_t k = 0;
    model.for_each_linear([&](const std::string& name, Linear<T, D>& lin) {
        if (!detail::ends_with_any(name, opt.targets)) return;
        lin.attach_lora(opt.rank, opt.alpha, opt.dropout, opt.seed * 1000003u + k++);
        ++n;
    });
    if (n == 0) throw value_error("add_lora: no linear layer matches the targets");
    return n;
}

/// Switches every adapter on or off (off: the base model's outputs exactly).
template <FloatElement T, Device D>
void set_lora_enabled(CausalLM<T, D>& model, bool on) {
    model.for_each_linear([&](const std::string&, Linear<T, D>& lin) {
        if (lin.lora) lin.lora->enabled = on;
    });
}

/// Folds every adapter into its weight and removes it.
template <FloatElement T, Device D>
void merge_lora(CausalLM<T, D>& model) {
    model.for_each_linear([&](const std::string&, Linear<T, D>& lin) { lin.merge_lora(); });
}

}  // namespace ward::nn
