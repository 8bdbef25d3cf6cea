#pragma once
// What every term of a defence reads: one paired batch, the model being defended, optionally a
// frozen reference model, and a seeded generator. Each forward pass (harmful or harmless side, model
// or reference) runs at most once per context, on first use, with every layer's representations
// collected; all terms of a composite defence share them.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ward/core/rng.hpp"
#include "ward/defence/batch.hpp"
#include "ward/nn/transformer.hpp"

namespace ward::defence {

enum class Side { harmful, harmless };

template <FloatElement T, Device D = cpu>
class Context {
public:
    using Forward = nn::ForwardResult<T, D>;

    /// `reference` (may be null) is evaluated without gradients; `seed` keys this step's random draws.
    Context(const nn::CausalLM<T, D>& model, const PairedBatch<T, D>& batch, const nn::CausalLM<T, D>* reference = nullptr,
            std::uint64_t seed = 0)
        : model_(&model), reference_(reference), batch_(&batch), generator_(seed, 0x6465665eu) {}

    const nn::CausalLM<T, D>& model() const { return *model_; }
    const PairedBatch<T, D>& batch() const { return *batch_; }
    bool has_reference() const { return reference_ != nullptr; }
    Generator& generator() { return generator_; }

    /// The model's forward pass on one side of the batch (computed on first use).
    const Forward& forward(Side side) { return run(side, false); }
    const Forward& harmful() { return forward(Side::harmful); }
    const Forward& harmless() { return forward(Side::harmless); }
    /// The frozen reference model's forward pass (no gradients).
    const Forward& reference(Side side) { return run(side, true); }

    const Tensor<std::int64_t, D>& inputs(Side s) const { return s == Side::harmful ? batch_->harmful_inputs : batch_->harmless_inputs; }
    const Tensor<std::int64_t, D>& targets(Side s) const { return s == Side::harmful ? batch_->harmful_targets : batch_->harmless_targets; }
    /// (B, T): 1 for real (unpadded) positions of a side.
    const Tensor<T, D>& real(Side s) const { return s == Side::harmful ? batch_->harmful_real : batch_->harmless_real; }

    /// Perturbations added to the model's layer outputs on one side (Vaccine, Booster); set before
    /// that side's first forward pass.
    void set_perturbations(Side side, std::vector<ag::Var<T, D>> per_layer) {
        if (cached_[index(side, false)]) throw value_error("defence context: perturbations set after the forward pass ran");
        perturbations_[index(side, false)] = std::move(per_layer);
    }

    /// How many forward passes this context ran (each side and model once at most).
    int forward_passes() const { return passes_; }

    /// Term values of the last evaluation, by name (for progress lines and reports).
    void record(const std::string& name, double value) { values_[name] += value; }
    const std::map<std::string, double>& values() const { return values_; }

private:
    static std::size_t index(Side s, bool ref) { return (s == Side::harmful ? 0 : 1) + (ref ? 2 : 0); }

    const Forward& run(Side side, bool ref) {
        const std::size_t i = index(side, ref);
        if (!cached_[i]) {
            if (ref && !reference_) throw value_error("defence term needs a reference model, but none was given");
            nn::ForwardOptions opt;
            opt.collect_layers = true;
            nn::ForwardContext<T, D> fc;
            fc.perturbations = perturbations_[i];
            if (ref) {
                ag::NoGrad ng;
                cached_[i] = reference_->forward(inputs(side), opt, {}, fc);
            } else {
                cached_[i] = model_->forward(inputs(side), opt, {}, fc);
            }
            ++passes_;
        }
        return *cached_[i];
    }

    const nn::CausalLM<T, D>* model_;
    const nn::CausalLM<T, D>* reference_;
    const PairedBatch<T, D>* batch_;
    Generator generator_;
    std::optional<Forward> cached_[4];
    std::vector<ag::Var<T, D>> perturbations_[4];
    std::map<std::string, double> values_;
    int passes_ = 0;
};

}  // namespace ward::defence
