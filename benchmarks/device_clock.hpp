#pragma once
// Clock and memory readings for the benchmarks that run on either device. A CUDA launch returns as
// soon as the work is queued, so a step is timed from a wait for the device to a wait for the device;
// the tensor-memory counters are the host's or the device's (core/stats.hpp).
#include <chrono>
#include <type_traits>

#include <ward/core/device.hpp>
#include <ward/core/stats.hpp>

#ifdef __CUDACC__
#include <ward/backend/cuda/stream.cuh>
#endif

namespace ward::bench {

inline double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// Returns once the work queued on device D has finished (at once on the CPU).
template <Device D>
void wait_for_device() {
#ifdef __CUDACC__
    if constexpr (std::is_same_v<D, cuda>) backend::cuda::synchronize();
#endif
}

/// The seconds `step` takes on device D, its queued work included.
template <Device D, class F>
double timed(F&& step) {
    wait_for_device<D>();
    const double t0 = now();
    step();
    wait_for_device<D>();
    return now() - t0;
}

/// Tensor bytes allocated on device D now, and at most since the last stats::reset_peak().
template <Device D>
double bytes_in_use() {
    return double(std::is_same_v<D, cpu> ? stats::host_bytes_in_use.load() : stats::device_bytes_in_use.load());
}
template <Device D>
double peak_bytes() {
    return double(std::is_same_v<D, cpu> ? stats::host_bytes_peak.load() : stats::device_bytes_peak.load());
}

}  // namespace ward::bench
