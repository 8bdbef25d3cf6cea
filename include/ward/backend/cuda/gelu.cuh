#pragma once
// GELU (tanh form) and its gradient over dense f32 arrays on the GPU (the CPU's eltwise.hpp, device
// memory): one grid-stride pass, four elements per thread through float4 where every array is 16-byte
// aligned, the tail (and misaligned arrays) one element at a time.
//
//   x, y, dy, dx are (n) contiguous
//   forward:  y  = gelu_tanh(x) = x / 2 (1 + tanh(k (x + c x^3))),  k = sqrt(2 / pi), c = 0.044715
//   backward: dx = dy gelu_tanh'(x) = dy (0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)),  t = tanh(k (x + c x^3))
//
// Both return true: the kernel exists for every n (the CPU's return false means "oneDNN has no
// implementation, compose the op instead").

#include <cuda_runtime.h>

#include <cstdint>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"

namespace ward::backend::cuda {

namespace detail {
__device__ inline float gelu_tanh_value(float x) {
    const float k = 0.7978845608028654f, c = 0.044715f;
    return 0.5f * x * (1.f + tanhf(k * (x + c * x * x * x)));
}
__device__ inline float gelu_tanh_slope(float x) {
    const float k = 0.7978845608028654f, c = 0.044715f;
    const float t = tanhf(k * (x + c * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * k * (1.f + 3.f * c * x * x);
}
inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }
}  // namespace detail

// x (n) -> y (n); Vec: x and y 16-byte aligned, the first n / 4 * 4 elements as float4.
template <bool Vec>
__global__ void gelu_tanh_kernel(const float* __restrict__ x, float* __restrict__ y, index_t n) {
    const index_t stride = index_t(gridDim.x) * blockDim.x, first = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    index_t done = 0;
    if constexpr (Vec) {
        const index_t n4 = n / 4;
        const auto* x4 = reinterpret_cast<const float4*>(x);
        auto* y4 = reinterpret_cast<float4*>(y);
        for (index_t e = first; e < n4; e += stride) {
            float4 v = x4[e];
            v.x = detail::gelu_tanh_value(v.x), v.y = detail::gelu_tanh_value(v.y);
            v.z = detail::gelu_tanh_value(v.z), v.w = detail::gelu_tanh_value(v.w);
            y4[e] = v;
        }
        done = n4 * 4;
    }
    for (index_t e = done + first; e < n; e += stride) y[e] = detail::gelu_tanh_value(x[e]);
}

// x, dy (n) -> dx (n); Vec as above, for all three arrays.
template <bool Vec>
__global__ void gelu_tanh_backward_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx,
                                          index_t n) {
    const index_t stride = index_t(gridDim.x) * blockDim.x, first = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    index_t done = 0;
    if constexpr (Vec) {
        const index_t n4 = n / 4;
        const auto* x4 = reinterpret_cast<const float4*>(x);
        const auto* g4 = reinterpret_cast<const float4*>(dy);
        auto* d4 = reinterpret_cast<float4*>(dx);
        for (index_t e = first; e < n4; e += stride) {
            const float4 v = x4[e], g = g4[e];
            d4[e] = make_float4(g.x * detail::gelu_tanh_slope(v.x), g.y * detail::gelu_tanh_slope(v.y),
                                g.z * detail::gelu_tanh_slope(v.z), g.w * detail::gelu_tanh_slope(v.w));
        }
        done = n4 * 4;
    }
    for (index_t e = done + first; e < n; e += stride) dx[e] = dy[e] * detail::gelu_tanh_slope(x[e]);
}

/// y = gelu_tanh(x) over n elements.
inline bool gelu_tanh_forward(const float* x, float* y, index_t n) {
    if (n <= 0) return true;
    const bool vec = detail::aligned16(x) && detail::aligned16(y);
    const unsigned grid = grid_stride_blocks(vec ? (n + 3) / 4 : n);
    if (vec) gelu_tanh_kernel<true><<<grid, block_threads, 0, current_stream()>>>(x, y, n);
    else gelu_tanh_kernel<false><<<grid, block_threads, 0, current_stream()>>>(x, y, n);
    check(cudaGetLastError(), "gelu_tanh kernel launch");
    return true;
}

/// dx = dy * gelu_tanh'(x) over n elements.
inline bool gelu_tanh_backward(const float* x, const float* dy, float* dx, index_t n) {
    if (n <= 0) return true;
    const bool vec = detail::aligned16(x) && detail::aligned16(dy) && detail::aligned16(dx);
    const unsigned grid = grid_stride_blocks(vec ? (n + 3) / 4 : n);
    if (vec) gelu_tanh_backward_kernel<true><<<grid, block_threads, 0, current_stream()>>>(x, dy, dx, n);
    else gelu_tanh_backward_kernel<false><<<grid, block_threads, 0, current_stream()>>>(x, dy, dx, n);
    check(cudaGetLastError(), "gelu_tanh backward kernel launch");
    return true;
}

}  // namespace ward::backend::cuda
