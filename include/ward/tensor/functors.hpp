#pragma once
// The element-wise operations, as functors callable on host and device. An expression node
// applies one of these to its operands' values; the executor fuses a whole tree into one loop.

#include "ward/core/config.hpp"
#include "ward/core/math.hpp"

namespace ward::fn {

// ---- unary ----------------------------------------------------------------------------------
struct neg { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return -x; } };
struct exp { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return math::exp(x); } };
struct log { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return math::log(x); } };
struct sqrt { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return math::sqrt(x); } };
struct rsqrt { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return V(1) / math::sqrt(x); } };
struct log1p { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return math::log1p(x); } };
struct tanh { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return math::tanh(x); } };
struct abs { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return x < V(0) ? -x : x; } };
struct square { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return x * x; } };
struct relu { template <class V> WARD_HOST_DEVICE V operator()(V x) const { return x > V(0) ? x : V(0); } };
/// 1 / (1 + e^-x), written so that neither branch overflows.
struct sigmoid {
    template <class V>
    WARD_HOST_DEVICE V operator()(V x) const {
        if (x >= V(0)) return V(1) / (V(1) + math::exp(-x));
        V e = math::exp(x);
        return e / (V(1) + e);
    }
};
/// GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
struct gelu_tanh {
    template <class V>
    WARD_HOST_DEVICE V operator()(V x) const {
        const V k = V(0.7978845608028654);
        return V(0.5) * x * (V(1) + math::tanh(k * (x + V(0.044715) * x * x * x)));
    }
};
/// d/dx of gelu_tanh: 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)).
struct gelu_tanh_grad {
    template <class V>
    WARD_HOST_DEVICE V operator()(V x) const {
        const V k = V(0.7978845608028654), c = V(0.044715);
        V t = math::tanh(k * (x + c * x * x * x));
        return V(0.5) * (V(1) + t) + V(0.5) * x * (V(1) - t * t) * k * (V(1) + V(3) * c * x * x);
    }
};
/// sign(x): -1, 0 or 1.
struct sign {
    template <class V>
    WARD_HOST_DEVICE V operator()(V x) const { return x > V(0) ? V(1) : (x < V(0) ? V(-1) : V(0)); }
};
/// x^p for a fixed exponent (squares and square roots are special-cased: they are the common ones).
template <class V>
struct pow_scalar {
    V p;
    WARD_HOST_DEVICE V operator()(V x) const {
        if (p == V(2)) return x * x;
        if (p == V(1)) return x;
        if (p == V(0.5)) return math::sqrt(x);
        return math::pow(x, p);
    }
};
/// min(max(x, lo), hi).
template <class V>
struct clamp {
    V lo, hi;
    WARD_HOST_DEVICE V operator()(V x) const { return x < lo ? lo : (hi < x ? hi : x); }
};

// ---- binary ---------------------------------------------------------------------------------
struct add { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a + b; } };
struct sub { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a - b; } };
struct mul { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a * b; } };
struct div { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a / b; } };
struct pow { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return math::pow(a, b); } };
struct maximum { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a < b ? b : a; } };
struct minimum { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return b < a ? b : a; } };
// Comparisons give 1 or 0 in the operands' type, so masks compose with arithmetic and where().
struct lt { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a < b ? V(1) : V(0); } };
struct le { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a <= b ? V(1) : V(0); } };
struct gt { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a > b ? V(1) : V(0); } };
struct ge { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a >= b ? V(1) : V(0); } };
struct eq { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a == b ? V(1) : V(0); } };
struct ne { template <class V> WARD_HOST_DEVICE V operator()(V a, V b) const { return a != b ? V(1) : V(0); } };

}  // namespace ward::fn
