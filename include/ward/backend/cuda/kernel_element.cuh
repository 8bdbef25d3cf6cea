#pragma once
// The element types the CUDA backend's kernels and cuBLASLt calls take: f32, and bf16 (stored as
// bf16, computed in f32 inside each kernel). f64 has no kernels here: it stays on the CPU.

#include <concepts>

#include "ward/core/dtype.hpp"

namespace ward::backend::cuda {

template <class T>
concept KernelElement = std::same_as<T, float> || std::same_as<T, bf16>;

}  // namespace ward::backend::cuda
