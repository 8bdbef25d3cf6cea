#pragma once
// The process's resident memory as Linux reports it (/proc/self/status): what a loader or a training
// step really costs, for the load benchmarks and the memory tests. Linux only; elsewhere the
// readings are std::nullopt.

#include <cstddef>
#include <fstream>
#include <optional>
#include <string>

namespace ward {

namespace detail {
/// A "Name:   1234 kB" line of /proc/self/status, in bytes.
inline std::optional<std::size_t> proc_status_bytes(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) {
            try {
                return static_cast<std::size_t>(std::stoull(line.substr(field.size() + 1))) * 1024;
            } catch (...) {
                return std::nullopt;
            }
        }
    return std::nullopt;
}
}  // namespace detail

/// Bytes resident now (VmRSS: anonymous memory plus mapped file pages that are touched).
inline std::optional<std::size_t> resident_bytes() { return detail::proc_status_bytes("VmRSS"); }

/// The most bytes resident at once since the start or the last reset_peak_resident() (VmHWM).
inline std::optional<std::size_t> peak_resident_bytes() { return detail::proc_status_bytes("VmHWM"); }

/// Starts the peak over from what is resident now (writes 5 to /proc/self/clear_refs); false where
/// the kernel does not allow it.
inline bool reset_peak_resident() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

}  // namespace ward
