#pragma once
// The CPU executor: evaluates an expression tree in one pass over memory. The iteration space is
// planned first (tensor/layout.hpp) so a dense expression is one long row; rows are split across
// OpenMP threads in equal shares of elements, and the inner loop is a SIMD loop when every operand
// has unit stride along it.

#include <algorithm>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/stats.hpp"
#include "ward/tensor/layout.hpp"
#include "ward/tensor/storage.hpp"

namespace ward {

namespace backend::cpu {

/// Below this many elements a pass runs on one thread (thread start-up costs more than it saves).
inline constexpr index_t parallel_threshold = 1 << 15;
/// A whole-tensor reduction combines partial results of blocks of this size, in order, so the
/// result does not depend on the thread count.
inline constexpr index_t reduction_block = 1 << 14;

inline int max_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Runs body(begin, end) over [0, n) split into equal shares, one per thread.
template <class F>
void parallel_for(index_t n, index_t threshold, F&& body) {
    int threads = n >= threshold ? max_threads() : 1;
    if (threads <= 1) {
        body(index_t(0), n);
        return;
    }
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
    {
        index_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        index_t begin = n * t / nt, end = n * (t + 1) / nt;
        if (begin < end) body(begin, end);
    }
#endif
}

/// dst[k] = ev(k) for k in [j0, j0 + n) of the current row.
template <bool Unit, class S, class Eval>
WARD_INLINE void store_row(S* __restrict dst, index_t dst_stride, const Eval& ev, index_t j0, index_t n) {
    if constexpr (Unit) {
#pragma omp simd
        for (index_t k = j0; k < j0 + n; ++k) dst[k] = element_cast<S>(ev.template load<true>(k));
    } else {
        for (index_t k = j0; k < j0 + n; ++k) dst[k * dst_stride] = element_cast<S>(ev.template load<false>(k));
    }
}

}  // namespace backend::cpu

template <>
struct Executor<cpu> {
    /// dst = ev, element by element, where ev was built for dst's shape.
    template <class S, class Eval>
    static void assign(StridedView<S> dst, Eval ev) {
        ++stats::elementwise_passes;
        index_t total = dst.numel();
        if (total == 0) return;
        index_t dst_st[max_rank];
        for (int d = 0; d < max_rank; ++d) dst_st[d] = d < dst.shape.rank ? dst.strides[d] : 0;
        LoopPlan plan = plan_loop(dst.shape, ev, dst_st, dst.shape.rank);
        const int outer = plan.rank - 1;
        const index_t inner = plan.inner();
        bool unit = dst_st[outer] == 1;
        ev.for_each_strides([&](const index_t* st) { unit = unit && st[outer] == 1; });

        backend::cpu::parallel_for(total, backend::cpu::parallel_threshold, [&](index_t begin, index_t end) {
            Eval e = ev;
            index_t idx[max_rank];
            index_t row = begin / inner, j = begin % inner;
            while (begin < end) {
                unravel_row(row, plan.shape, outer, idx);
                e.seek(idx, outer);
                S* out = dst.data + row_offset(idx, dst_st, outer);
                index_t n = std::min(inner - j, end - begin);
                if (unit) backend::cpu::store_row<true>(out, 1, e, j, n);
                else backend::cpu::store_row<false>(out, dst_st[outer], e, j, n);
                begin += n;
                ++row;
                j = 0;
            }
        });
    }

    /// Reduces ev (built for `shape`) over `axis` (-1: over everything) into the contiguous dst,
    /// whose elements are the outer positions in row-major order.
    template <class R, class Out, class Eval>
    static void reduce(const R& r, Eval ev, const Shape& shape, int axis, StridedView<Out> dst) {
        ++stats::reduction_passes;
        using Acc = typename R::acc_type;
        if (axis < 0) {
            // Everything: the row-major walk cut into fixed blocks, reduced in parallel and
            // combined in order (the same result on any thread count).
            const index_t len = shape.numel();
            if (len == 0) {
                dst.data[0] = r.finish(r.init(), 0);
                return;
            }
            LoopPlan plan = plan_loop(shape, ev, nullptr, shape.rank);
            const int outer = plan.rank - 1;
            const index_t inner = plan.inner();
            bool unit = true;
            ev.for_each_strides([&](const index_t* st) { unit = unit && st[outer] == 1; });
            constexpr index_t B = backend::cpu::reduction_block;
            const index_t blocks = (len + B - 1) / B;
            std::vector<Acc> partial(static_cast<std::size_t>(blocks), r.init());
            backend::cpu::parallel_for(blocks, 2, [&](index_t b0, index_t b1) {
                Eval e = ev;
                index_t idx[max_rank];
                for (index_t b = b0; b < b1; ++b) {
                    Acc acc = r.init();
                    index_t begin = b * B, end = std::min(len, begin + B);
                    index_t row = begin / inner, j = begin % inner;
                    while (begin < end) {
                        unravel_row(row, plan.shape, outer, idx);
                        e.seek(idx, outer);
                        index_t n = std::min(inner - j, end - begin);
                        if (unit) reduce_span<true>(acc, r, e, j, j + n, row * inner);
                        else reduce_span<false>(acc, r, e, j, j + n, row * inner);
                        begin += n;
                        ++row;
                        j = 0;
                    }
                    partial[static_cast<std::size_t>(b)] = acc;
                }
            });
            Acc acc = partial[0];
            for (std::size_t b = 1; b < partial.size(); ++b) r.combine(acc, partial[b]);
            dst.data[0] = r.finish(acc, len);
            return;
        }
        const index_t len = shape[axis];
        Shape moved = move_axis_last(shape, axis, ev);
        LoopPlan plan = plan_loop(moved, ev, nullptr, moved.rank - 1);
        const int outer = plan.rank - 1;
        const index_t rows = plan.rows();
        bool unit = true;
        ev.for_each_strides([&](const index_t* st) { unit = unit && st[outer] == 1; });
        index_t threshold = std::max<index_t>(1, backend::cpu::parallel_threshold / std::max<index_t>(len, 1));
        backend::cpu::parallel_for(rows, threshold, [&](index_t begin, index_t end) {
            Eval e = ev;
            index_t idx[max_rank];
            for (index_t row = begin; row < end; ++row) {
                unravel_row(row, plan.shape, outer, idx);
                e.seek(idx, outer);
                Acc acc = r.init();
                if (unit) reduce_span<true>(acc, r, e, 0, len, 0);
                else reduce_span<false>(acc, r, e, 0, len, 0);
                dst.data[row] = r.finish(acc, len);
            }
        });
    }

private:
    /// acc <- acc (+) e[j] for j in [j0, j1); `base` turns a row position into the index a
    /// reducer such as argmax reports.
    template <bool Unit, class R, class Eval>
    static void reduce_span(typename R::acc_type& acc, const R& r, const Eval& e, index_t j0, index_t j1, index_t base) {
        for (index_t j = j0; j < j1; ++j) r.step(acc, e.template load<Unit>(j), base + j);
    }
};

}  // namespace ward
