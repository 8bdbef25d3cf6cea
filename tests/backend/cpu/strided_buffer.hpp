#pragma once
// Test inputs for the CPU kernels: a buffer of random values and a strided view of it in any
// layout. `order` lists the axes from outermost to innermost in memory ({1, 0} on a matrix is a
// transposed layout), `pad` adds unused elements at every level, and axes in `flip` run backwards
// (negative strides).

#include <cstdint>
#include <random>
#include <vector>

#include "ward/core/shape.hpp"

namespace ward::test {

template <class T>
struct Strided {
    std::vector<T> buf;
    StridedView<T> view;
    StridedView<const T> cview() const { return {view.data, view.shape, view.strides}; }
};

struct Layout {
    std::vector<int> order = {};
    index_t pad = 0;
    std::vector<int> flip = {};
};

/// Values uniform in [lo, hi) from mt19937(seed), laid out as `layout` says.
template <class T>
Strided<T> make_strided(const Shape& shape, Layout layout, std::uint32_t seed, float lo, float hi) {
    const int r = shape.rank;
    if (layout.order.empty())
        for (int i = 0; i < r; ++i) layout.order.push_back(i);
    Strides st = Strides::of_rank(r);
    index_t acc = 1;
    for (int k = r - 1; k >= 0; --k) {
        st[layout.order[static_cast<std::size_t>(k)]] = acc;
        acc *= shape[layout.order[static_cast<std::size_t>(k)]] + layout.pad;
    }
    Strided<T> s;
    s.buf.resize(static_cast<std::size_t>(acc));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    for (auto& x : s.buf) x = T(u(rng));
    index_t base = 0;
    for (int d : layout.flip) {
        base += (shape[d] - 1) * st[d];
        st[d] = -st[d];
    }
    s.view = StridedView<T>{s.buf.data() + base, shape, st};
    return s;
}

}  // namespace ward::test
