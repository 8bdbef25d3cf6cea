#pragma once
// Compile-time configuration shared by host and device code: the host/device
// annotation, inlining hints and feature flags. Every other header includes this.

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define WARD_HOST_DEVICE __host__ __device__
#define WARD_DEVICE __device__
#define WARD_HAS_CUDA 1
#else
#define WARD_HOST_DEVICE
#define WARD_DEVICE
#define WARD_HAS_CUDA 0
#endif

#if defined(__CUDA_ARCH__)
#define WARD_DEVICE_CODE 1
#else
#define WARD_DEVICE_CODE 0
#endif

#if defined(_OPENMP)
#define WARD_HAS_OPENMP 1
#else
#define WARD_HAS_OPENMP 0
#endif

#define WARD_INLINE inline __attribute__((always_inline))

namespace ward {

/// Index type for sizes, strides and offsets: signed, so strides may be negative
/// and differences need no casts.
using index_t = std::int64_t;

/// Largest tensor rank the library supports (shapes live in fixed arrays so they can
/// be passed by value into device kernels).
inline constexpr int max_rank = 6;

}  // namespace ward
