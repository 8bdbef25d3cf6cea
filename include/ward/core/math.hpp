#pragma once
// Scalar math usable in host and device code: one name per function, overloaded for float and
// double, mapping to <cmath> on the host and to CUDA's intrinsics-backed functions on the device.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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

WARD_MATH_UNARY(log, logf, log)
WARD_MATH_UNARY(sqrt, sqrtf, sqrt)
WARD_MATH_UNARY(sin, sinf, sin)
WARD_MATH_UNARY(cos, cosf, cos)
WARD_MATH_UNARY(fabs, fabsf, fabs)
WARD_MATH_UNARY(log1p, log1pf, log1p)
#undef WARD_MATH_UNARY

/// a * b and a + b, each rounded on its own. In device code nvcc fuses a * b + c into one FMA
/// (one rounding), which the CPU build (no FMA in its target) does not; values that must agree
/// bit for bit across devices (random draws) are computed with these.
#if WARD_DEVICE_CODE
WARD_HOST_DEVICE inline float mul_rn(float a, float b) { return __fmul_rn(a, b); }
WARD_HOST_DEVICE inline double mul_rn(double a, double b) { return __dmul_rn(a, b); }
WARD_HOST_DEVICE inline float add_rn(float a, float b) { return __fadd_rn(a, b); }
WARD_HOST_DEVICE inline double add_rn(double a, double b) { return __dadd_rn(a, b); }
#else
WARD_HOST_DEVICE inline float mul_rn(float a, float b) { return a * b; }
WARD_HOST_DEVICE inline double mul_rn(double a, double b) { return a * b; }
WARD_HOST_DEVICE inline float add_rn(float a, float b) { return a + b; }
WARD_HOST_DEVICE inline double add_rn(double a, double b) { return a + b; }
#endif

#if WARD_DEVICE_CODE
WARD_HOST_DEVICE inline float exp(float x) { return ::expf(x); }
WARD_HOST_DEVICE inline float tanh(float x) { return ::tanhf(x); }
#else
/// e^x in f32, written without calls or branches so that element-wise loops vectorise (libm's expf
/// is an opaque call). Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, e^r by a degree-7 polynomial,
/// times 2^n through the exponent bits. Relative error below 2e-7; overflow gives inf, underflow 0,
/// NaN stays NaN.
inline float exp(float x) {
    const float hi = 88.72283905206835f, lo = -103.972077083991796f;  // e^hi = FLT_MAX; below lo, 0
    // NaN fails every comparison, so it clamps to hi here: converting NaN to int below would be
    // undefined. The last line gives the NaN back.
    float xc = x < hi ? (x > lo ? x : lo) : hi;
    float fx = xc * 1.44269504088896341f + 0.5f;
    int n = static_cast<int>(fx);
    n -= fx < static_cast<float>(n) ? 1 : 0;  // floor without a libm call
    float fn = static_cast<float>(n);
    float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
    float z = r * r;
    float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
               1.6666665459e-1f) * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    // 2^n as two factors 2^(n/2) 2^(n - n/2): each stays a normal float at both ends of the range.
    const int n1 = n / 2, n2 = n - n1;
    std::uint32_t b1 = static_cast<std::uint32_t>(n1 + 127) << 23, b2 = static_cast<std::uint32_t>(n2 + 127) << 23;
    float s1, s2;
    std::memcpy(&s1, &b1, sizeof s1);
    std::memcpy(&s2, &b2, sizeof s2);
    float result = y * s1 * s2;
    result = x > hi ? std::numeric_limits<float>::infinity() : result;
    result = x < lo ? 0.0f : result;
    return x != x ? x : result;
}
/// tanh in f32, branch-free like exp above: an odd polynomial near 0 (Cephes' tanhf), and
/// 1 - 2 / (e^{2|x|} + 1) with the sign of x elsewhere. Absolute error below 3e-7.
inline float tanh(float x) {
    float ax = x < 0 ? -x : x;
    float z = x * x;
    float small = x + x * z * ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                                1.33314422036e-1f) * z - 3.33332819422e-1f);
    float e = exp(ax > 20.0f ? 40.0f : 2.0f * ax);  // past 20, 1 - 2 / (e + 1) rounds to 1; no overflow, no NaN
    float large = 1.0f - 2.0f / (e + 1.0f);
    large = x < 0 ? -large : large;
    return ax < 0.625f ? small : large;
}
#endif
WARD_HOST_DEVICE inline double exp(double x) {
#if WARD_DEVICE_CODE
    return ::exp(x);
#else
    return std::exp(x);
#endif
}
WARD_HOST_DEVICE inline double tanh(double x) {
#if WARD_DEVICE_CODE
    return ::tanh(x);
#else
    return std::tanh(x);
#endif
}

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
