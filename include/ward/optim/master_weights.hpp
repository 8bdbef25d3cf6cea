#pragma once
// Mixed-precision training's optimiser. The model holds bf16 weights, which forward and backward
// compute with (matmuls accumulate in f32, norms and losses compute in f32); an f32 copy of every
// weight (the master weights) and the optimiser's state stay in f32. Each step converts the bf16
// gradients to f32, steps an f32 optimiser on the master weights, and rounds them into the model.
// Why: bf16 keeps 8 bits of mantissa, so an update smaller than about 2^-9 of a weight rounds
// away when applied to the bf16 weight itself; the master weights accumulate it.
//
//   auto params = nn::parameters<bf16, D>(model);
//   optim::MasterWeights<optim::AdamRule<true>, D> opt(params, {.lr = 1e-4});   // AdamW
//   optim::MixedPrecision<optim::AdamRule<true>, T, D> opt(params, {.lr = 1e-4});   // either dtype
//
// It is an optim::Optimizer like BasicOptimizer (step, zero_grad, the lr multiplier, saved state),
// so the training loop and checkpoints take it unchanged. Its saved state is the f32 optimiser's
// plus the master weights (<prefix>master.<param name>): a resumed run is bit-identical.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::optim {

template <class Rule, Device D = cpu>
class MasterWeights {
public:
    using inner_type = BasicOptimizer<Rule, float, D>;
    using options_type = typename Rule::options_type;

    /// `params`: the bf16 model's parameters (handles: steps write the model's weights in place).
    explicit MasterWeights(ParameterList<bf16, D> params, options_type options = {})
        : params_(std::move(params)), master_(make_master(params_)), inner_(master_, options) {}

    /// One update: the bf16 gradients in f32, the f32 optimiser's step on the master weights (which
    /// checks every gradient is finite before it writes anything), the result rounded into the model.
    void step() {
        for (std::size_t i = 0; i < params_.size(); ++i) {
            check_parameter(params_[i]);
            master_[i].grad.assign(cast<float>(params_[i].grad));
        }
        inner_.step();
        for (std::size_t i = 0; i < params_.size(); ++i) params_[i].value.assign(cast<bf16>(master_[i].value));
    }

    /// Zeroes the model's gradients (in place: the autograd layer keeps their handles).
    void zero_grad() {
        for (auto& p : params_) p.grad.fill(0.0f);
    }

    void set_lr_multiplier(double m) { inner_.set_lr_multiplier(m); }
    std::int64_t step_count() const { return inner_.step_count(); }
    void set_check_finite(bool on) { inner_.set_check_finite(on); }

    /// The f32 optimiser (its options, groups, per-parameter state) and the master weights.
    const inner_type& inner() const { return inner_; }
    const ParameterList<float, D>& master() const { return master_; }

    /// The f32 optimiser's state, then the master weights, under `prefix`.
    void write_state(io::SafetensorsWriter& w, std::string_view prefix = {}) const {
        inner_.write_state(w, prefix);
        for (const auto& m : master_) w.add(std::string(prefix) + "master." + m.name, m.value);
    }

    /// Restores what write_state saved; everything is read and checked before anything changes.
    void read_state(const io::SafetensorsFile& f, std::string_view prefix = {}) {
        const std::string where = "optimizer state in '" + f.path().string() + "'";
        std::vector<Tensor<float, D>> values;
        for (const auto& m : master_) {
            const std::string name = std::string(prefix) + "master." + m.name;
            if (!f.contains(name))
                throw parse_error(where + ": missing tensor '" + name + "' (the f32 master weights of a bf16 model)");
            values.push_back(f.get<float, D>(name));
            if (!(values.back().shape() == m.value.shape()))
                throw shape_error(where + ": tensor '" + name + "' has shape " + values.back().shape().str() + ", parameter '" +
                                  m.name + "' " + m.value.shape().str());
        }
        inner_.read_state(f, prefix);
        for (std::size_t i = 0; i < master_.size(); ++i) master_[i].value.assign(values[i]);
    }

private:
    ParameterList<bf16, D> params_;
    ParameterList<float, D> master_;  // same names and order as params_
    inner_type inner_;

    static ParameterList<float, D> make_master(const ParameterList<bf16, D>& params) {
        ParameterList<float, D> out;
        out.reserve(params.size());
        for (const auto& p : params) {
            check_parameter(p);
            out.push_back({p.name, Tensor<float, D>(cast<float>(p.value)), Tensor<float, D>::zeros(p.value.shape())});
        }
        return out;
    }
    static void check_parameter(const Parameter<bf16, D>& p) {
        if (!p.value.defined() || !p.grad.defined())
            throw value_error(std::string(Rule::name) + " (f32 master weights): parameter '" + p.name +
                              "' has an undefined value or gradient");
    }
};

/// Rule's optimiser for parameters of element type T, mixed precision where it applies: f32 master
/// weights for bf16 parameters, the rule stepping the parameters themselves for f32 and f64.
///   optim::MixedPrecision<optim::AdamRule<true>, T, D> opt(params, {.lr = 1e-4});
template <class Rule, FloatElement T, Device D = cpu>
using MixedPrecision = std::conditional_t<std::is_same_v<T, bf16>, MasterWeights<Rule, D>, BasicOptimizer<Rule, T, D>>;

}  // namespace ward::optim
