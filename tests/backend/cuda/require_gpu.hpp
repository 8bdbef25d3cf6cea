#pragma once
// A global fixture for GPU test executables: without a CUDA device the executable prints why and
// exits with 77, which CTest (SKIP_RETURN_CODE) reports as skipped.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>

#include "ward/backend/cuda/check.cuh"

namespace ward_test {
struct RequireGpu {
    RequireGpu() {
        if (!ward::backend::cuda::device_available()) {
            std::printf("no CUDA device: skipped\n");
            std::exit(77);
        }
    }
};
}  // namespace ward_test
