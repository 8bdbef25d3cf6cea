#pragma once
// Defences against unsafe feedback that act on the RL objective, as composable pieces. A constraint
// sees each batch of policy samples (their mean cost and KL), shapes the signals the policy update
// is computed from, and may add a loss term of its own to every update:
//
//   rl::kl_penalty(0.05)                            r_t -= beta KL_t (per token), beta fixed
//   rl::adaptive_kl({.init = 0.1, .target = 4})     the same, beta from Ziegler et al.'s controller
//   rl::reward_shaping(1.0)                         r -= lambda c, lambda fixed
//   rl::lagrangian(cmdp::LogLagrangeMultiplier(o))  A = (A_R - lambda A_C) / (1 + lambda), lambda from the
//                                                   multiplier's update on each batch's mean cost (Safe-RLHF;
//                                                   cmdp::LagrangeMultiplier for OmniSafe's form,
//                                                   cmdp::PidLagrangeMultiplier for Stooke et al.'s)
//   rl::refusal_loss(...), rl::online(...), rl::lisa(...)   loss terms (rl/online_defence.hpp)
//
// Pieces compose with + and scalar * (like the defence terms of defence/term.hpp), so a user swaps one
// for another in one line:  auto c = rl::kl_penalty(0.05) + rl::lagrangian(cmdp::PidLagrangeMultiplier(p));
// A weight scales everything a piece contributes (its change to the signals and its loss).
//
// The multipliers and the KL controller are deterministic functions of what they observed, so their
// checkpoint state is that sequence (as JSON metadata), replayed on resume: the resumed lambda is the
// uninterrupted run's, bit for bit, without reaching into the multipliers' internals.

#include <cmath>
#include <concepts>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/autograd/elementwise.hpp"
#include "ward/cmdp/multiplier.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/rl/kl.hpp"

namespace ward::rl {

inline constexpr double unmeasured = std::numeric_limits<double>::quiet_NaN();

/// What constraints observe once per batch of policy samples.
struct Measurement {
    double cost = unmeasured;  // mean cost per sample (NaN without a cost scorer)
    double kl = unmeasured;    // mean KL(pi || pi_ref) per sample (sequence)
    double samples = 0;
};

/// The signals one batch of samples is learnt from, as the constraints shape them.
struct Signals {
    std::vector<double> reward;  // per sample
    std::vector<double> cost;    // per sample (empty without a cost scorer)
    double kl_coef = 0;          // per-token KL penalty folded into the reward
    double cost_coef = 0;        // lambda of the advantage mix A_R - lambda A_C
    bool normalise = false;      // divide the mix by 1 + lambda (Safe-RLHF, OmniSafe)
};

/// What a constraint's loss term sees at one optimiser step of the policy (on either device).
template <FloatElement T, Device D = cpu>
struct UpdateContext {
    nn::CausalLM<T, D>& model;
    const nn::CausalLM<T, D>* reference = nullptr;
    index_t step = 0;
    std::uint64_t seed = 0;
    double attack_weight = 1;               // the weight of the procedure's own loss at this step (Lisa's alignment state: 0)
    std::map<std::string, double> values;  // the terms' values, for the logs
};

/// A constraint also has loss(UpdateContext<T, D>&) -> ag::Var<T, D> (an undefined Var: no term), for
/// the policy's element type and device (ConstraintOn checks it for one pair).
template <class C>
concept Constraint = requires(C& c, const C& cc, const Measurement& m, Signals& s, std::map<std::string, double>& log,
                              io::SafetensorsWriter& w, const io::SafetensorsFile& f, const std::string& prefix) {
    { cc.name() } -> std::convertible_to<std::string>;
    { cc.needs_cost() } -> std::convertible_to<bool>;    // shape() reads Signals::cost
    { cc.uses_samples() } -> std::convertible_to<bool>;  // observe() and shape() matter (DPO samples only for these)
    c.observe(m);
    cc.shape(s);
    cc.report(log);  // current values (lambda, beta) for the logs
    cc.write(w, prefix);
    cc.check(f, prefix);
    c.read(f, prefix);
};

template <class C, class T, class D>
concept ConstraintOn = Constraint<C> && requires(C& c, UpdateContext<T, D>& u) {
    { c.loss(u) } -> std::same_as<ag::Var<T, D>>;
};

/// Defaults for every hook; pieces derive from it (which also brings +, * by argument-dependent lookup).
struct ConstraintBase {
    bool needs_cost() const { return false; }
    bool uses_samples() const { return false; }
    void observe(const Measurement&) {}
    void shape(Signals&) const {}
    template <FloatElement T, Device D>
    ag::Var<T, D> loss(UpdateContext<T, D>&) { return {}; }
    void report(std::map<std::string, double>&) const {}
    void write(io::SafetensorsWriter&, const std::string&) const {}
    void check(const io::SafetensorsFile&, const std::string&) const {}
    void read(const io::SafetensorsFile&, const std::string&) {}
};

namespace detail {

/// A sequence of measurements kept for the checkpoint, and read back from it.
struct Observed {
    std::vector<Measurement> seen;
    static nlohmann::json number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }
    void write(io::SafetensorsWriter& w, const std::string& key) const {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& m : seen) a.push_back({number(m.cost), number(m.kl), m.samples});
        w.add_metadata(key, a.dump());
    }
    static void check(const io::SafetensorsFile& f, const std::string& key) {
        if (!f.metadata().count(key)) throw parse_error(f.path().string() + ": checkpoint has no constraint state '" + key + "'");
    }
    void read(const io::SafetensorsFile& f, const std::string& key) {
        check(f, key);
        seen.clear();
        try {
            for (const auto& e : nlohmann::json::parse(f.metadata().at(key))) {
                auto num = [](const nlohmann::json& v) { return v.is_null() ? unmeasured : v.get<double>(); };
                seen.push_back({num(e.at(0)), num(e.at(1)), e.at(2).get<double>()});
            }
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(f.path().string() + ": constraint state '" + key + "' is malformed: " + e.what());
        }
    }
};

inline void require_cost(const Signals& s, const std::string& who) {
    if (s.cost.size() != s.reward.size())
        throw value_error(who + " needs a cost per sample: " + std::to_string(s.cost.size()) + " costs for " + std::to_string(s.reward.size()) +
                          " samples (was a cost scorer given?)");
}

}  // namespace detail

/// No constraint: the undefended objective.
struct Unconstrained : ConstraintBase {
    std::string name() const { return "none"; }
};
inline Unconstrained none() { return {}; }

/// A fixed per-token KL penalty to the reference: r_t -= beta KL_t.
struct KlPenalty : ConstraintBase {
    double beta = 0.05;
    std::string name() const { return "kl(" + std::to_string(beta) + ")"; }
    bool uses_samples() const { return true; }
    void shape(Signals& s) const { s.kl_coef += beta; }
    void report(std::map<std::string, double>& log) const { log["kl_coef"] += beta; }
};
inline KlPenalty kl_penalty(double beta) {
    if (!(beta >= 0) || !std::isfinite(beta)) throw value_error("kl_penalty: beta must be finite and >= 0, got " + std::to_string(beta));
    KlPenalty k;
    k.beta = beta;
    return k;
}

/// The KL penalty with beta from the adaptive controller (rl/kl.hpp), updated on each batch's mean KL.
struct AdaptiveKl : ConstraintBase {
    AdaptiveKlController initial, current;
    detail::Observed observed;
    explicit AdaptiveKl(const AdaptiveKlOptions& o) : initial(o), current(o) {}
    std::string name() const { return "adaptive-kl(target " + std::to_string(initial.options().target) + ")"; }
    bool uses_samples() const { return true; }
    void observe(const Measurement& m) {
        current.update(m.kl, m.samples);
        observed.seen.push_back(m);
    }
    void shape(Signals& s) const { s.kl_coef += current.value(); }
    void report(std::map<std::string, double>& log) const { log["kl_coef"] += current.value(); }
    void write(io::SafetensorsWriter& w, const std::string& prefix) const { observed.write(w, prefix + "adaptive_kl"); }
    void check(const io::SafetensorsFile& f, const std::string& prefix) const { detail::Observed::check(f, prefix + "adaptive_kl"); }
    void read(const io::SafetensorsFile& f, const std::string& prefix) {
        observed.read(f, prefix + "adaptive_kl");
        current = initial;
        for (const auto& m : observed.seen) current.update(m.kl, m.samples);
    }
};
inline AdaptiveKl adaptive_kl(const AdaptiveKlOptions& o) { return AdaptiveKl(o); }

/// Reward shaping with a fixed multiplier: r -= lambda c per sample.
struct RewardShaping : ConstraintBase {
    double lambda = 1.0;
    std::string name() const { return "reward-shaping(" + std::to_string(lambda) + ")"; }
    bool needs_cost() const { return true; }
    bool uses_samples() const { return true; }
    void shape(Signals& s) const {
        detail::require_cost(s, "reward shaping");
        for (std::size_t i = 0; i < s.reward.size(); ++i) s.reward[i] -= lambda * s.cost[i];
    }
    void report(std::map<std::string, double>& log) const { log["lambda"] += lambda; }
};
inline RewardShaping reward_shaping(double lambda) {
    if (!(lambda >= 0) || !std::isfinite(lambda)) throw value_error("reward_shaping: lambda must be finite and >= 0, got " + std::to_string(lambda));
    RewardShaping r;
    r.lambda = lambda;
    return r;
}

/// The Lagrangian: lambda from any cmdp::Multiplier, updated once per batch on its mean cost; the
/// policy learns from (A_R - lambda A_C) / (1 + lambda).
template <cmdp::Multiplier M>
struct Lagrangian : ConstraintBase {
    M initial, current;
    detail::Observed observed;
    explicit Lagrangian(M m) : initial(m), current(std::move(m)) {}
    std::string name() const { return "lagrangian(threshold " + std::to_string(current.threshold()) + ")"; }
    bool needs_cost() const { return true; }
    bool uses_samples() const { return true; }
    void observe(const Measurement& m) {
        if (std::isnan(m.cost)) throw value_error("lagrangian: no cost was measured (was a cost scorer given?)");
        current.update(m.cost);
        observed.seen.push_back(m);
    }
    void shape(Signals& s) const {
        detail::require_cost(s, "the Lagrangian");
        s.cost_coef += current.value();
        s.normalise = true;
    }
    double value() const { return current.value(); }
    double threshold() const { return current.threshold(); }
    void report(std::map<std::string, double>& log) const {
        log["lambda"] += current.value();
        log["cost_threshold"] = current.threshold();
    }
    void write(io::SafetensorsWriter& w, const std::string& prefix) const { observed.write(w, prefix + "lagrangian"); }
    void check(const io::SafetensorsFile& f, const std::string& prefix) const { detail::Observed::check(f, prefix + "lagrangian"); }
    void read(const io::SafetensorsFile& f, const std::string& prefix) {
        observed.read(f, prefix + "lagrangian");
        current = initial;
        for (const auto& m : observed.seen) current.update(m.cost);
    }
};
template <cmdp::Multiplier M>
Lagrangian<M> lagrangian(M multiplier) {
    return Lagrangian<M>(std::move(multiplier));
}

// ---- composition ------------------------------------------------------------------------------

template <Constraint A, Constraint B>
struct Both : ConstraintBase {
    A a;
    B b;
    Both(A x, B y) : a(std::move(x)), b(std::move(y)) {}
    std::string name() const { return a.name() + " + " + b.name(); }
    bool needs_cost() const { return a.needs_cost() || b.needs_cost(); }
    bool uses_samples() const { return a.uses_samples() || b.uses_samples(); }
    void observe(const Measurement& m) {
        a.observe(m);
        b.observe(m);
    }
    void shape(Signals& s) const {
        a.shape(s);
        b.shape(s);
    }
    template <FloatElement T, Device D>
    ag::Var<T, D> loss(UpdateContext<T, D>& u) {
        ag::Var<T, D> x = a.loss(u), y = b.loss(u);
        if (!x.defined()) return y;
        if (!y.defined()) return x;
        return x + y;
    }
    void report(std::map<std::string, double>& log) const {
        a.report(log);
        b.report(log);
    }
    void write(io::SafetensorsWriter& w, const std::string& prefix) const {
        a.write(w, prefix + "0.");
        b.write(w, prefix + "1.");
    }
    void check(const io::SafetensorsFile& f, const std::string& prefix) const {
        a.check(f, prefix + "0.");
        b.check(f, prefix + "1.");
    }
    void read(const io::SafetensorsFile& f, const std::string& prefix) {
        a.read(f, prefix + "0.");
        b.read(f, prefix + "1.");
    }
};

template <Constraint A>
struct Weighted : ConstraintBase {
    double weight;
    A a;
    Weighted(double w, A x) : weight(w), a(std::move(x)) {}
    std::string name() const { return std::to_string(weight) + " * (" + a.name() + ")"; }
    bool needs_cost() const { return a.needs_cost(); }
    bool uses_samples() const { return a.uses_samples(); }
    void observe(const Measurement& m) { a.observe(m); }
    /// The piece's change to the signals, scaled by the weight.
    void shape(Signals& s) const {
        Signals t = s;
        a.shape(t);
        for (std::size_t i = 0; i < s.reward.size(); ++i) s.reward[i] += weight * (t.reward[i] - s.reward[i]);
        s.kl_coef += weight * (t.kl_coef - s.kl_coef);
        s.cost_coef += weight * (t.cost_coef - s.cost_coef);
        s.normalise = s.normalise || t.normalise;
    }
    template <FloatElement T, Device D>
    ag::Var<T, D> loss(UpdateContext<T, D>& u) {
        ag::Var<T, D> x = a.loss(u);
        return x.defined() ? x * weight : x;
    }
    void report(std::map<std::string, double>& log) const {
        std::map<std::string, double> mine;
        a.report(mine);
        for (const auto& [k, v] : mine) log[k] += k == "cost_threshold" ? v : weight * v;
    }
    void write(io::SafetensorsWriter& w, const std::string& prefix) const { a.write(w, prefix + "w."); }
    void check(const io::SafetensorsFile& f, const std::string& prefix) const { a.check(f, prefix + "w."); }
    void read(const io::SafetensorsFile& f, const std::string& prefix) { a.read(f, prefix + "w."); }
};

template <Constraint A, Constraint B>
    requires std::derived_from<A, ConstraintBase> && std::derived_from<B, ConstraintBase>
Both<A, B> operator+(A a, B b) {
    return Both<A, B>(std::move(a), std::move(b));
}
template <Constraint A>
    requires std::derived_from<A, ConstraintBase>
Weighted<A> operator*(double w, A a) {
    if (!std::isfinite(w)) throw value_error("constraint weight must be finite, got " + std::to_string(w));
    return Weighted<A>(w, std::move(a));
}
template <Constraint A>
    requires std::derived_from<A, ConstraintBase>
Weighted<A> operator*(A a, double w) {
    return w * std::move(a);
}

static_assert(ConstraintOn<Unconstrained, float, cpu> && ConstraintOn<KlPenalty, float, cpu> && ConstraintOn<AdaptiveKl, float, cpu> &&
              ConstraintOn<RewardShaping, float, cpu> && ConstraintOn<Lagrangian<cmdp::LogLagrangeMultiplier>, bf16, cpu>);

/// The mixed advantage of one token: (A_R - lambda A_C), divided by 1 + lambda when normalised.
inline double mix_advantage(const Signals& s, double reward_advantage, double cost_advantage) {
    const double a = reward_advantage - s.cost_coef * cost_advantage;
    return s.normalise ? a / (1.0 + s.cost_coef) : a;
}

}  // namespace ward::rl
