#pragma once
// The root of the expression-template machinery. Every tensor and every lazy element-wise
// expression derives from Expr<E>; nothing is computed until an expression is assigned, and then
// the device's Executor evaluates the whole tree in one pass over memory.
//
// An expression E provides:
//   value_type                 the type it computes in (f32 for bf16 storage)
//   device                     its device tag; all operands of a node share it
//   Shape shape()              its (broadcast) shape
//   evaluator(Shape out)       a trivially copyable evaluator that reads E as if broadcast to `out`
//   conflicts(p, off, shape, strides)
//                              true when writing to that view of storage p while reading E would be
//                              unsafe (E reads p through a different view)
//
// An evaluator provides (host and device):
//   seek(idx, outer)           position at the row with outer multi-index idx[0..outer)
//   load<Unit>(j)              element j of that row (Unit: every leaf's row stride is 1)
//   for_each_strides(f)        host only: f(index_t* strides) for every leaf, so the executor can
//                              permute and collapse dimensions of the whole tree at once

#include <type_traits>

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/shape.hpp"
#include "ward/tensor/layout.hpp"

namespace ward {

template <class E>
struct Expr {
    const E& self() const { return static_cast<const E&>(*this); }
};

template <class E>
concept Expression = std::is_base_of_v<Expr<std::remove_cvref_t<E>>, std::remove_cvref_t<E>>;

template <class E>
using value_t = typename std::remove_cvref_t<E>::value_type;
template <class E>
using device_t = typename std::remove_cvref_t<E>::device;

}  // namespace ward
