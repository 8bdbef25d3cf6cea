#pragma once
// Division by a divisor fixed before a kernel starts, by multiply-high and shift (Granlund and
// Montgomery's round-up method, the scheme of PyTorch's IntDivider). An integer division is a
// long instruction sequence on the GPU; a strided kernel needs one per axis per element, and this
// turns each into a multiply-high, an add and a shift. Host-compilable, so it is tested on the CPU.

#include <cstdint>

#include "ward/core/config.hpp"

namespace ward::backend::cuda {

/// n / d and n % d for 32-bit unsigned n and a fixed 32-bit divisor d >= 1, exact for every n.
struct FastDivisor {
    std::uint32_t divisor = 1;
    std::uint32_t magic = 1;
    std::uint32_t shift = 0;

    FastDivisor() = default;
    explicit FastDivisor(std::uint32_t d) : divisor(d) {
        while (shift < 32 && (std::uint64_t{1} << shift) < d) ++shift;  // shift = ceil(log2 d)
        // magic = floor(2^32 (2^shift - d) / d) + 1 < 2^32; the product stays below 2^63.
        magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) * ((std::uint64_t{1} << shift) - d)) / d + 1);
    }

    WARD_HOST_DEVICE std::uint32_t div(std::uint32_t n) const {
#if WARD_DEVICE_CODE
        std::uint32_t t = __umulhi(n, magic);
#else
        std::uint32_t t = static_cast<std::uint32_t>((std::uint64_t{n} * magic) >> 32);
#endif
        return static_cast<std::uint32_t>((std::uint64_t{t} + n) >> shift);  // t + n needs 33 bits
    }
    WARD_HOST_DEVICE std::uint32_t mod(std::uint32_t n, std::uint32_t q) const { return n - q * divisor; }
};

/// The same interface over 64-bit indices with plain division, for passes of 2^32 elements or more.
struct PlainDivisor {
    std::uint64_t divisor = 1;

    PlainDivisor() = default;
    explicit PlainDivisor(std::uint64_t d) : divisor(d) {}

    WARD_HOST_DEVICE std::uint64_t div(std::uint64_t n) const { return n / divisor; }
    WARD_HOST_DEVICE std::uint64_t mod(std::uint64_t n, std::uint64_t q) const { return n - q * divisor; }
};

/// The extents of a planned pass as divisors: axis d's extent for d < rank (by value, for a kernel argument).
template <class Div>
struct Divisors {
    Div axis[max_rank];
};

/// Row index -> outer multi-index (the idx of unravel_row in tensor/layout.hpp) without hardware division.
template <class Div, class Index>
WARD_HOST_DEVICE inline void unravel_row_fast(Index row, const Divisors<Div>& dv, int outer, index_t* idx) {
    for (int d = outer - 1; d >= 0; --d) {
        Index q = static_cast<Index>(dv.axis[d].div(row));
        idx[d] = static_cast<index_t>(dv.axis[d].mod(row, q));
        row = q;
    }
}

}  // namespace ward::backend::cuda
