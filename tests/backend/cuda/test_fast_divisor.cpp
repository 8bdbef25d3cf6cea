// The GPU's fast divisor, checked on the CPU against the hardware's / and %: every divisor up to
// 4096 and around every power of two, random divisors, and for each the numerators around
// multiples of it and at the ends of the 32-bit range.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "ward/backend/cuda/fast_divisor.cuh"
#include "ward/tensor/layout.hpp"

using ward::backend::cuda::Divisors;
using ward::backend::cuda::FastDivisor;
using ward::backend::cuda::PlainDivisor;

namespace {

std::vector<std::uint32_t> numerators_for(std::uint32_t d, std::mt19937_64& rng) {
    std::vector<std::uint32_t> n = {0u, 1u, 2u, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu};
    for (std::uint64_t k : {1ull, 2ull, 3ull, 1000ull, 65537ull}) {
        for (std::int64_t off : {-1, 0, 1}) {
            std::uint64_t v = k * d + std::uint64_t(off);
            if (v <= 0xffffffffull) n.push_back(std::uint32_t(v));
        }
    }
    const std::uint64_t last = 0xffffffffull / d;  // the last multiples below 2^32
    for (std::uint64_t k : {last - 1, last})
        for (std::int64_t off : {-1, 0, 1}) {
            std::uint64_t v = k * d + std::uint64_t(off);
            if (k > 0 && v <= 0xffffffffull) n.push_back(std::uint32_t(v));
        }
    std::uniform_int_distribution<std::uint32_t> any;
    for (int i = 0; i < 64; ++i) n.push_back(any(rng));
    return n;
}

/// Number of (d, n) pairs where FastDivisor disagrees with / or %.
std::uint64_t mismatches(std::uint32_t d, std::mt19937_64& rng) {
    FastDivisor f(d);
    std::uint64_t bad = 0;
    for (std::uint32_t n : numerators_for(d, rng)) {
        std::uint32_t q = f.div(n);
        bad += q != n / d || f.mod(n, q) != n % d;
    }
    return bad;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cuda_fast_divisor)

BOOST_AUTO_TEST_CASE(every_small_divisor_over_every_small_numerator) {
    std::uint64_t bad = 0;
    for (std::uint32_t d = 1; d <= 512; ++d) {
        FastDivisor f(d);
        for (std::uint32_t n = 0; n < 20000; ++n) {
            std::uint32_t q = f.div(n);
            bad += q != n / d || f.mod(n, q) != n % d;
        }
    }
    BOOST_TEST(bad == 0u);
}

BOOST_AUTO_TEST_CASE(divisors_up_to_4096_and_around_powers_of_two) {
    std::mt19937_64 rng(16);
    std::uint64_t bad = 0;
    for (std::uint32_t d = 1; d <= 4096; ++d) bad += mismatches(d, rng);
    for (int s = 1; s < 32; ++s)
        for (std::int64_t off : {-2, -1, 0, 1, 2}) {
            std::int64_t d = (std::int64_t(1) << s) + off;
            if (d >= 1 && d <= 0xffffffffll) bad += mismatches(std::uint32_t(d), rng);
        }
    for (std::uint32_t d : {0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu}) bad += mismatches(d, rng);
    BOOST_TEST(bad == 0u);
}

BOOST_AUTO_TEST_CASE(random_divisors_and_numerators) {
    std::mt19937_64 rng(17);
    std::uniform_int_distribution<std::uint32_t> any(1u, 0xffffffffu);
    std::uniform_int_distribution<std::uint32_t> small(1u, 1u << 20);
    std::uint64_t bad = 0;
    for (int i = 0; i < 20000; ++i) bad += mismatches(i % 2 ? any(rng) : small(rng), rng);
    BOOST_TEST(bad == 0u);
}

BOOST_AUTO_TEST_CASE(unravels_rows_like_layout) {
    const ward::index_t shape[] = {3, 7, 5, 2, 11, 13};
    for (int outer = 1; outer < 6; ++outer) {
        Divisors<FastDivisor> fast;
        Divisors<PlainDivisor> plain;
        ward::index_t rows = 1;
        for (int d = 0; d < outer; ++d) {
            fast.axis[d] = FastDivisor(std::uint32_t(shape[d]));
            plain.axis[d] = PlainDivisor(std::uint64_t(shape[d]));
            rows *= shape[d];
        }
        bool same = true;
        for (ward::index_t row = 0; row < rows; ++row) {
            ward::index_t want[ward::max_rank], a[ward::max_rank], b[ward::max_rank];
            ward::unravel_row(row, shape, outer, want);
            ward::backend::cuda::unravel_row_fast(std::uint32_t(row), fast, outer, a);
            ward::backend::cuda::unravel_row_fast(std::uint64_t(row), plain, outer, b);
            for (int d = 0; d < outer; ++d) same = same && a[d] == want[d] && b[d] == want[d];
        }
        BOOST_TEST(same, "outer " << outer);
    }
}

BOOST_AUTO_TEST_SUITE_END()
