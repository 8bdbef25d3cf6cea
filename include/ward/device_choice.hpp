#pragma once
// A program's --device and --dtype: the device named at run time, "cpu", or "cuda" in a build by
// nvcc (where this header brings in the CUDA backend), and the element type, "f32" or "bf16". The
// programs' own code is written once, generic over both, and these pick its instantiation.
//
//   return run_on_device(device, "lm", "lm_cuda", [&]<Device D>() { ...; return 0; });
//   return run_in_dtype(dtype, [&]<FloatElement T>() { ...; return 0; });

#include <cstdio>
#include <string>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"

#ifdef __CUDACC__
#include "ward/cuda.cuh"
#endif

namespace ward {

/// Runs fn.template operator()<D>(), which returns the program's exit code, for the device `name`
/// names. "cuda" with no GPU present: a line on stderr and 77, the exit code of a skipped run. "cuda"
/// in a build without nvcc: value_error naming `cuda_build`, the program's build by nvcc.
template <class Fn>
int run_on_device(const std::string& name, const char* program, const char* cuda_build, Fn&& fn) {
    if (name == "cpu") return fn.template operator()<cpu>();
    if (name != "cuda") throw value_error("--device must be cpu or cuda, got '" + name + "'");
#ifdef __CUDACC__
    (void)cuda_build;
    if (!backend::cuda::device_available()) {
        std::fprintf(stderr, "%s: --device cuda: no CUDA device found (skipped)\n", program);
        return 77;
    }
    return fn.template operator()<cuda>();
#else
    (void)program;
    throw value_error(std::string("--device cuda: this build has no CUDA; run ") + cuda_build + " (built where nvcc is found)");
#endif
}

/// Runs fn.template operator()<T>(), which returns the program's exit code, for the element type
/// `name` names: "f32" (float) or "bf16".
template <class Fn>
int run_in_dtype(const std::string& name, Fn&& fn) {
    if (name == "f32") return fn.template operator()<float>();
    if (name == "bf16") return fn.template operator()<bf16>();
    throw value_error("--dtype must be f32 or bf16, got '" + name + "'");
}

}  // namespace ward
