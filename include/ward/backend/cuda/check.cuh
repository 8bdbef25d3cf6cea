#pragma once
// Turns CUDA runtime and cuBLAS status codes into ward exceptions naming the failed call.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "ward/core/error.hpp"

namespace ward::backend::cuda {

inline void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess)
        throw backend_error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(status) + " (" +
                            cudaGetErrorString(status) + ")");
}

inline void check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw backend_error(std::string("cuBLASLt: ") + what + " failed with status " + std::to_string(int(status)));
}

/// True when at least one CUDA device is usable (tests skip themselves otherwise).
inline bool device_available() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky "no device" error
        return false;
    }
    return n > 0;
}

}  // namespace ward::backend::cuda

#define WARD_CUDA_CHECK(call) ::ward::backend::cuda::check((call), #call)
