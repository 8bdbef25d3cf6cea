#pragma once
// Dual numbers v + d·ε (ε² = 0) for forward-mode derivatives of element-wise functions: running
// an expression on Duals whose d is 1 for one input gives f and ∂f/∂input in one pass. The math
// overloads sit in ward::math beside the float ones, so every functor works on Duals unchanged.

#include "ward/core/config.hpp"

namespace ward {

template <class V>
struct Dual {
    V v{};  // value
    V d{};  // derivative along the seeded input

    Dual() = default;
    WARD_HOST_DEVICE constexpr Dual(V value, V derivative) : v(value), d(derivative) {}
    WARD_HOST_DEVICE constexpr explicit Dual(double c) : v(static_cast<V>(c)), d(0) {}  // a constant

    WARD_HOST_DEVICE friend Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.d + b.d}; }
    WARD_HOST_DEVICE friend Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.d - b.d}; }
    WARD_HOST_DEVICE friend Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
    WARD_HOST_DEVICE friend Dual operator/(Dual a, Dual b) { return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)}; }
    WARD_HOST_DEVICE friend Dual operator-(Dual a) { return {-a.v, -a.d}; }
    // Comparisons look at values only: branches (relu, clamp, where) pick a side, as in autograd.
    WARD_HOST_DEVICE friend bool operator<(Dual a, Dual b) { return a.v < b.v; }
    WARD_HOST_DEVICE friend bool operator>(Dual a, Dual b) { return a.v > b.v; }
    WARD_HOST_DEVICE friend bool operator<=(Dual a, Dual b) { return a.v <= b.v; }
    WARD_HOST_DEVICE friend bool operator>=(Dual a, Dual b) { return a.v >= b.v; }
    WARD_HOST_DEVICE friend bool operator==(Dual a, Dual b) { return a.v == b.v; }
    WARD_HOST_DEVICE friend bool operator!=(Dual a, Dual b) { return a.v != b.v; }
};

template <class X>
inline constexpr bool is_dual_v = false;
template <class V>
inline constexpr bool is_dual_v<Dual<V>> = true;

namespace math {
template <class V>
WARD_HOST_DEVICE Dual<V> exp(Dual<V> x) {
    V e = exp(x.v);
    return {e, x.d * e};
}
template <class V>
WARD_HOST_DEVICE Dual<V> log(Dual<V> x) { return {log(x.v), x.d / x.v}; }
template <class V>
WARD_HOST_DEVICE Dual<V> log1p(Dual<V> x) { return {log1p(x.v), x.d / (V(1) + x.v)}; }
template <class V>
WARD_HOST_DEVICE Dual<V> sqrt(Dual<V> x) {
    V s = sqrt(x.v);
    return {s, x.d / (V(2) * s)};
}
template <class V>
WARD_HOST_DEVICE Dual<V> tanh(Dual<V> x) {
    V t = tanh(x.v);
    return {t, x.d * (V(1) - t * t)};
}
template <class V>
WARD_HOST_DEVICE Dual<V> sin(Dual<V> x) { return {sin(x.v), x.d * cos(x.v)}; }
template <class V>
WARD_HOST_DEVICE Dual<V> cos(Dual<V> x) { return {cos(x.v), -x.d * sin(x.v)}; }
template <class V>
WARD_HOST_DEVICE Dual<V> fabs(Dual<V> x) { return x.v < V(0) ? -x : x; }
/// x^y: d = y x^(y-1) dx + x^y ln(x) dy (the second term only where y carries a derivative).
template <class V>
WARD_HOST_DEVICE Dual<V> pow(Dual<V> x, Dual<V> y) {
    V p = pow(x.v, y.v);
    V d = x.d * y.v * pow(x.v, y.v - V(1));
    if (y.d != V(0)) d += y.d * p * log(x.v);
    return {p, d};
}
}  // namespace math

}  // namespace ward
