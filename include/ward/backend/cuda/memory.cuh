#pragma once
// Device memory for Tensor<T, cuda>: cudaMalloc'd storage and synchronous copies.

#include <cuda_runtime.h>

#include <cstddef>

#include "ward/backend/cuda/check.cuh"
#include "ward/core/device.hpp"

namespace ward {

template <>
struct DeviceMemory<cuda> {
    static void* allocate(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        void* p = nullptr;
        WARD_CUDA_CHECK(cudaMalloc(&p, bytes));
        return p;
    }
    static void release(void* p) noexcept {
        if (p) (void)cudaFree(p);
    }
    static void copy(void* dst, const void* src, std::size_t bytes) {
        if (bytes) WARD_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    }
    static void to_host(void* host, const void* dev, std::size_t bytes) {
        if (bytes) WARD_CUDA_CHECK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
    }
    static void from_host(void* dev, const void* host, std::size_t bytes) {
        if (bytes) WARD_CUDA_CHECK(cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice));
    }
};

}  // namespace ward
