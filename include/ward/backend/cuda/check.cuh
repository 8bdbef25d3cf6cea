#pragma once
// Turns CUDA runtime and cuBLAS status codes into ward exceptions naming the failed call.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "ward/core/error.hpp"

namespace ward {

/// A CUDA runtime or cuBLASLt call failed; what() names the call, the status and where it was made.
class cuda_error : public backend_error {
public:
    cuda_error(const std::string& message, std::string call, int status)
        : backend_error(message), call_(std::move(call)), status_(status) {}
    /// The call as written in the source, e.g. "cudaMalloc(&p, bytes)".
    const std::string& call() const noexcept { return call_; }
    /// The cudaError_t or cublasStatus_t value.
    int status() const noexcept { return status_; }

private:
    std::string call_;
    int status_;
};

namespace backend::cuda {

inline void check(cudaError_t status, const char* what, const char* where = nullptr) {
    if (status != cudaSuccess)
        throw cuda_error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")" + (where ? std::string(" at ") + where : std::string()),
                         what, int(status));
}

inline void check(cublasStatus_t status, const char* what, const char* where = nullptr) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw cuda_error(std::string("cuBLASLt: ") + what + " failed with status " + std::to_string(int(status)) +
                             (where ? std::string(" at ") + where : std::string()),
                         what, int(status));
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

}  // namespace backend::cuda
}  // namespace ward

#define WARD_CUDA_STRINGIFY_(x) #x
#define WARD_CUDA_STRINGIFY(x) WARD_CUDA_STRINGIFY_(x)
#define WARD_CUDA_CHECK(call) ::ward::backend::cuda::check((call), #call, __FILE__ ":" WARD_CUDA_STRINGIFY(__LINE__))
