#pragma once
// How the CUDA matmul (matmul.cuh) lays a problem out for cuBLASLt, decided on the host: the shape
// checks, the batch axes (each operand's stride on each of the output's batch axes, 0 where it
// broadcasts), their collapse into one strided batch plus an outer index the host loops over, the
// offsets of each outer step, each operand's matrix as column-major cuBLASLt sees it, and the
// alignment each pointer can promise. Free of CUDA calls, so the CPU tests check it.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

/// One batch axis of the output with each operand's stride on it (0 where the operand broadcasts).
struct BatchAxis {
    index_t n;
    std::int64_t sa, sb, sc;
};

/// The checked extents and the output's batch axes of c = a @ b. a is (..., M, K), b (..., K, N),
/// c (..., M, N) of the larger rank; batch axes broadcast (extent 1 or stride 0).
struct MatmulShape {
    index_t M = 0, K = 0, N = 0;
    std::vector<BatchAxis> axes;  // outermost first, one per batch axis of c
};

inline MatmulShape plan_matmul_shape(const Shape& a, const Strides& as, const Shape& b, const Strides& bs, const Shape& c,
                                     const Strides& cs) {
    const int ra = a.rank, rb = b.rank, n = c.rank;
    if (ra < 2 || rb < 2 || n != std::max(ra, rb))
        throw shape_error("cuda matmul: takes operands of rank >= 2 and an output of the larger rank, got " + a.str() + " @ " +
                          b.str() + " -> " + c.str());
    MatmulShape p;
    p.M = a[ra - 2];
    p.K = a[ra - 1];
    p.N = b[rb - 1];
    bool fits = b[rb - 2] == p.K && c[n - 2] == p.M && c[n - 1] == p.N;
    for (int i = 0; i < n - 2 && fits; ++i) {
        const index_t d = c[i];
        const index_t da = i < n - ra ? 1 : a[i - (n - ra)], db = i < n - rb ? 1 : b[i - (n - rb)];
        fits = (da == d || da == 1) && (db == d || db == 1);
        if (d > 1 && cs[i] == 0)
            throw shape_error("cuda matmul: output c " + c.str() + " has stride 0 on axis " + std::to_string(i) + " (strides " +
                              cs.str() + "): its elements alias");
        p.axes.push_back({d, da == 1 ? 0 : as[i - (n - ra)], db == 1 ? 0 : bs[i - (n - rb)], cs[i]});
    }
    if (!fits) throw shape_error("cuda matmul: shapes " + a.str() + " @ " + b.str() + " do not give " + c.str());
    return p;
}

/// The output's batch axes of extent > 1, adjacent ones merged where every operand steps through
/// them as through one axis (outer stride = inner stride * inner extent; stride 0 merges with 0).
/// Outermost first; the last is what cuBLASLt batches over, the others the host loops over.
inline std::vector<BatchAxis> collapse_batch(std::vector<BatchAxis> axes) {
    std::vector<BatchAxis> out;
    for (const BatchAxis& ax : axes) {
        if (ax.n == 1) continue;
        if (!out.empty()) {
            BatchAxis& o = out.back();
            if (o.sa == ax.sa * ax.n && o.sb == ax.sb * ax.n && o.sc == ax.sc * ax.n) {
                o = {o.n * ax.n, ax.sa, ax.sb, ax.sc};
                continue;
            }
        }
        out.push_back(ax);
    }
    return out;
}

/// The batch as one strided batch (`inner`, what one cuBLASLt call covers) and the axes the host
/// loops over (`outer`, outermost first; `steps` calls in all).
struct BatchSplit {
    std::vector<BatchAxis> outer;
    BatchAxis inner{1, 0, 0, 0};
    index_t steps = 1;
};

inline BatchSplit split_batch(std::vector<BatchAxis> axes) {
    BatchSplit s;
    s.outer = collapse_batch(std::move(axes));
    if (!s.outer.empty()) {
        s.inner = s.outer.back();
        s.outer.pop_back();
    }
    for (const BatchAxis& ax : s.outer) s.steps *= ax.n;
    return s;
}

struct BatchOffsets {
    std::int64_t a = 0, b = 0, c = 0;
};

/// Element offsets of outer step q (row-major over the outer axes).
inline BatchOffsets outer_offsets(const std::vector<BatchAxis>& outer, index_t q) {
    BatchOffsets o;
    for (index_t i = index_t(outer.size()) - 1, rem = q; i >= 0; --i) {
        const BatchAxis& ax = outer[static_cast<std::size_t>(i)];
        const index_t idx = rem % ax.n;
        rem /= ax.n;
        o.a += idx * ax.sa;
        o.b += idx * ax.sb;
        o.c += idx * ax.sc;
    }
    return o;
}

/// One operand's matrix (its last two axes) as column-major cuBLASLt sees it.
struct LtMatrix {
    bool transposed;           // cuBLASLt's transpose flag
    std::uint64_t rows, cols;  // of the column-major buffer
    std::int64_t ld;
};

/// The (r x c) matrix with strides (sr, sc), as its column-major transpose (c x r) or, for a
/// transposed view, as the column-major (r x c) buffer with the transpose flag. Layouts with no
/// unit stride, or a leading dimension that rows would overlap in (stride 0, negative), are refused.
inline LtMatrix describe_matrix(index_t r, index_t c, index_t sr, index_t sc, const Strides& strides, const char* name) {
    if ((sc == 1 || c == 1) && (r == 1 || sr >= std::max<index_t>(c, 1)))  // rows contiguous
        return {false, std::uint64_t(c), std::uint64_t(r), r == 1 ? std::max<index_t>(c, 1) : sr};
    if ((sr == 1 || r == 1) && (c == 1 || sc >= std::max<index_t>(r, 1)))  // a transposed view
        return {true, std::uint64_t(r), std::uint64_t(c), c == 1 ? std::max<index_t>(r, 1) : sc};
    throw shape_error(std::string("cuda matmul: operand ") + name + " with strides " + strides.str() +
                      " has no unit stride in its last two axes; make it contiguous first");
}

/// The largest power of two (up to 256) dividing an address and every byte step from it: what
/// cuBLASLt's heuristic is told (it assumes 256-byte aligned buffers otherwise).
inline std::uint32_t alignment_of(std::uintptr_t address, std::size_t elem, std::initializer_list<std::int64_t> strides) {
    std::uint64_t bits = address | 256u;
    for (std::int64_t s : strides) bits |= static_cast<std::uint64_t>(s < 0 ? -s : s) * elem;
    return static_cast<std::uint32_t>(bits & (~bits + 1));
}

}  // namespace ward::backend::cuda
