#pragma once
// What the GPU tests compare with: a relative difference that treats NaN as a value, and a tensor's
// elements brought to the host.
#include <cmath>
#include <type_traits>
#include <vector>

#include <ward/cuda.cuh>

namespace ward_test {

/// An element as a double (bf16 through float, which holds it exactly).
template <class T>
double as_double(T v) {
    if constexpr (std::is_same_v<T, ward::bf16>) return double(float(v));
    else return double(v);
}

/// Largest |got - want| / (1 + |want|); NaN where they differ in NaN-ness; inf on a size mismatch.
template <class T>
double max_rel_diff(const std::vector<T>& got, const std::vector<T>& want) {
    if (got.size() != want.size()) return INFINITY;
    double m = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        double g = as_double(got[i]), w = as_double(want[i]);
        if (std::isnan(g) != std::isnan(w)) return NAN;
        if (!std::isnan(w)) m = std::max(m, std::abs(g - w) / (1 + std::abs(w)));
    }
    return m;
}

/// The elements of t, row-major, on the host.
template <class T, class D>
std::vector<T> on_host(const ward::Tensor<T, D>& t) {
    if constexpr (std::is_same_v<D, ward::cpu>) return t.contiguous().to_vector();
    else return t.template to<ward::cpu>().to_vector();
}

// A bf16 kernel reads bf16 operands and computes in f32; the f32 reference reads the same values.

/// x as a kernel of element type E reads it: rounded to E and back to f32 (x itself for f32).
template <class E>
ward::Tensor<float> as_read(const ward::Tensor<float>& x) {
    if constexpr (std::is_same_v<E, float>) return x;
    else return ward::Tensor<float>(ward::cast<float>(ward::Tensor<E>(ward::cast<E>(x))));
}

/// x as E on the GPU.
template <class E>
ward::Tensor<E, ward::cuda> gpu_as(const ward::Tensor<float>& x) {
    if constexpr (std::is_same_v<E, float>) return x.template to<ward::cuda>();
    else return ward::Tensor<E>(ward::cast<E>(x)).template to<ward::cuda>();
}

/// A GPU result's values in f32 on the host.
template <class E>
ward::Tensor<float> widened(const ward::Tensor<E, ward::cuda>& x) {
    if constexpr (std::is_same_v<E, float>) return x.template to<ward::cpu>();
    else return ward::Tensor<float>(ward::cast<float>(x.template to<ward::cpu>()));
}

}  // namespace ward_test
