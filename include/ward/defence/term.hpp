#pragma once
// A defence is a weighted sum of loss terms over one shared Context. A term is any type with
//   template <FloatElement T, Device D> ag::Var<T, D> operator()(Context<T, D>&) const;   // a scalar
//   std::string name() const;
// (the DefenceTerm concept); terms compose with +, - and scalar *, into a term that is evaluated
// against the same context, so forward passes are shared. A user's term, in a header of their own,
// composes with the built-in ones in the same way.

#include <string>
#include <type_traits>
#include <utility>

#include "ward/autograd/elementwise.hpp"
#include "ward/defence/context.hpp"

namespace ward::defence {

template <class X>
concept DefenceTerm = requires(const X& term, Context<float, cpu>& ctx) {
    { term(ctx) } -> std::same_as<ag::Var<float, cpu>>;
    { term.name() } -> std::convertible_to<std::string>;
};

/// Built-in terms derive from this empty base so that +, - and * are found by argument-dependent
/// lookup wherever the terms are used; a user's term gets the same by deriving from it.
struct TermBase {};

template <DefenceTerm A, DefenceTerm B>
struct Sum;
template <DefenceTerm A>
struct Scaled;

namespace detail {
template <class X>
inline constexpr bool is_composite = false;
template <class A, class B>
inline constexpr bool is_composite<Sum<A, B>> = true;
template <class A>
inline constexpr bool is_composite<Scaled<A>> = true;

/// Evaluates a part of a composite; a built-in or user term records its value under its name.
template <class X, FloatElement T, Device D>
ag::Var<T, D> evaluate(const X& term, Context<T, D>& ctx) {
    ag::Var<T, D> v = term(ctx);
    if (v.value().numel() != 1)
        throw shape_error("defence term '" + std::string(term.name()) + "' must be a scalar, got " + v.shape().str());
    if constexpr (!is_composite<X>) ctx.record(term.name(), double(v.value().item()));
    return v;
}
}  // namespace detail

template <DefenceTerm A, DefenceTerm B>
struct Sum : TermBase {
    A a;
    B b;
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        return detail::evaluate(a, ctx) + detail::evaluate(b, ctx);
    }
    std::string name() const { return a.name() + " + " + b.name(); }
};

template <DefenceTerm A>
struct Scaled : TermBase {
    double weight;
    A term;
    template <FloatElement T, Device D>
    ag::Var<T, D> operator()(Context<T, D>& ctx) const {
        return detail::evaluate(term, ctx) * weight;
    }
    std::string name() const { return std::to_string(weight) + " * (" + term.name() + ")"; }
};

template <DefenceTerm A, DefenceTerm B>
Sum<A, B> operator+(A a, B b) { return {{}, std::move(a), std::move(b)}; }
template <DefenceTerm A>
Scaled<A> operator*(double w, A a) { return {{}, w, std::move(a)}; }
template <DefenceTerm A>
Scaled<A> operator*(A a, double w) { return {{}, w, std::move(a)}; }
template <DefenceTerm A>
Scaled<A> operator-(A a) { return {{}, -1.0, std::move(a)}; }
template <DefenceTerm A, DefenceTerm B>
Sum<A, Scaled<B>> operator-(A a, B b) { return {{}, std::move(a), {{}, -1.0, std::move(b)}}; }

/// Evaluates a whole defence on a context: the scalar loss to minimise.
template <DefenceTerm X, FloatElement T, Device D>
ag::Var<T, D> evaluate(const X& defence, Context<T, D>& ctx) { return detail::evaluate(defence, ctx); }

}  // namespace ward::defence
