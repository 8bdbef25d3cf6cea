#pragma once
// Security Vectors (Zhou et al. 2024, "Making Harmful Behaviors Unlearnable for
// Large Language Models"). A LoRA adapter, the security vector, is trained on harmful examples with
// the base frozen, so that the model with the adapter already fits them. During fine-tuning the
// adapter is switched on and frozen while the base trains: the harmful data's loss is already low,
// so it has little gradient to give the base, and the base learns little of it. At evaluation (and
// deployment) the adapter is switched off, leaving the base as the fine-tuning left it.
//   train_security_vector(model, harmful, opt)   adds and trains the adapter
//   prepare_for_attack(model)                    adapter on and frozen, base trainable
//   prepare_for_evaluation(model)                adapter off (the base model's outputs exactly)

#include <string>
#include <vector>

#include "ward/nn/lora.hpp"
#include "ward/nn/module.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::defence {

struct SecurityVectorOptions {
    nn::LoraOptions lora = {.targets = {"c_attn", "c_proj", "c_fc", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                        "down_proj"},
                            .rank = 8,
                            .alpha = 16,
                            .dropout = 0.0,
                            .seed = 0};
    train::TrainOptions train;  // how the vector is trained (train_lm's options)
};

namespace detail {
template <FloatElement T, Device D>
int count_adapters(nn::CausalLM<T, D>& model) {
    int n = 0;
    model.for_each_linear([&](const std::string&, nn::Linear<T, D>& lin) { n += lin.lora ? 1 : 0; });
    return n;
}
}  // namespace detail

/// Adds a security vector (LoRA on the option's targets; the base frozen) and trains it on the
/// harmful examples. The model must not carry adapters yet.
template <FloatElement T, Device D>
train::TrainResult train_security_vector(nn::CausalLM<T, D>& model, const std::vector<train::Example>& harmful,
                                         const SecurityVectorOptions& opt) {
    if (harmful.empty()) throw value_error("security vectors: no harmful examples to train the vector on");
    if (detail::count_adapters(model) > 0)
        throw value_error("security vectors: the model already carries LoRA adapters; merge or remove them first");
    nn::add_lora(model, opt.lora);
    return train::train_lm(model, harmful, {}, opt.train);
}

/// For the attacker's fine-tuning: the security vector on and frozen, every base parameter trainable.
template <FloatElement T, Device D>
void prepare_for_attack(nn::CausalLM<T, D>& model) {
    if (detail::count_adapters(model) == 0) throw value_error("security vectors: the model carries no security vector (no LoRA adapter)");
    nn::set_requires_grad<T, D>(model, true);
    model.for_each_linear([](const std::string&, nn::Linear<T, D>& lin) {
        if (!lin.lora) return;
        lin.lora->a = ag::Var<T, D>(lin.lora->a.value(), false);
        lin.lora->b = ag::Var<T, D>(lin.lora->b.value(), false);
    });
    nn::set_lora_enabled(model, true);
}

/// For evaluation and deployment: the security vector switched off.
template <FloatElement T, Device D>
void prepare_for_evaluation(nn::CausalLM<T, D>& model) {
    if (detail::count_adapters(model) == 0) throw value_error("security vectors: the model carries no security vector (no LoRA adapter)");
    nn::set_lora_enabled(model, false);
}

}  // namespace ward::defence
