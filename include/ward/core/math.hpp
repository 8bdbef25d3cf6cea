#pragma once
// Scalar math usable in host and device code: one name per function, overloaded for float and
// double, mapping to <cmath> on the host and to CUDA's intrinsics-backed functions on the device.

#include <cmath>
#include <type_traits>

#include "ward/core/config.hpp"

namespace ward::math {

#if WARD_DEVICE_CODE
#define WARD_MATH_UNARY(name, fname, dname)                          \
    WARD_HOST_DEVICE inline float name(float x) { return ::fname(x); } \
    WARD_HOST_DEVICE inline double name(double x) { return ::dname(x); }
#else
#define WARD_MATH_UNARY(name, fname, dname)                               \
    WARD_HOST_DEVICE inline float name(float x) { return std::name(x); } \
    WARD_HOST_DEVICE inline double name(double x) { return std::name(x); }
#endif

WARD_MATH_UNARY(exp, expf, exp)
WARD_MATH_UNARY(log, logf, log)
WARD_MATH_UNARY(sqrt, sqrtf, sqrt)
WARD_MATH_UNARY(tanh, tanhf, tanh)
WARD_MATH_UNARY(sin, sinf, sin)
WARD_MATH_UNARY(cos, cosf, cos)
WARD_MATH_UNARY(fabs, fabsf, fabs)
WARD_MATH_UNARY(log1p, log1pf, log1p)
#undef WARD_MATH_UNARY

#if WARD_DEVICE_CODE
WARD_HOST_DEVICE inline float pow(float x, float y) { return ::powf(x, y); }
WARD_HOST_DEVICE inline double pow(double x, double y) { return ::pow(x, y); }
#else
WARD_HOST_DEVICE inline float pow(float x, float y) { return std::pow(x, y); }
WARD_HOST_DEVICE inline double pow(double x, double y) { return std::pow(x, y); }
#endif

template <class T>
WARD_HOST_DEVICE inline T max(T a, T b) { return a < b ? b : a; }
template <class T>
WARD_HOST_DEVICE inline T min(T a, T b) { return b < a ? b : a; }

/// True for NaN (works under -ffast-math too, where x != x may be folded away).
template <class T>
WARD_HOST_DEVICE inline bool isnan(T x) {
    if constexpr (std::is_integral_v<T>) {
        return false;
    } else {
#if WARD_DEVICE_CODE
        return ::isnan(x);
#else
        return std::isnan(x);
#endif
    }
}

}  // namespace ward::math

// Dual-number overloads of the functions above (forward-mode derivatives).
#include "ward/core/dual.hpp"
