#pragma once
// The harnesses compiled into the replay program, each under its own name (see CMakeLists.txt).

#include <cstddef>
#include <cstdint>

namespace ward::fuzz {

struct Target {
    const char* name;
    int (*run)(const std::uint8_t*, std::size_t);
};

extern const Target targets[];
extern const std::size_t target_count;

}  // namespace ward::fuzz
