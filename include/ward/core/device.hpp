#pragma once
// Device tags. The device is a compile-time parameter (Tensor<float, cpu>, Tensor<bf16, cuda>):
// no virtual dispatch on hot paths. A backend makes a device usable by specialising
// DeviceMemory<D> (allocation and copies) and Executor<D> (expression evaluation).

#include <concepts>
#include <cstddef>

namespace ward {

/// The host CPU: oneDNN for heavy ops, OpenMP + SIMD loops for expressions.
struct cpu {
    static constexpr const char* name = "cpu";
};

/// An NVIDIA GPU: cuBLASLt for heavy ops, generated kernels for expressions (compiled by nvcc).
struct cuda {
    static constexpr const char* name = "cuda";
};

template <class D>
concept Device = requires {
    { D::name } -> std::convertible_to<const char*>;
};

/// Allocation and copies for device D; specialised by each backend.
/// Required members: static void* allocate(std::size_t bytes); static void release(void*) noexcept;
/// static void copy(void* dst, const void* src, std::size_t bytes) (within the device);
/// static void to_host(void* host, const void* dev, std::size_t bytes);
/// static void from_host(void* dev, const void* host, std::size_t bytes).
template <class D>
struct DeviceMemory;

/// Evaluates expressions on device D (one pass over memory per assignment); specialised by each backend.
template <class D>
struct Executor;

}  // namespace ward
