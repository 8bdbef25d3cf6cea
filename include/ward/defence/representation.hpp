#pragma once
// Terms on hidden states against a frozen reference model: representation retain (stay close where
// behaviour should not change), RMU (steer harmful representations at one layer to a fixed random
// direction, retain the harmless ones), and the circuit-breaker cosine term (make harmful
// representations orthogonal to the reference model's).

#include <cmath>
#include <string>
#include <vector>

#include "ward/autograd/reduce.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/defence/term.hpp"
#include "ward/tensor/expr.hpp"

namespace ward::defence {

namespace detail {
inline std::vector<int> layers_or_all(const std::vector<int>& layers, std::size_t n, const char* term) {
    std::vector<int> use = layers;
    if (use.empty())
        for (int l = 0; l < static_cast<int>(n); ++l) use.push_back(l);
    for (int l : use)
        if (l < 0 || l >= static_cast<int>(n))
            throw index_error(std::string(term) + ": layer " + std::to_string(l) + " of " + std::to_string(n));
    return use;
}

/// Mean over the masked positions of a per-position value v (B, T).
template <FloatElement T, Device D>
ag::Var<T, D> masked_mean(const ag::Var<T, D>& v, const Tensor<T, D>& mask) {
    const double count = double(ward::sum(mask).item());
    if (!(count > 0)) throw value_error("defence term: no position is selected by the mask");
    return ag::sum(v * ag::Var<T, D>(mask)) / count;
}

/// Per-position Euclidean norm of (B, T, C) -> (B, T); eps keeps the gradient finite at 0.
template <FloatElement T, Device D>
ag::Var<T, D> row_norm(const ag::Var<T, D>& x) {
    return ag::sqrt(ag::sum(x * x, -1) + 1e-12);
}
}  // namespace detail

/// Retain: mean over layers of the mean over real positions of ||h - h_ref||, on one side
/// (by default the harmless one).
struct Retain : TermBase {
    std::vector<int> layers;  // empty: every layer
    Side side = Side::harmless;
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        const auto& f = ctx.forward(side);
        const auto& r = ctx.reference(side);
        ag::Var<T, D> total;
        auto use = detail::layers_or_all(layers, f.hidden.size(), "retain");
        for (int l : use) {
            auto d = detail::masked_mean(detail::row_norm(f.hidden[l] - r.hidden[l].detach()), ctx.real(side));
            total = total.defined() ? total + d : d;
        }
        return total / double(use.size());
    }
    std::string name() const { return "retain"; }
};
inline Retain retain(std::vector<int> layers = {}, Side side = Side::harmless) { return {{}, std::move(layers), side}; }

/// RMU (Li et al. 2024): at one layer, mean squared error between the harmful hidden states and
/// steer * u (u a fixed random unit vector), plus retain_weight times the mean squared error between
/// the harmless hidden states and the reference model's.
struct Rmu : TermBase {
    int layer = 0;
    double steer = 6.5;
    double retain_weight = 1.0;
    std::uint64_t seed = 0;  // u depends on this seed alone, so it stays fixed across steps
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        using V = compute_t<T>;
        const auto& f = ctx.harmful();
        detail::layers_or_all({layer}, f.hidden.size(), "rmu");
        const auto& h = f.hidden[layer];
        const index_t C = h.size(2);
        Generator gen(seed, 0x726d75u);
        Tensor<T, D> u(uniform<V, D>(gen, {C}, V(0), V(1)));
        u = Tensor<T, D>(u * V(steer / std::sqrt(double(ward::sum(u * u).item()))));
        const index_t C1 = C;
        auto mse = [C1](const ag::Var<T, D>& d, const Tensor<T, D>& mask) {
            return detail::masked_mean(ag::sum(d * d, -1), mask) / double(C1);
        };
        ag::Var<T, D> forget = mse(h - ag::Var<T, D>(u), ctx.batch().differs);
        const auto& hs = ctx.harmless().hidden[layer];
        const auto& hr = ctx.reference(Side::harmless).hidden[layer];
        return forget + mse(hs - hr.detach(), ctx.real(Side::harmless)) * retain_weight;
    }
    std::string name() const { return "rmu"; }
};
inline Rmu rmu(int layer, double steer = 6.5, double retain_weight = 1.0, std::uint64_t seed = 0) {
    return {{}, layer, steer, retain_weight, seed};
}

/// Circuit breaker (Zou et al. 2024): mean over layers and harmful answer positions of
/// relu(cos(h, h_ref)), which is zero once the harmful representations are orthogonal to (or point
/// away from) the reference model's.
struct CircuitBreaker : TermBase {
    std::vector<int> layers;  // empty: every layer
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        const auto& f = ctx.harmful();
        const auto& r = ctx.reference(Side::harmful);
        ag::Var<T, D> total;
        auto use = detail::layers_or_all(layers, f.hidden.size(), "circuit_breaker");
        for (int l : use) {
            const auto& h = f.hidden[l];
            ag::Var<T, D> ref = r.hidden[l].detach();
            ag::Var<T, D> cos = ag::sum(h * ref, -1) / (detail::row_norm(h) * detail::row_norm(ref));
            auto d = detail::masked_mean(ag::relu(cos), ctx.batch().differs);
            total = total.defined() ? total + d : d;
        }
        return total / double(use.size());
    }
    std::string name() const { return "circuit_breaker"; }
};
inline CircuitBreaker circuit_breaker(std::vector<int> layers = {}) { return {{}, std::move(layers)}; }

}  // namespace ward::defence
