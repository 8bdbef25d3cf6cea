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

}  // namespace ward::stats
