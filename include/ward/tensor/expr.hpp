#pragma once
// Lazy element-wise expressions: scalars, unary and binary nodes, where(), casts and random
// leaves, with NumPy broadcasting. `a * b + exp(c)` builds a tree of nodes holding their
// operands (tensors by handle); assigning it evaluates the tree in one pass.

#include <type_traits>
#include <utility>

#include "ward/core/dtype.hpp"
#include "ward/core/rng.hpp"
#include "ward/core/shape.hpp"
#include "ward/tensor/expr_base.hpp"
#include "ward/tensor/functors.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward {

// ---- evaluators ------------------------------------------------------------------------------
template <class Op, class E>
struct UnaryEval {
    using value_type = typename E::value_type;
    Op op;
    E e;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) { e.seek(idx, outer); }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const { return op(e.template load<Unit>(j)); }
    template <class F>
    void for_each_strides(F&& f) { e.for_each_strides(f); }
};

template <class Op, class L, class R>
struct BinaryEval {
    using value_type = typename L::value_type;
    Op op;
    L l;
    R r;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) {
        l.seek(idx, outer);
        r.seek(idx, outer);
    }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const { return op(l.template load<Unit>(j), r.template load<Unit>(j)); }
    template <class F>
    void for_each_strides(F&& f) {
        l.for_each_strides(f);
        r.for_each_strides(f);
    }
};

template <class C, class A, class B>
struct WhereEval {
    using value_type = typename A::value_type;
    C c;
    A a;
    B b;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) {
        c.seek(idx, outer);
        a.seek(idx, outer);
        b.seek(idx, outer);
    }
    template <bool Unit>
    WARD_HOST_DEVICE value_type load(index_t j) const {
        return c.template load<Unit>(j) != typename C::value_type(0) ? a.template load<Unit>(j) : b.template load<Unit>(j);
    }
    template <class F>
    void for_each_strides(F&& f) {
        c.for_each_strides(f);
        a.for_each_strides(f);
        b.for_each_strides(f);
    }
};

template <class To, class E>
struct CastEval {
    using value_type = To;
    E e;
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) { e.seek(idx, outer); }
    template <bool Unit>
    WARD_HOST_DEVICE To load(index_t j) const { return element_cast<To>(e.template load<Unit>(j)); }
    template <class F>
    void for_each_strides(F&& f) { e.for_each_strides(f); }
};

/// Random draws computed on the fly from the element's row-major index in the draw's shape,
/// so a dropout mask or noise term fuses into the expression that uses it.
template <class V, class Dist>
struct RandomEval {
    using value_type = V;
    RandomKey key;
    Dist dist;
    index_t base;
    index_t inner;
    index_t st[max_rank];
    WARD_HOST_DEVICE void seek(const index_t* idx, int outer) {
        base = row_offset(idx, st, outer);
        inner = st[outer];
    }
    template <bool Unit>
    WARD_HOST_DEVICE V load(index_t j) const {
        return dist(key, static_cast<std::uint64_t>(Unit ? base + j : base + j * inner));
    }
    template <class F>
    void for_each_strides(F&& f) { f(st); }
};

namespace dist {
template <class V>
struct uniform {
    V lo, hi;
    WARD_HOST_DEVICE V operator()(const RandomKey& k, std::uint64_t i) const {
        return math::add_rn(lo, math::mul_rn(hi - lo, k.uniform<V>(i)));  // no FMA: the same bits on every device
    }
};
template <class V>
struct normal {
    V mean, std;
    WARD_HOST_DEVICE V operator()(const RandomKey& k, std::uint64_t i) const {
        return math::add_rn(mean, math::mul_rn(std, k.normal<V>(i)));
    }
};
template <class V>
struct bernoulli {
    V p;
    WARD_HOST_DEVICE V operator()(const RandomKey& k, std::uint64_t i) const { return k.uniform<V>(i) <= p ? V(1) : V(0); }
};
}  // namespace dist

// ---- expression nodes -----------------------------------------------------------------------
/// A scalar operand; it broadcasts to any shape and takes the type of the expression it meets.
template <class V, Device D>
struct Scalar : Expr<Scalar<V, D>> {
    using value_type = V;
    using device = D;
    V value;
    explicit Scalar(V v) : value(v) {}
    Shape shape() const { return Shape{}; }
    ScalarEval<V> evaluator(const Shape&) const { return {value}; }
    bool conflicts(const void*, index_t, const Shape&, const Strides&) const { return false; }
};

template <class Op, Expression E>
struct Unary : Expr<Unary<Op, E>> {
    using value_type = value_t<E>;
    using device = device_t<E>;
    Op op;
    E e;
    Unary(Op o, E x) : op(o), e(std::move(x)) {}
    Shape shape() const { return e.shape(); }
    auto evaluator(const Shape& out) const {
        return UnaryEval<Op, decltype(e.evaluator(out))>{op, e.evaluator(out)};
    }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const { return e.conflicts(p, o, s, st); }
};

template <class Op, Expression L, Expression R>
struct Binary : Expr<Binary<Op, L, R>> {
    static_assert(std::is_same_v<value_t<L>, value_t<R>>,
                  "ward: element types of the operands differ; convert one with ward::cast<T>(x)");
    static_assert(std::is_same_v<device_t<L>, device_t<R>>, "ward: operands live on different devices");
    using value_type = value_t<L>;
    using device = device_t<L>;
    Op op;
    L l;
    R r;
    Shape shape_;
    Binary(Op o, L a, R b) : op(o), l(std::move(a)), r(std::move(b)), shape_(broadcast_shapes(l.shape(), r.shape())) {}
    Shape shape() const { return shape_; }
    auto evaluator(const Shape& out) const {
        return BinaryEval<Op, decltype(l.evaluator(out)), decltype(r.evaluator(out))>{op, l.evaluator(out), r.evaluator(out)};
    }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const {
        return l.conflicts(p, o, s, st) || r.conflicts(p, o, s, st);
    }
};

template <Expression C, Expression A, Expression B>
struct Where : Expr<Where<C, A, B>> {
    static_assert(std::is_same_v<value_t<A>, value_t<B>>, "ward: where() branches have different element types");
    static_assert(std::is_same_v<device_t<C>, device_t<A>> && std::is_same_v<device_t<A>, device_t<B>>,
                  "ward: where() operands live on different devices");
    using value_type = value_t<A>;
    using device = device_t<A>;
    C c;
    A a;
    B b;
    Shape shape_;
    Where(C cond, A x, B y)
        : c(std::move(cond)), a(std::move(x)), b(std::move(y)),
          shape_(broadcast_shapes(c.shape(), broadcast_shapes(a.shape(), b.shape()))) {}
    Shape shape() const { return shape_; }
    auto evaluator(const Shape& out) const {
        return WhereEval<decltype(c.evaluator(out)), decltype(a.evaluator(out)), decltype(b.evaluator(out))>{
            c.evaluator(out), a.evaluator(out), b.evaluator(out)};
    }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const {
        return c.conflicts(p, o, s, st) || a.conflicts(p, o, s, st) || b.conflicts(p, o, s, st);
    }
};

template <class To, Expression E>
struct Cast : Expr<Cast<To, E>> {
    using value_type = compute_t<To>;
    using device = device_t<E>;
    E e;
    explicit Cast(E x) : e(std::move(x)) {}
    Shape shape() const { return e.shape(); }
    auto evaluator(const Shape& out) const { return CastEval<value_type, decltype(e.evaluator(out))>{e.evaluator(out)}; }
    bool conflicts(const void* p, index_t o, const Shape& s, const Strides& st) const { return e.conflicts(p, o, s, st); }
};

template <class V, class Dist, Device D>
struct Random : Expr<Random<V, Dist, D>> {
    using value_type = V;
    using device = D;
    RandomKey key;
    Dist dist;
    Shape shape_;
    Shape shape() const { return shape_; }
    RandomEval<V, Dist> evaluator(const Shape& out) const {
        RandomEval<V, Dist> ev{key, dist, 0, 0, {}};
        Strides st = broadcast_strides(shape_, contiguous_strides(shape_), out);
        for (int i = 0; i < max_rank; ++i) ev.st[i] = i < st.rank ? st[i] : 0;
        return ev;
    }
    bool conflicts(const void*, index_t, const Shape&, const Strides&) const { return false; }
};

// ---- building nodes ---------------------------------------------------------------------------
namespace detail {
template <class X>
concept Arithmetic = std::is_arithmetic_v<std::remove_cvref_t<X>>;

/// An operand as an expression: expressions pass through, numbers become Scalars of type V.
template <class V, Device D, class X>
auto operand(X&& x) {
    if constexpr (Expression<X>) return std::remove_cvref_t<X>(std::forward<X>(x));
    else return Scalar<V, D>(static_cast<V>(x));
}

template <class Op, class A, class B>
auto make_binary(Op op, A&& a, B&& b) {
    using E = std::conditional_t<Expression<A>, std::remove_cvref_t<A>, std::remove_cvref_t<B>>;
    using V = value_t<E>;
    using D = device_t<E>;
    auto l = operand<V, D>(std::forward<A>(a));
    auto r = operand<V, D>(std::forward<B>(b));
    return Binary<Op, decltype(l), decltype(r)>(op, std::move(l), std::move(r));
}
}  // namespace detail

/// Operands of a binary op: two expressions of one element type on one device, or an expression
/// and a number. Anything else (f32 + f64, cpu + cuda) does not compile: convert with cast<T>().
template <class A, class B>
concept BinaryOperands =
    (Expression<A> && Expression<B> && std::is_same_v<value_t<A>, value_t<B>> &&
     std::is_same_v<device_t<A>, device_t<B>>) ||
    (Expression<A> && detail::Arithmetic<B>) || (detail::Arithmetic<A> && Expression<B>);

#define WARD_BINARY_OPERATOR(sym, functor)                                            \
    template <class A, class B>                                                       \
        requires BinaryOperands<A, B>                                                 \
    auto operator sym(A&& a, B&& b) {                                                 \
        return detail::make_binary(fn::functor{}, std::forward<A>(a), std::forward<B>(b)); \
    }
WARD_BINARY_OPERATOR(+, add)
WARD_BINARY_OPERATOR(-, sub)
WARD_BINARY_OPERATOR(*, mul)
WARD_BINARY_OPERATOR(/, div)
WARD_BINARY_OPERATOR(<, lt)
WARD_BINARY_OPERATOR(<=, le)
WARD_BINARY_OPERATOR(>, gt)
WARD_BINARY_OPERATOR(>=, ge)
#undef WARD_BINARY_OPERATOR

#define WARD_BINARY_FUNCTION(name, functor)                                           \
    template <class A, class B>                                                       \
        requires BinaryOperands<A, B>                                                 \
    auto name(A&& a, B&& b) {                                                         \
        return detail::make_binary(fn::functor{}, std::forward<A>(a), std::forward<B>(b)); \
    }
WARD_BINARY_FUNCTION(maximum, maximum)
WARD_BINARY_FUNCTION(minimum, minimum)
WARD_BINARY_FUNCTION(pow, pow)
// == and != stay unoverloaded (tensors are handles); these are the element-wise comparisons.
WARD_BINARY_FUNCTION(eq, eq)
WARD_BINARY_FUNCTION(ne, ne)
WARD_BINARY_FUNCTION(lt, lt)
WARD_BINARY_FUNCTION(le, le)
WARD_BINARY_FUNCTION(gt, gt)
WARD_BINARY_FUNCTION(ge, ge)
#undef WARD_BINARY_FUNCTION

#define WARD_UNARY_FUNCTION(name, functor)                                      \
    template <Expression E>                                                     \
    auto name(E&& e) {                                                          \
        return Unary<fn::functor, std::remove_cvref_t<E>>(fn::functor{}, std::forward<E>(e)); \
    }
WARD_UNARY_FUNCTION(operator-, neg)
WARD_UNARY_FUNCTION(neg, neg)
WARD_UNARY_FUNCTION(exp, exp)
WARD_UNARY_FUNCTION(log, log)
WARD_UNARY_FUNCTION(log1p, log1p)
WARD_UNARY_FUNCTION(sqrt, sqrt)
WARD_UNARY_FUNCTION(rsqrt, rsqrt)
WARD_UNARY_FUNCTION(tanh, tanh)
WARD_UNARY_FUNCTION(sigmoid, sigmoid)
WARD_UNARY_FUNCTION(relu, relu)
WARD_UNARY_FUNCTION(gelu_tanh, gelu_tanh)
WARD_UNARY_FUNCTION(abs, abs)
WARD_UNARY_FUNCTION(square, square)
WARD_UNARY_FUNCTION(gelu_tanh_grad, gelu_tanh_grad)
WARD_UNARY_FUNCTION(sign, sign)
#undef WARD_UNARY_FUNCTION

/// x^p for a scalar exponent.
template <Expression E>
auto pow(E&& e, double p) {
    using V = value_t<E>;
    return Unary<fn::pow_scalar<V>, std::remove_cvref_t<E>>(fn::pow_scalar<V>{static_cast<V>(p)}, std::forward<E>(e));
}
/// min(max(x, lo), hi).
template <Expression E>
auto clamp(E&& e, double lo, double hi) {
    using V = value_t<E>;
    if (!(lo <= hi)) throw value_error("clamp: lo " + std::to_string(lo) + " exceeds hi " + std::to_string(hi));
    return Unary<fn::clamp<V>, std::remove_cvref_t<E>>(fn::clamp<V>{static_cast<V>(lo), static_cast<V>(hi)},
                                                       std::forward<E>(e));
}
/// Element-wise select: cond != 0 ? a : b (any operand may be a number).
template <class C, class A, class B>
    requires Expression<C>
auto where(C&& cond, A&& a, B&& b) {
    using E = std::conditional_t<Expression<A>, std::remove_cvref_t<A>,
                                 std::conditional_t<Expression<B>, std::remove_cvref_t<B>, std::remove_cvref_t<C>>>;
    using V = value_t<E>;
    using D = device_t<C>;
    auto x = detail::operand<V, D>(std::forward<A>(a));
    auto y = detail::operand<V, D>(std::forward<B>(b));
    return Where<std::remove_cvref_t<C>, decltype(x), decltype(y)>(std::forward<C>(cond), std::move(x), std::move(y));
}
/// Converts an expression's values to another element type (computing in compute_t<To>).
template <class To, Expression E>
auto cast(E&& e) {
    return Cast<To, std::remove_cvref_t<E>>(std::forward<E>(e));
}

/// Lazy random tensors of a shape, drawn from (and advancing) a Generator.
template <class V, Device D = cpu>
auto uniform(Generator& g, const Shape& shape, V lo = V(0), V hi = V(1)) {
    return Random<V, dist::uniform<V>, D>{{}, g.next(), {lo, hi}, shape};
}
template <class V, Device D = cpu>
auto normal(Generator& g, const Shape& shape, V mean = V(0), V std = V(1)) {
    return Random<V, dist::normal<V>, D>{{}, g.next(), {mean, std}, shape};
}
template <class V, Device D = cpu>
auto bernoulli(Generator& g, const Shape& shape, V p) {
    if (!(p >= V(0) && p <= V(1))) throw value_error("bernoulli: p = " + std::to_string(p) + " outside [0, 1]");
    return Random<V, dist::bernoulli<V>, D>{{}, g.next(), {p}, shape};
}

}  // namespace ward
