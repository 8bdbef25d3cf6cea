#pragma once
// GELU (tanh form) and its gradient over dense f32 or bf16 arrays on the GPU (the CPU's eltwise.hpp,
// device memory): one grid-stride pass, 16 bytes per access (4 f32 or 8 bf16) where every array is
// aligned for it, the tail (and misaligned arrays) one element at a time. The math is f32 for both
// element types; bf16 results are rounded once.
//
//   x, y, dy, dx are (n) contiguous
//   forward:  y  = gelu_tanh(x) = x / 2 (1 + tanh(k (x + c x^3))),  k = sqrt(2 / pi), c = 0.044715
//   backward: dx = dy gelu_tanh'(x) = dy (0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)),  t = tanh(k (x + c x^3))
//
// Both return true: the kernel exists for every n (the CPU's return false means "oneDNN has no
// implementation, compose the op instead").

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/launch_plan.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"

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
}  // namespace detail

// x (n) -> y (n); Vec: x and y aligned for packs, the first n / N * N elements a pack at a time.
template <bool Vec, class E>
__global__ void gelu_tanh_kernel(const E* __restrict__ x, E* __restrict__ y, index_t n) {
    constexpr int N = pack_width<E>;
    const index_t stride = index_t(gridDim.x) * blockDim.x, first = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    index_t done = 0;
    if constexpr (Vec) {
        const index_t packs = n / N;
        const auto* xp = reinterpret_cast<const Pack<E, N>*>(x);
        auto* yp = reinterpret_cast<Pack<E, N>*>(y);
        for (index_t e = first; e < packs; e += stride) {
            Pack<E, N> v = xp[e];
#pragma unroll
            for (int j = 0; j < N; ++j) v.v[j] = E(detail::gelu_tanh_value(float(v.v[j])));
            yp[e] = v;
        }
        done = packs * N;
    }
    for (index_t e = done + first; e < n; e += stride) y[e] = E(detail::gelu_tanh_value(float(x[e])));
}

// x, dy (n) -> dx (n); Vec as above, for all three arrays.
template <bool Vec, class E>
__global__ void gelu_tanh_backward_kernel(const E* __restrict__ x, const E* __restrict__ dy, E* __restrict__ dx, index_t n) {
    constexpr int N = pack_width<E>;
    const index_t stride = index_t(gridDim.x) * blockDim.x, first = index_t(blockIdx.x) * blockDim.x + threadIdx.x;
    index_t done = 0;
    if constexpr (Vec) {
        const index_t packs = n / N;
        const auto* xp = reinterpret_cast<const Pack<E, N>*>(x);
        const auto* gp = reinterpret_cast<const Pack<E, N>*>(dy);
        auto* dp = reinterpret_cast<Pack<E, N>*>(dx);
        for (index_t e = first; e < packs; e += stride) {
            const Pack<E, N> v = xp[e], g = gp[e];
            Pack<E, N> d;
#pragma unroll
            for (int j = 0; j < N; ++j) d.v[j] = E(float(g.v[j]) * detail::gelu_tanh_slope(float(v.v[j])));
            dp[e] = d;
        }
        done = packs * N;
    }
    for (index_t e = done + first; e < n; e += stride) dx[e] = E(float(dy[e]) * detail::gelu_tanh_slope(float(x[e])));
}

/// y = gelu_tanh(x) over n elements; E is float or bf16.
template <class E>
bool gelu_tanh_forward(const E* x, E* y, index_t n) {
    static_assert(KernelElement<E>, "ward: the CUDA GELU takes f32 or bf16");
    if (n <= 0) return true;
    constexpr int N = pack_width<E>;
    const bool vec = starts_pack<E, N>(x) && starts_pack<E, N>(y);
    const unsigned grid = grid_stride_blocks(vec ? (n + N - 1) / N : n);
    if (vec) gelu_tanh_kernel<true, E><<<grid, block_threads, 0, current_stream()>>>(x, y, n);
    else gelu_tanh_kernel<false, E><<<grid, block_threads, 0, current_stream()>>>(x, y, n);
    check(cudaGetLastError(), "gelu_tanh kernel launch");
    return true;
}

/// dx = dy * gelu_tanh'(x) over n elements; E is float or bf16.
template <class E>
bool gelu_tanh_backward(const E* x, const E* dy, E* dx, index_t n) {
    static_assert(KernelElement<E>, "ward: the CUDA GELU takes f32 or bf16");
    if (n <= 0) return true;
    constexpr int N = pack_width<E>;
    const bool vec = starts_pack<E, N>(x) && starts_pack<E, N>(dy) && starts_pack<E, N>(dx);
    const unsigned grid = grid_stride_blocks(vec ? (n + N - 1) / N : n);
    if (vec) gelu_tanh_backward_kernel<true, E><<<grid, block_threads, 0, current_stream()>>>(x, dy, dx, n);
    else gelu_tanh_backward_kernel<false, E><<<grid, block_threads, 0, current_stream()>>>(x, dy, dx, n);
    check(cudaGetLastError(), "gelu_tanh backward kernel launch");
    return true;
}

}  // namespace ward::backend::cuda
