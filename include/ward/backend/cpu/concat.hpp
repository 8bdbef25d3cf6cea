#pragma once
// Concatenation along an axis, on strided views:
//
//   inputs[k] is (d0, ..., a_k, ..., d_{r-1}), out is (d0, ..., sum_k a_k, ..., d_{r-1})
//
// Each input is copied into its slab of out by the strided copy (memcpy per row where both sides
// are unit-stride, parallel over rows when large): concat is memory-bound, and the copy handles
// every dtype and layout alike, so there is no oneDNN primitive to cache here. Split needs no
// kernel: it is views.

#include <cstdint>
#include <span>
#include <string>

#include "ward/backend/cpu/onednn.hpp"
#include "ward/core/concat_shape.hpp"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cpu {

/// out = concatenation of inputs along `axis` (negative counts from the end).
/// All inputs have out's rank and out's extents except along axis, where they sum to out's.
/// Throws index_error for a bad axis, shape_error naming the offending input's shape otherwise.
template <class T>
void concat(std::span<const StridedView<const T>> inputs, int axis, StridedView<T> out) {
    const int ax = checked_concat_axis(inputs, axis, out);
    index_t offset = 0;
    for (const StridedView<const T>& in : inputs) {
        StridedView<T> slab{out.data + offset * out.strides[ax], in.shape, out.strides};
        detail::copy_strided<T, T>(in, slab);
        offset += in.shape[ax];
    }
}

}  // namespace ward::backend::cpu
