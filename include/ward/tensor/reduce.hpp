#pragma once
// Reductions over one axis or over everything: sum, mean, max, min, argmax, argmin, logsumexp.
// They read any expression without materialising it (the element-wise work fuses into the
// reduction's pass) and return a new tensor.

#include <cstdint>
#include <limits>

#include "ward/core/config.hpp"
#include "ward/core/math.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward {

namespace red {

/// f32 sums accumulate in f64: long rows (a loss over a whole batch) keep their precision.
template <class V>
using sum_acc_t = std::conditional_t<std::is_same_v<V, float>, double, V>;

template <class V>
struct sum {
    using acc_type = sum_acc_t<V>;
    using out_type = V;
    WARD_HOST_DEVICE acc_type init() const { return acc_type(0); }
    WARD_HOST_DEVICE void step(acc_type& a, V x, index_t) const { a += static_cast<acc_type>(x); }
    WARD_HOST_DEVICE void combine(acc_type& a, const acc_type& b) const { a += b; }
    WARD_HOST_DEVICE out_type finish(acc_type a, index_t) const { return static_cast<out_type>(a); }
};

template <class V>
struct mean : sum<V> {
    WARD_HOST_DEVICE V finish(typename sum<V>::acc_type a, index_t n) const {
        return static_cast<V>(a / static_cast<typename sum<V>::acc_type>(n));
    }
};

/// The identity of max (lowest) or min (highest): infinities for floats, the limits for integers.
template <class V, bool Greater>
WARD_HOST_DEVICE constexpr V extreme_identity() {
    if constexpr (std::numeric_limits<V>::has_infinity)
        return Greater ? -std::numeric_limits<V>::infinity() : std::numeric_limits<V>::infinity();
    else
        return Greater ? std::numeric_limits<V>::lowest() : std::numeric_limits<V>::max();
}

/// max (Greater = true) or min; NaN propagates, as in NumPy and PyTorch.
template <class V, bool Greater>
struct extreme {
    using acc_type = V;
    using out_type = V;
    WARD_HOST_DEVICE V init() const { return extreme_identity<V, Greater>(); }
    WARD_HOST_DEVICE void step(V& a, V x, index_t) const {
        if (math::isnan(a)) return;
        if (math::isnan(x) || (Greater ? x > a : x < a)) a = x;
    }
    WARD_HOST_DEVICE void combine(V& a, const V& b) const { step(a, b, 0); }
    WARD_HOST_DEVICE V finish(V a, index_t) const { return a; }
};

/// Index of the first maximum (or minimum); the first NaN wins, as in PyTorch. combine() is
/// commutative (ties go to the lower index), so partial results may come in any order.
template <class V, bool Greater>
struct arg_extreme {
    struct acc_type {
        V best;
        index_t index;
    };
    using out_type = std::int64_t;
    WARD_HOST_DEVICE acc_type init() const { return {V(0), -1}; }
    WARD_HOST_DEVICE void step(acc_type& a, V x, index_t j) const { combine(a, acc_type{x, j}); }
    WARD_HOST_DEVICE void combine(acc_type& a, const acc_type& b) const {
        if (b.index < 0) return;
        if (a.index < 0 || better(b, a)) a = b;
    }
    WARD_HOST_DEVICE out_type finish(acc_type a, index_t) const { return a.index; }

private:
    static WARD_HOST_DEVICE bool better(const acc_type& b, const acc_type& a) {
        bool bn = math::isnan(b.best), an = math::isnan(a.best);
        if (bn || an) return bn && (!an || b.index < a.index);
        if (b.best == a.best) return b.index < a.index;
        return Greater ? b.best > a.best : b.best < a.best;
    }
};

/// log(sum(exp(x))) in one pass: a running maximum m and the sum s of exp(x - m).
template <class V>
struct logsumexp {
    struct acc_type {
        V m;
        V s;
    };
    using out_type = V;
    WARD_HOST_DEVICE acc_type init() const { return {-std::numeric_limits<V>::infinity(), V(0)}; }
    WARD_HOST_DEVICE void step(acc_type& a, V x, index_t) const { combine(a, acc_type{x, V(1)}); }
    WARD_HOST_DEVICE void combine(acc_type& a, const acc_type& b) const {
        if (b.m == -std::numeric_limits<V>::infinity()) return;  // exp(-inf) adds nothing
        if (math::isnan(b.m) || math::isnan(a.m)) {
            a.m = math::isnan(a.m) ? a.m : b.m;
            return;
        }
        if (b.m > a.m) {
            a.s = a.s * math::exp(a.m - b.m) + b.s;
            a.m = b.m;
        } else {
            a.s += b.s * math::exp(b.m - a.m);
        }
    }
    WARD_HOST_DEVICE V finish(acc_type a, index_t) const {
        if (a.s == V(0)) return a.m;  // empty or all -inf
        if (a.m == std::numeric_limits<V>::infinity()) return a.m;
        return a.m + math::log(a.s);
    }
};

template <class V> using max_of = extreme<V, true>;
template <class V> using min_of = extreme<V, false>;
template <class V> using argmax_of = arg_extreme<V, true>;
template <class V> using argmin_of = arg_extreme<V, false>;

}  // namespace red

namespace detail {
/// Evaluates reducer R over `axis` of e (or over everything when all_axes), into a new tensor.
template <class R, Expression E>
auto reduce(const E& e, int axis, bool all_axes, bool keepdim) {
    using Out = typename R::out_type;
    using D = device_t<E>;
    Shape in = e.shape();
    int a = all_axes ? -1 : in.axis(axis);
    Shape out_shape;
    if (all_axes) {
        out_shape = keepdim ? Shape::of_rank(in.rank, 1) : Shape{};
    } else {
        out_shape = in;
        if (keepdim) {
            out_shape[a] = 1;
        } else {
            for (int d = a; d + 1 < in.rank; ++d) out_shape[d] = out_shape[d + 1];
            --out_shape.rank;
        }
    }
    index_t len = all_axes ? in.numel() : in[a];
    if (len == 0 && !std::is_same_v<R, red::sum<value_t<E>>> && !std::is_same_v<R, red::logsumexp<value_t<E>>>)
        throw shape_error("reduction over an empty axis of shape " + in.str());
    auto result = Tensor<Out, D>::empty(out_shape);
    Executor<D>::reduce(R{}, e.evaluator(in), in, a, result.view());
    return result;
}
}  // namespace detail

#define WARD_REDUCTION(name, reducer)                                                          \
    template <Expression E>                                                                    \
    auto name(const E& e, int axis, bool keepdim = false) {                                    \
        return detail::reduce<reducer>(e, axis, false, keepdim);                               \
    }                                                                                          \
    template <Expression E>                                                                    \
    auto name(const E& e) {                                                                    \
        return detail::reduce<reducer>(e, 0, true, false);                                     \
    }
WARD_REDUCTION(sum, red::sum<value_t<E>>)
WARD_REDUCTION(mean, red::mean<value_t<E>>)
WARD_REDUCTION(max, red::max_of<value_t<E>>)
WARD_REDUCTION(min, red::min_of<value_t<E>>)
WARD_REDUCTION(argmax, red::argmax_of<value_t<E>>)
WARD_REDUCTION(argmin, red::argmin_of<value_t<E>>)
WARD_REDUCTION(logsumexp, red::logsumexp<value_t<E>>)
#undef WARD_REDUCTION

}  // namespace ward
