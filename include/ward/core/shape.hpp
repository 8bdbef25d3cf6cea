#pragma once
// Shapes and strides in fixed-capacity arrays (rank <= max_rank), cheap to copy into
// kernels; NumPy broadcasting; the error messages that name both shapes.

#include <array>
#include <initializer_list>
#include <string>

#include "ward/core/config.hpp"
#include "ward/core/error.hpp"

namespace ward {

/// A small fixed-capacity array of extents (a shape) or of element strides.
struct Dims {
    std::array<index_t, max_rank> v{};
    int rank = 0;

    constexpr Dims() = default;
    Dims(std::initializer_list<index_t> il) {
        if (il.size() > static_cast<std::size_t>(max_rank))
            throw shape_error("rank " + std::to_string(il.size()) + " exceeds ward::max_rank = " +
                              std::to_string(max_rank));
        for (index_t x : il) v[rank++] = x;
    }
    static Dims of_rank(int r, index_t fill = 0) {
        if (r < 0 || r > max_rank) throw shape_error("rank " + std::to_string(r) + " out of range [0, " +
                                                     std::to_string(max_rank) + "]");
        Dims d;
        d.rank = r;
        for (int i = 0; i < r; ++i) d.v[i] = fill;
        return d;
    }

    WARD_HOST_DEVICE constexpr index_t operator[](int i) const { return v[i]; }
    WARD_HOST_DEVICE constexpr index_t& operator[](int i) { return v[i]; }
    constexpr int size() const { return rank; }
    const index_t* begin() const { return v.data(); }
    const index_t* end() const { return v.data() + rank; }

    /// Product of the extents (1 for rank 0). A shape whose non-zero extents multiply past index_t
    /// is a shape_error, even when another extent is 0: its strides would overflow all the same.
    constexpr index_t numel() const {
        index_t n = 1;
        bool empty = false;
        for (int i = 0; i < rank; ++i) {
            if (v[i] == 0) {
                empty = true;
                continue;
            }
            if (__builtin_mul_overflow(n, v[i], &n))
                throw shape_error("shape " + str() + " has more elements than index_t can count");
        }
        return empty ? 0 : n;
    }
    /// Normalises a possibly negative axis (-1 = last), throwing index_error when out of range.
    int axis(int a) const {
        int r = a < 0 ? a + rank : a;
        if (r < 0 || r >= rank)
            throw index_error("axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
        return r;
    }
    friend bool operator==(const Dims& a, const Dims& b) {
        if (a.rank != b.rank) return false;
        for (int i = 0; i < a.rank; ++i)
            if (a.v[i] != b.v[i]) return false;
        return true;
    }
    std::string str() const {
        std::string s = "(";
        for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
        return s + (rank == 1 ? ",)" : ")");
    }
};

using Shape = Dims;
using Strides = Dims;

/// Row-major (C-order) strides for a shape, in elements.
inline Strides contiguous_strides(const Shape& s) {
    (void)s.numel();  // throws where the strides would overflow
    Strides st = Strides::of_rank(s.rank);
    index_t acc = 1;
    for (int i = s.rank - 1; i >= 0; --i) {
        st[i] = acc;
        acc *= s[i];
    }
    return st;
}

/// True when (shape, strides) describe a dense row-major block (size-1 dims may have any stride).
inline bool is_contiguous(const Shape& s, const Strides& st) {
    index_t acc = 1;
    for (int i = s.rank - 1; i >= 0; --i) {
        if (s[i] != 1 && st[i] != acc) return false;
        acc *= s[i];
    }
    return true;
}

/// NumPy broadcasting of two shapes; throws shape_error naming both when they do not broadcast.
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
    int r = a.rank > b.rank ? a.rank : b.rank;
    Shape out = Shape::of_rank(r);
    for (int i = 0; i < r; ++i) {
        index_t da = i < r - a.rank ? 1 : a[i - (r - a.rank)];
        index_t db = i < r - b.rank ? 1 : b[i - (r - b.rank)];
        if (da != db && da != 1 && db != 1)
            throw shape_error("shapes " + a.str() + " and " + b.str() + " do not broadcast (axis " +
                              std::to_string(i) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

/// Strides that read a tensor of (shape, strides) as if it had the broadcast shape `to`
/// (stride 0 along broadcast axes). Throws when `shape` cannot broadcast to `to`.
inline Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to) {
    if (shape.rank > to.rank)
        throw shape_error("cannot broadcast " + shape.str() + " to " + to.str());
    Strides out = Strides::of_rank(to.rank);
    int off = to.rank - shape.rank;
    for (int i = 0; i < to.rank; ++i) {
        if (i < off) { out[i] = 0; continue; }
        index_t d = shape[i - off];
        if (d == to[i]) out[i] = d == 1 ? 0 : strides[i - off];
        else if (d == 1) out[i] = 0;
        else throw shape_error("cannot broadcast " + shape.str() + " to " + to.str());
    }
    return out;
}

/// A non-owning strided view of typed memory: what backends and kernels take.
template <class T>
struct StridedView {
    T* data = nullptr;
    Shape shape;
    Strides strides;

    index_t numel() const { return shape.numel(); }
    bool contiguous() const { return is_contiguous(shape, strides); }
    int rank() const { return shape.rank; }
};

}  // namespace ward
