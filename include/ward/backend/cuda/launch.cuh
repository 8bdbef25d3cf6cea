#pragma once
// Launch shapes shared by the CUDA kernels: the block size, a grid that fills the device for
// grid-stride loops, and the divisors of a planned pass.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/fast_divisor.cuh"
#include "ward/core/config.hpp"
#include "ward/tensor/layout.hpp"

namespace ward::backend::cuda {

inline constexpr int block_threads = 256;

/// Streaming multiprocessors of the current device (queried once per device).
inline int sm_count() {
    constexpr int max_devices = 64;
    static int cached[max_devices] = {};
    int device = 0;
    WARD_CUDA_CHECK(cudaGetDevice(&device));
    if (device >= max_devices) device = max_devices - 1;
    if (cached[device] == 0) WARD_CUDA_CHECK(cudaDeviceGetAttribute(&cached[device], cudaDevAttrMultiProcessorCount, device));
    return cached[device];
}

/// Blocks for a grid-stride loop over `work` items of one thread each: enough to fill every SM
/// (8 blocks of 256 threads is 2048 resident threads, an SM's maximum), no more.
inline unsigned grid_stride_blocks(index_t work) {
    const index_t needed = (work + block_threads - 1) / block_threads;
    return static_cast<unsigned>(std::max<index_t>(1, std::min<index_t>(needed, index_t(sm_count()) * 8)));
}

/// Passes of fewer elements than this index with 32 bits and FastDivisor. 2^31, not 2^32: a
/// grid-stride index below it plus the grid's thread count cannot wrap around 32 bits.
inline constexpr index_t fast_index_limit = index_t(1) << 31;

/// The plan's extents as divisors. An extent the divisor cannot hold (the reduced axis of a
/// reduction, never divided by) or an empty one gets 1.
template <class Div>
Divisors<Div> plan_divisors(const LoopPlan& plan) {
    using Word = decltype(Div{}.divisor);
    Divisors<Div> dv;
    for (int d = 0; d < plan.rank; ++d) {
        const index_t e = plan.shape[d];
        const bool fits = e >= 1 && static_cast<std::uint64_t>(e) <= static_cast<std::uint64_t>(Word(~Word(0)));
        dv.axis[d] = Div(fits ? static_cast<Word>(e) : Word(1));
    }
    return dv;
}

/// The stride arrays of a planned pass, by value, for a kernel argument.
struct StrideArray {
    index_t v[max_rank];
};

}  // namespace ward::backend::cuda
