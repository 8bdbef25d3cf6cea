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
    if (inputs.empty()) throw shape_error("concat: no inputs (output shape " + out.shape.str() + ")");
    const int r = out.shape.rank;
    if (axis < -r || axis >= r)
        throw index_error("concat: axis " + std::to_string(axis) + " out of range for output shape " + out.shape.str());
    const int ax = axis < 0 ? axis + r : axis;
    index_t total = 0;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Shape& s = inputs[k].shape;
        bool fits = s.rank == r;
        for (int i = 0; fits && i < r; ++i) fits = i == ax || s[i] == out.shape[i];
        if (!fits)
            throw shape_error("concat: input " + std::to_string(k) + " has shape " + s.str() +
                              ", which does not match the output shape " + out.shape.str() + " outside axis " +
                              std::to_string(ax));
        total += s[ax];
    }
    if (total != out.shape[ax]) {
        std::string all;
        for (std::size_t k = 0; k < inputs.size(); ++k) all += (k ? ", " : "") + inputs[k].shape.str();
        throw shape_error("concat: inputs " + all + " give extent " + std::to_string(total) + " along axis " +
                          std::to_string(ax) + ", but the output shape is " + out.shape.str());
    }
    index_t offset = 0;
    for (const StridedView<const T>& in : inputs) {
        StridedView<T> slab{out.data + offset * out.strides[ax], in.shape, out.strides};
        detail::copy_strided<T, T>(in, slab);
        offset += in.shape[ax];
    }
}

}  // namespace ward::backend::cpu
