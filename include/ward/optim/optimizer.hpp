#pragma once
// The part every optimiser shares: parameter groups (each with its own lr and weight decay), a
// global lr multiplier for schedules, step() and zero_grad(), per-parameter state, and saving and
// loading all of it (step counts, buffers, hyper-parameters) through safetensors.
//
// An optimiser is BasicOptimizer<Rule, T, D>; the Rule is the algorithm (sgd.hpp, adam.hpp):
//   options_type                        hyper-parameters; lr and weight_decay are the group defaults
//   name                                "sgd", "adam", ... (checked when state is loaded)
//   buffer_names                        std::array of per-parameter state tensor names
//   validate(options)                   throws value_error for out-of-range hyper-parameters
//   visit_hyper_parameters(options, f)  f(name, double& or bool&) for every hyper-parameter
//   buffer_expected(options, b, step)   whether buffer b must exist after `step` steps
//   update(options, value, grad, state, lr, weight_decay)
//                                       one step for one parameter (state.step already counts it);
//                                       writes value and the buffers in place
//   update_all(options, span<ParamStep>)  optional, for the (T, D) it is declared for: one step for
//                                       every parameter at once (a device's multi-tensor kernel),
//                                       called instead of update when the rule has it
//
// Saved state, under a caller's prefix (so one checkpoint can also hold the model's weights):
//   tensors   <prefix>state.<param name>.<buffer>          e.g. state.h.0.attn.w.exp_avg
//   metadata  <prefix>type, step_count, lr_multiplier, hyper.<name>, groups,
//             group.<i>.lr, group.<i>.weight_decay, group.<i>.params (a JSON list of names),
//             state.<param name>.step
// Numbers are written in the shortest form that reads back to the same double, so a resumed run
// is bit-identical to an uninterrupted one.

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/optim/parameter.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/reduce.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::optim {

/// Parameters that share a learning rate and weight decay; unset values take the optimiser's.
template <FloatElement T, Device D = cpu>
struct ParamGroup {
    ParameterList<T, D> params;
    std::optional<double> lr;
    std::optional<double> weight_decay;
};

/// One parameter's optimiser state: steps taken and the rule's buffers (undefined until created).
template <FloatElement T, Device D, std::size_t N>
struct ParamState {
    std::int64_t step = 0;
    std::array<Tensor<T, D>, N> buffers;
};

/// One parameter's share of a step, for a rule that updates every parameter in one call: the
/// parameter, its state (step already counting this step), and its group's lr (times the
/// multiplier) and weight decay.
template <FloatElement T, Device D, std::size_t N>
struct ParamStep {
    Parameter<T, D>* param;
    ParamState<T, D, N>* state;
    double lr, weight_decay;
};

namespace detail {
template <class Rule, class T, class D, std::size_t N>
concept updates_all = requires(const typename Rule::options_type& o, std::span<ParamStep<T, D, N>> all) {
    Rule::update_all(o, all);
};
}  // namespace detail

/// What a training loop and a checkpoint need from any optimiser.
template <class O>
concept Optimizer = requires(O& o, const O& c, io::SafetensorsWriter& w, const io::SafetensorsFile& f, double m) {
    o.step();
    o.zero_grad();
    o.set_lr_multiplier(m);
    { c.step_count() } -> std::convertible_to<std::int64_t>;
    c.write_state(w, std::string_view{});
    o.read_state(f, std::string_view{});
};

namespace detail {

inline std::string format_number(double x) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x);  // shortest round-trip form
    return std::string(buf, r.ptr);
}
inline std::string format_number(std::int64_t x) { return std::to_string(x); }

/// The metadata value of `key`, parsed as a number; parse_error naming the file and key otherwise.
template <class N>
N metadata_number(const io::SafetensorsFile& f, const std::string& key) {
    auto it = f.metadata().find(key);
    if (it == f.metadata().end())
        throw parse_error("optimizer state in '" + f.path().string() + "': missing metadata \"" + key + "\"");
    const std::string& s = it->second;
    N value{};
    auto r = std::from_chars(s.data(), s.data() + s.size(), value);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
        throw parse_error("optimizer state in '" + f.path().string() + "': metadata \"" + key + "\" = \"" + s +
                          "\" is not a number");
    return value;
}

}  // namespace detail

template <class Rule, FloatElement T, Device D = cpu>
class BasicOptimizer {
public:
    using options_type = typename Rule::options_type;
    using group_type = ParamGroup<T, D>;
    static constexpr std::size_t num_buffers = Rule::buffer_names.size();
    using state_type = ParamState<T, D, num_buffers>;

    /// One group holding every parameter, with the options' lr and weight decay.
    explicit BasicOptimizer(ParameterList<T, D> params, options_type options = {})
        : BasicOptimizer(std::vector<group_type>{group_type{std::move(params), std::nullopt, std::nullopt}}, options) {}
    BasicOptimizer(std::vector<group_type> groups, options_type options) : options_(options) {
        Rule::validate(options_);
        for (auto& g : groups) add_param_group(std::move(g));
    }

    /// Adds a group (its parameters start with fresh state). Names must be unique and non-empty:
    /// saved state is keyed by them.
    void add_param_group(group_type g) {
        if (!g.lr) g.lr = options_.lr;
        if (!g.weight_decay) g.weight_decay = options_.weight_decay;
        check_group_hyper_parameters(*g.lr, *g.weight_decay, groups_.size());
        auto index = index_;
        for (std::size_t i = 0; i < g.params.size(); ++i) {
            const auto& p = g.params[i];
            if (p.name.empty()) throw value_error(std::string(Rule::name) + ": every parameter needs a name (state is saved by name)");
            if (!index.emplace(p.name, std::pair{groups_.size(), i}).second)
                throw value_error(std::string(Rule::name) + ": parameter '" + p.name + "' appears twice");
            check_parameter(p);
        }
        index_ = std::move(index);
        states_.emplace_back(g.params.size());
        groups_.push_back(std::move(g));
    }

    /// One update of every parameter. Unless disabled, first checks that every gradient is finite
    /// (value_error naming the parameter, before anything is written: never step on NaN).
    void step() {
        if (check_finite_) {
            for (const auto& g : groups_)
                for (const auto& p : g.params) {
                    check_parameter(p);
                    if (p.grad.numel() == 0) continue;
                    double m = static_cast<double>(ward::max(ward::abs(p.grad)).item());
                    if (!std::isfinite(m))
                        throw value_error(std::string(Rule::name) + ": gradient of parameter '" + p.name +
                                          "' is not finite (max |g| = " + std::to_string(m) + "); no parameter was updated");
                }
        }
        if constexpr (detail::updates_all<Rule, T, D, num_buffers>) {
            // Every parameter in one call (the device's multi-tensor kernel): checked first, then stepped.
            if (!check_finite_)
                for (const auto& g : groups_)
                    for (const auto& p : g.params) check_parameter(p);
            std::vector<ParamStep<T, D, num_buffers>> all;
            for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
                group_type& g = groups_[gi];
                const double lr = *g.lr * lr_multiplier_;
                for (std::size_t i = 0; i < g.params.size(); ++i) {
                    state_type& s = states_[gi][i];
                    ++s.step;
                    all.push_back({&g.params[i], &s, lr, *g.weight_decay});
                }
            }
            Rule::update_all(options_, std::span<ParamStep<T, D, num_buffers>>(all));
        } else {
            for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
                group_type& g = groups_[gi];
                const double lr = *g.lr * lr_multiplier_;
                for (std::size_t i = 0; i < g.params.size(); ++i) {
                    Parameter<T, D>& p = g.params[i];
                    if (!check_finite_) check_parameter(p);
                    state_type& s = states_[gi][i];
                    ++s.step;
                    Rule::update(options_, p.value, p.grad, s, lr, *g.weight_decay);
                }
            }
        }
        ++steps_;
    }

    /// Sets every gradient to zero (in place: the autograd layer keeps its handles).
    void zero_grad() {
        for (auto& g : groups_)
            for (auto& p : g.params) p.grad.fill(typename Tensor<T, D>::value_type(0));
    }

    // ---- learning rates ----------------------------------------------------------------------
    /// Scales every group's lr (what a schedule sets each step: opt.set_lr_multiplier(sched(opt.step_count()))).
    void set_lr_multiplier(double m) {
        if (!(m >= 0) || !std::isfinite(m)) throw value_error(std::string(Rule::name) + ": lr multiplier must be finite and >= 0, got " + std::to_string(m));
        lr_multiplier_ = m;
    }
    double lr_multiplier() const { return lr_multiplier_; }
    /// A group's base lr (before the multiplier), and the lr its next step uses.
    double lr(std::size_t group = 0) const { return *groups_.at(group).lr; }
    double effective_lr(std::size_t group = 0) const { return lr(group) * lr_multiplier_; }
    void set_lr(std::size_t group, double lr) {
        check_group_hyper_parameters(lr, *groups_.at(group).weight_decay, group);
        groups_[group].lr = lr;
    }

    // ---- inspection ----------------------------------------------------------------------------
    const options_type& options() const { return options_; }
    const std::vector<group_type>& groups() const { return groups_; }
    /// Every parameter (handles, in group order): what clip_grad_norm takes.
    ParameterList<T, D> parameters() const {
        ParameterList<T, D> out;
        for (const auto& g : groups_) out.insert(out.end(), g.params.begin(), g.params.end());
        return out;
    }
    /// step() calls so far (what schedules are evaluated at).
    std::int64_t step_count() const { return steps_; }
    /// A parameter's state; index_error for an unknown name.
    const state_type& state(const std::string& param) const {
        auto it = index_.find(param);
        if (it == index_.end()) throw index_error(std::string(Rule::name) + ": no parameter named '" + param + "'");
        return states_[it->second.first][it->second.second];
    }
    /// Checks gradients for NaN/inf in step() (one extra read of each gradient); on by default.
    void set_check_finite(bool on) { check_finite_ = on; }

    // ---- saving and loading ------------------------------------------------------------------
    /// Adds the state to a writer (tensors by handle: call w.save() before the next step()).
    void write_state(io::SafetensorsWriter& w, std::string_view prefix = {}) const {
        const std::string pre(prefix);
        w.add_metadata(pre + "type", std::string(Rule::name));
        w.add_metadata(pre + "step_count", detail::format_number(steps_));
        w.add_metadata(pre + "lr_multiplier", detail::format_number(lr_multiplier_));
        Rule::visit_hyper_parameters(options_, [&](std::string_view name, const auto& v) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>)
                w.add_metadata(pre + "hyper." + std::string(name), v ? "1" : "0");
            else
                w.add_metadata(pre + "hyper." + std::string(name), detail::format_number(v));
        });
        w.add_metadata(pre + "groups", std::to_string(groups_.size()));
        for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
            const std::string g = pre + "group." + std::to_string(gi) + ".";
            w.add_metadata(g + "lr", detail::format_number(*groups_[gi].lr));
            w.add_metadata(g + "weight_decay", detail::format_number(*groups_[gi].weight_decay));
            nlohmann::json names = nlohmann::json::array();
            for (const auto& p : groups_[gi].params) names.push_back(p.name);
            w.add_metadata(g + "params", names.dump());
            for (std::size_t i = 0; i < groups_[gi].params.size(); ++i) {
                const std::string s = pre + "state." + groups_[gi].params[i].name + ".";
                const state_type& st = states_[gi][i];
                w.add_metadata(s + "step", detail::format_number(st.step));
                for (std::size_t b = 0; b < num_buffers; ++b)
                    if (st.buffers[b].defined()) w.add(s + std::string(Rule::buffer_names[b]), st.buffers[b]);
            }
        }
    }

    /// Restores what write_state saved. The groups must hold the same parameter names in the same
    /// order (value_error otherwise); hyper-parameters and lrs are taken from the file, as PyTorch's
    /// load_state_dict does. Everything is read and checked before anything here changes.
    void read_state(const io::SafetensorsFile& f, std::string_view prefix = {}) {
        const std::string pre(prefix), where = "optimizer state in '" + f.path().string() + "'";
        auto meta = [&](const std::string& key) -> const std::string& {
            auto it = f.metadata().find(key);
            if (it == f.metadata().end()) throw parse_error(where + ": missing metadata \"" + key + "\"");
            return it->second;
        };
        if (meta(pre + "type") != Rule::name)
            throw value_error(where + " is for a '" + meta(pre + "type") + "' optimizer, not '" + std::string(Rule::name) + "'");
        options_type options = options_;
        Rule::visit_hyper_parameters(options, [&](std::string_view name, auto& v) {
            const std::string key = pre + "hyper." + std::string(name);
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>) {
                const std::string& s = meta(key);
                if (s != "0" && s != "1") throw parse_error(where + ": metadata \"" + key + "\" = \"" + s + "\" is not 0 or 1");
                v = s == "1";
            } else {
                v = detail::metadata_number<double>(f, key);
            }
        });
        try {  // the rule's and the groups' checks name the optimiser, not the file
            Rule::validate(options);
        } catch (const value_error& e) {
            throw value_error(where + ": " + e.what());
        }
        const auto steps = detail::metadata_number<std::int64_t>(f, pre + "step_count");
        const auto multiplier = detail::metadata_number<double>(f, pre + "lr_multiplier");
        const auto n_groups = detail::metadata_number<std::int64_t>(f, pre + "groups");
        if (n_groups != static_cast<std::int64_t>(groups_.size()))
            throw value_error(where + " has " + std::to_string(n_groups) + " parameter groups, this optimizer " +
                              std::to_string(groups_.size()));
        std::vector<std::pair<double, double>> group_hypers;
        std::vector<std::vector<state_type>> states(groups_.size());
        for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
            const std::string g = pre + "group." + std::to_string(gi) + ".";
            std::vector<std::string> saved;
            try {
                const nlohmann::json parsed = nlohmann::json::parse(meta(g + "params"));
                saved = parsed.get<std::vector<std::string>>();
            } catch (const nlohmann::json::exception& e) {
                throw parse_error(where + ": metadata \"" + g + "params\" is not a JSON list of names: " + e.what());
            }
            const auto& params = groups_[gi].params;
            for (std::size_t i = 0; i < std::max(saved.size(), params.size()); ++i) {
                std::string have = i < params.size() ? "'" + params[i].name + "'" : "nothing";
                std::string had = i < saved.size() ? "'" + saved[i] + "'" : "nothing";
                if (have != had)
                    throw value_error(where + ": group " + std::to_string(gi) + " parameter " + std::to_string(i) + " is " +
                                      had + " in the file but " + have + " here");
            }
            double lr = detail::metadata_number<double>(f, g + "lr");
            double wd = detail::metadata_number<double>(f, g + "weight_decay");
            try {
                check_group_hyper_parameters(lr, wd, gi);
            } catch (const value_error& e) {
                throw value_error(where + ": " + e.what());
            }
            group_hypers.emplace_back(lr, wd);
            for (const auto& p : params) {
                const std::string s = pre + "state." + p.name + ".";
                state_type st;
                st.step = detail::metadata_number<std::int64_t>(f, s + "step");
                if (st.step < 0) throw parse_error(where + ": negative step count for parameter '" + p.name + "'");
                for (std::size_t b = 0; b < num_buffers; ++b) {
                    const std::string name = s + std::string(Rule::buffer_names[b]);
                    if (!f.contains(name)) {
                        if (Rule::buffer_expected(options, b, st.step))
                            throw parse_error(where + ": missing tensor '" + name + "' for parameter '" + p.name + "' after " +
                                              std::to_string(st.step) + " steps");
                        continue;
                    }
                    st.buffers[b] = f.get<T, D>(name);
                    if (!(st.buffers[b].shape() == p.value.shape()))
                        throw shape_error(where + ": tensor '" + name + "' has shape " + st.buffers[b].shape().str() +
                                          ", parameter '" + p.name + "' " + p.value.shape().str());
                }
                states[gi].push_back(std::move(st));
            }
        }
        if (steps < 0) throw parse_error(where + ": negative step_count");
        if (!(multiplier >= 0) || !std::isfinite(multiplier)) throw parse_error(where + ": invalid lr_multiplier");
        // Everything checked: commit.
        options_ = options;
        for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
            groups_[gi].lr = group_hypers[gi].first;
            groups_[gi].weight_decay = group_hypers[gi].second;
        }
        states_ = std::move(states);
        steps_ = steps;
        lr_multiplier_ = multiplier;
    }

    /// The state alone in one file, written atomically.
    void save_state(const std::filesystem::path& path) const {
        io::SafetensorsWriter w;
        write_state(w);
        w.save(path);
    }
    void load_state(const std::filesystem::path& path) { read_state(io::SafetensorsFile(path)); }

private:
    options_type options_;
    std::vector<group_type> groups_;
    std::vector<std::vector<state_type>> states_;               // parallel to groups_[g].params
    std::map<std::string, std::pair<std::size_t, std::size_t>> index_;  // name -> (group, position)
    std::int64_t steps_ = 0;
    double lr_multiplier_ = 1.0;
    bool check_finite_ = true;

    static void check_group_hyper_parameters(double lr, double wd, std::size_t group) {
        if (!(lr >= 0) || !std::isfinite(lr))
            throw value_error(std::string(Rule::name) + ": group " + std::to_string(group) + ": invalid lr " + std::to_string(lr));
        if (!(wd >= 0) || !std::isfinite(wd))
            throw value_error(std::string(Rule::name) + ": group " + std::to_string(group) + ": invalid weight_decay " +
                              std::to_string(wd));
    }
    static void check_parameter(const Parameter<T, D>& p) {
        if (!p.value.defined() || !p.grad.defined())
            throw value_error(std::string(Rule::name) + ": parameter '" + p.name + "' has an undefined value or gradient");
        if (!(p.value.shape() == p.grad.shape()))
            throw shape_error(std::string(Rule::name) + ": parameter '" + p.name + "' has shape " + p.value.shape().str() +
                              " but its gradient " + p.grad.shape().str());
    }
};

}  // namespace ward::optim
