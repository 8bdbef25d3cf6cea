#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). A value is a pure function of
// (seed, stream, counter), so results are identical across runs, thread counts and devices:
// element i of a random tensor depends only on i, never on which thread computed it.

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "ward/core/config.hpp"
#include "ward/core/math.hpp"

namespace ward {

struct Philox4x32 {
    std::uint32_t v[4];
};

/// Philox4x32 with 10 rounds: 128-bit counter, 64-bit key -> 4 x 32 random bits.
WARD_HOST_DEVICE inline Philox4x32 philox4x32_10(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2,
                                                 std::uint32_t c3, std::uint32_t k0, std::uint32_t k1) {
    constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
    constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        std::uint64_t p0 = static_cast<std::uint64_t>(M0) * c0;
        std::uint64_t p1 = static_cast<std::uint64_t>(M1) * c2;
        std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
        std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
        std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += W0;
        k1 += W1;
    }
    return {{c0, c1, c2, c3}};
}

/// 32 random bits -> uniform float in (0, 1] (never 0, so log() is safe).
WARD_HOST_DEVICE inline float uint_to_unit_float(std::uint32_t x) {
    return (static_cast<float>(x >> 8) + 1.0f) * (1.0f / 16777216.0f);
}
/// 64 random bits -> uniform double in (0, 1].
WARD_HOST_DEVICE inline double uint_to_unit_double(std::uint32_t hi, std::uint32_t lo) {
    std::uint64_t x = (static_cast<std::uint64_t>(hi) << 32 | lo) >> 11;
    return (static_cast<double>(x) + 1.0) * (1.0 / 9007199254740992.0);
}

/// The key of a random sequence plus a running offset; every draw call takes a fresh block of
/// counters, so consecutive draws from one generator are independent.
/// Counter layout: (element index low, element index high, draw offset low, draw offset high).
struct RandomKey {
    std::uint32_t k0 = 0, k1 = 0;
    std::uint64_t offset = 0;

    /// 4 x 32 random bits for block `index` of this draw.
    WARD_HOST_DEVICE Philox4x32 block(std::uint64_t index) const {
        return philox4x32_10(static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                             static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(offset >> 32), k0, k1);
    }
    /// Uniform in (0, 1] for element i: f32 takes one 32-bit lane (four elements per block),
    /// f64 two lanes (two elements per block).
    template <class V>
    WARD_HOST_DEVICE V uniform(std::uint64_t i) const {
        if constexpr (sizeof(V) == 8) {
            Philox4x32 r = block(i >> 1);
            unsigned lane = 2u * static_cast<unsigned>(i & 1u);
            return static_cast<V>(uint_to_unit_double(r.v[lane], r.v[lane + 1]));
        } else {
            return static_cast<V>(uint_to_unit_float(block(i >> 2).v[i & 3u]));
        }
    }
    /// Standard normal for element i: Box-Muller on one block (two 53-bit uniforms) gives the
    /// pair (cos, sin); even elements take the cosine, odd ones the sine.
    template <class V>
    WARD_HOST_DEVICE V normal(std::uint64_t i) const {
        Philox4x32 r = block(i >> 1);
        double u1 = uint_to_unit_double(r.v[0], r.v[1]);
        double u2 = uint_to_unit_double(r.v[2], r.v[3]);
        double radius = math::sqrt(-2.0 * math::log(u1));
        double angle = 6.283185307179586 * u2;
        return static_cast<V>((i & 1u) ? radius * math::sin(angle) : radius * math::cos(angle));
    }
};

/// A seeded generator: Generator{seed, stream}. Each draw advances `offset` by one, so a program
/// that makes the same draws in the same order gets the same numbers, on any thread count.
class Generator {
public:
    explicit Generator(std::uint64_t seed = 0, std::uint64_t stream = 0)
        : k0_(static_cast<std::uint32_t>(seed ^ (stream * 0x9E3779B97F4A7C15ull))),
          k1_(static_cast<std::uint32_t>((seed >> 32) ^ ((stream * 0x9E3779B97F4A7C15ull) >> 32) ^ 0x5851F42Du)) {}

    /// The key for the next draw (and advances the generator).
    RandomKey next() { return RandomKey{k0_, k1_, offset_++}; }
    std::uint64_t offset() const { return offset_; }
    /// Restores the position (checkpoints save seed, stream and offset).
    void set_offset(std::uint64_t o) { offset_ = o; }

    /// A single uniform double in (0, 1] (host-side sampling: shuffles, token sampling).
    double uniform() { return next().uniform<double>(0); }

private:
    std::uint32_t k0_, k1_;
    std::uint64_t offset_ = 0;
};

/// 0 .. n-1 shuffled (Fisher-Yates) by draws from `gen`: the epoch orders of the training loops, so
/// an order depends on the generator's seed and stream alone.
inline std::vector<std::size_t> shuffled_indices(std::size_t n, Generator gen) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(gen.uniform() * double(i)) % i]);
    return order;
}

}  // namespace ward
