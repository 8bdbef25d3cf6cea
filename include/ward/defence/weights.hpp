#pragma once
// Procedures that visit other weights and come back (Booster's perturbed pass, TAR's inner attack)
// need the trainable parameters as Vars, a guard that restores their values, and squared norms.

#include <vector>

#include "ward/nn/module.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/tensor.hpp"

namespace ward::defence::detail {

/// The model's trainable parameters as Vars (leaves of every forward pass).
template <FloatElement T, Device D>
std::vector<ag::Var<T, D>> trainable_vars(nn::CausalLM<T, D>& model) {
    std::vector<ag::Var<T, D>> out;
    for (const auto& p : nn::named_parameters<T, D>(model))
        if (p.var->defined() && p.var->requires_grad()) out.push_back(*p.var);
    return out;
}

/// Copies the values of some parameters and writes them back when it goes out of scope (also when
/// a pass in between throws), so a procedure that visits other weights always returns to these.
template <FloatElement T, Device D>
class WeightsGuard {
public:
    explicit WeightsGuard(const std::vector<ag::Var<T, D>>& params) : params_(params) {
        for (const auto& p : params_) saved_.push_back(p.value().clone());
    }
    ~WeightsGuard() {
        for (std::size_t i = 0; i < params_.size(); ++i) Tensor<T, D>(params_[i].value()).assign(saved_[i]);
    }
    WeightsGuard(const WeightsGuard&) = delete;
    WeightsGuard& operator=(const WeightsGuard&) = delete;

private:
    std::vector<ag::Var<T, D>> params_;
    std::vector<Tensor<T, D>> saved_;
};

inline double squared_norm(const auto& tensors) {
    double sq = 0;
    for (const auto& t : tensors) sq += ward::sum(ward::square(ward::cast<double>(t))).item();
    return sq;
}
}  // namespace ward::defence::detail
