#pragma once
// Naive references for tensor tests: values in f64 on plain vectors, indexed by multi-index
// arithmetic written out here (independent of ward's strides and executor).

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <ward/tensor.hpp>

namespace ref {

using ward::index_t;
using ward::Shape;

/// A dense row-major array of doubles with a shape.
struct Array {
    Shape shape;
    std::vector<double> v;
};

inline std::vector<index_t> unravel(index_t flat, const Shape& s) {
    std::vector<index_t> idx(static_cast<std::size_t>(s.rank));
    for (int d = s.rank - 1; d >= 0; --d) {
        idx[static_cast<std::size_t>(d)] = flat % s[d];
        flat /= s[d];
    }
    return idx;
}

/// Element of `a` at the multi-index `idx` of a (larger) broadcast shape.
inline double at_broadcast(const Array& a, const std::vector<index_t>& idx) {
    index_t flat = 0;
    int off = static_cast<int>(idx.size()) - a.shape.rank;
    for (int d = 0; d < a.shape.rank; ++d) {
        index_t i = a.shape[d] == 1 ? 0 : idx[static_cast<std::size_t>(d + off)];
        flat = flat * a.shape[d] + i;
    }
    return a.v[static_cast<std::size_t>(flat)];
}

inline Array binary(const Array& a, const Array& b, const std::function<double(double, double)>& f) {
    Shape s = ward::broadcast_shapes(a.shape, b.shape);
    Array out{s, std::vector<double>(static_cast<std::size_t>(s.numel()))};
    for (index_t i = 0; i < s.numel(); ++i) {
        auto idx = unravel(i, s);
        out.v[static_cast<std::size_t>(i)] = f(at_broadcast(a, idx), at_broadcast(b, idx));
    }
    return out;
}

inline Array unary(const Array& a, const std::function<double(double)>& f) {
    Array out = a;
    for (double& x : out.v) x = f(x);
    return out;
}

inline Array random_array(const Shape& s, std::mt19937_64& rng, double lo = -2, double hi = 2) {
    std::uniform_real_distribution<double> u(lo, hi);
    Array a{s, std::vector<double>(static_cast<std::size_t>(s.numel()))};
    for (double& x : a.v) x = u(rng);
    return a;
}

template <class T>
ward::Tensor<T> to_tensor(const Array& a) {
    std::vector<T> v(a.v.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = ward::element_cast<T>(a.v[i]);
    return ward::Tensor<T>::from_vector(v, a.shape);
}

/// The values of a (possibly strided) tensor in row-major order, read through at().
template <class T>
std::vector<double> values(const ward::Tensor<T>& t) {
    std::vector<double> out(static_cast<std::size_t>(t.numel()));
    for (index_t i = 0; i < t.numel(); ++i) {
        auto idx = unravel(i, t.shape());
        index_t off = 0;
        for (int d = 0; d < t.rank(); ++d) off += idx[static_cast<std::size_t>(d)] * t.strides()[d];
        out[static_cast<std::size_t>(i)] = static_cast<double>(ward::element_cast<ward::compute_t<T>>(t.data()[off]));
    }
    return out;
}

/// Largest relative error |x - y| / max(1, |y|) (NaN counts as failure unless both are NaN).
inline double max_rel_error(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) return INFINITY;
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i]) && std::isnan(y[i])) continue;
        if (std::isinf(x[i]) && x[i] == y[i]) continue;
        double e = std::abs(x[i] - y[i]) / std::max(1.0, std::abs(y[i]));
        if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
    }
    return worst;
}

template <class T>
constexpr double tolerance() {
    if constexpr (std::is_same_v<T, double>) return 1e-12;
    else if constexpr (std::is_same_v<T, float>) return 2e-6;
    else return 1e-2;
}

}  // namespace ref
