#pragma once
// Process-wide instrumentation counters: how many passes over memory the executors made.
// Tests use them to prove fusion (a six-op expression is one pass, not six).

#include <atomic>
#include <cstdint>

namespace ward::stats {

/// One per element-wise assignment evaluated (one loop on the CPU, one kernel on the GPU).
inline std::atomic<std::uint64_t> elementwise_passes{0};
/// One per reduction evaluated.
inline std::atomic<std::uint64_t> reduction_passes{0};

/// Bytes of tensor storage alive on the host now, and the most alive at once since the last
/// reset_peak() (what benchmarks report as peak memory).
inline std::atomic<std::int64_t> host_bytes_in_use{0};
inline std::atomic<std::int64_t> host_bytes_peak{0};

namespace detail {
/// Adds `bytes` to `in_use` and raises `peak` to the new total where it is higher.
inline void note_allocation(std::atomic<std::int64_t>& in_use, std::atomic<std::int64_t>& peak, std::int64_t bytes) {
    const std::int64_t now = in_use.fetch_add(bytes) + bytes;
    std::int64_t seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
}
}  // namespace detail

inline void note_host_allocation(std::int64_t bytes) { detail::note_allocation(host_bytes_in_use, host_bytes_peak, bytes); }
inline void note_host_release(std::int64_t bytes) { host_bytes_in_use.fetch_sub(bytes); }

/// The same for device (GPU) tensor storage, plus how often the device block cache served a
/// request from its free lists (hits) or had to ask the driver (misses).
inline std::atomic<std::int64_t> device_bytes_in_use{0};
inline std::atomic<std::int64_t> device_bytes_peak{0};
inline std::atomic<std::uint64_t> device_cache_hits{0};
inline std::atomic<std::uint64_t> device_cache_misses{0};

inline void note_device_allocation(std::int64_t bytes) { detail::note_allocation(device_bytes_in_use, device_bytes_peak, bytes); }
inline void note_device_release(std::int64_t bytes) { device_bytes_in_use.fetch_sub(bytes); }

/// Restarts both peaks (host and device) from what is in use now.
inline void reset_peak() {
    host_bytes_peak.store(host_bytes_in_use.load());
    device_bytes_peak.store(device_bytes_in_use.load());
}

}  // namespace ward::stats
