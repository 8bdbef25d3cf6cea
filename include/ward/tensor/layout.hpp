#pragma once
// The iteration space of one pass over memory, shared by every device's executor. Before a pass,
// the executor rewrites the strides of every leaf of the expression (and of the destination) at
// once: it moves a reduced axis last, drops size-1 axes, and merges adjacent axes that are
// contiguous in every operand, so a dense expression becomes a single long row.

#include "ward/core/config.hpp"
#include "ward/core/shape.hpp"

namespace ward {

/// Offset of the row at outer multi-index idx[0..outer) for a stride array.
WARD_HOST_DEVICE inline index_t row_offset(const index_t* idx, const index_t* strides, int outer) {
    index_t off = 0;
    for (int d = 0; d < outer; ++d) off += idx[d] * strides[d];
    return off;
}

/// A rewritten iteration space: extents, and for each new axis the old axis whose stride it takes
/// (-1: a broadcast axis of extent 1, stride 0).
struct LoopPlan {
    int rank = 0;
    index_t shape[max_rank] = {};
    int src[max_rank] = {};

    index_t inner() const { return shape[rank - 1]; }
    index_t rows() const {
        index_t n = 1;
        for (int d = 0; d + 1 < rank; ++d) n *= shape[d];
        return n;
    }
    /// Rewrites a stride array (indexed by old axes) into the plan's axes.
    void apply(index_t* st) const {
        index_t old[max_rank];
        for (int d = 0; d < max_rank; ++d) old[d] = st[d];
        for (int d = 0; d < max_rank; ++d) st[d] = d < rank && src[d] >= 0 ? old[src[d]] : 0;
    }
};

/// Moves axis `axis` of every stride array to the end; returns the permuted shape.
template <class Eval>
Shape move_axis_last(const Shape& shape, int axis, Eval& ev) {
    auto rotate = [&](index_t* st) {
        index_t a = st[axis];
        for (int d = axis; d + 1 < shape.rank; ++d) st[d] = st[d + 1];
        st[shape.rank - 1] = a;
    };
    ev.for_each_strides(rotate);
    Shape s = shape;
    rotate(s.v.data());
    return s;
}

/// Plans a pass over `shape`: drops size-1 axes and merges neighbours that are contiguous in every
/// leaf of `ev` and in `dst_strides` (if given). Axes from `fixed` on are kept as they are (the
/// reduced axis of a reduction). Applies the plan to the evaluator's leaves and to dst_strides.
template <class Eval>
LoopPlan plan_loop(const Shape& shape, Eval& ev, index_t* dst_strides, int fixed) {
    int keep[max_rank];
    int nk = 0;
    for (int d = 0; d < shape.rank; ++d)
        if (shape[d] != 1 || d >= fixed) keep[nk++] = d;

    bool merge[max_rank];  // merge[i]: axis keep[i] folds into keep[i + 1]
    for (int i = 0; i + 1 < nk; ++i) merge[i] = keep[i + 1] < fixed;
    auto check = [&](const index_t* st) {
        for (int i = 0; i + 1 < nk; ++i)
            merge[i] = merge[i] && st[keep[i]] == st[keep[i + 1]] * shape[keep[i + 1]];
    };
    ev.for_each_strides(check);
    if (dst_strides) check(dst_strides);

    LoopPlan plan;
    for (int i = 0; i < nk; ++i) {
        if (i > 0 && merge[i - 1]) {
            plan.shape[plan.rank - 1] *= shape[keep[i]];
            plan.src[plan.rank - 1] = keep[i];
        } else {
            plan.shape[plan.rank] = shape[keep[i]];
            plan.src[plan.rank] = keep[i];
            ++plan.rank;
        }
    }
    if (plan.rank == 0) {  // a single element
        plan.rank = 1;
        plan.shape[0] = 1;
        plan.src[0] = -1;
    }
    ev.for_each_strides([&](index_t* st) { plan.apply(st); });
    if (dst_strides) plan.apply(dst_strides);
    return plan;
}

/// Row index -> outer multi-index for a plan (the last axis is the row itself).
WARD_HOST_DEVICE inline void unravel_row(index_t row, const index_t* shape, int outer, index_t* idx) {
    for (int d = outer - 1; d >= 0; --d) {
        idx[d] = row % shape[d];
        row /= shape[d];
    }
}

}  // namespace ward
