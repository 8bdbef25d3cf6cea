#pragma once
// The shape rules of concatenation, shared by every backend's concat kernel:
//
//   inputs[k] is (d0, ..., a_k, ..., d_{r-1}), out is (d0, ..., sum_k a_k, ..., d_{r-1})

#include <cstddef>
#include <span>
#include <string>

#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward {

/// The axis (0 .. rank - 1) of a concatenation of `inputs` into `out` along `axis` (negative counts
/// from the end), once the shapes are checked: index_error for a bad axis, shape_error naming the
/// offending input's shape otherwise.
template <class T, class U>
int checked_concat_axis(std::span<const StridedView<const T>> inputs, int axis, const StridedView<U>& out) {
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
    return ax;
}

}  // namespace ward
