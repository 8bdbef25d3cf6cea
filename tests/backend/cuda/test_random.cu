// Random tensors (Philox4x32-10, core/rng.hpp) evaluated by the CUDA executor against the CPU
// executor, for the same generator seeds and draws: uniform, normal and bernoulli, f32 and f64,
// dropout masks, odd sizes (so every Philox lane and a ragged last block occur), draws into
// transposed and sliced destinations, draws fused into expressions over strided and broadcast
// operands. Skipped (exit 77) where no GPU exists.
//
// What must agree, and why:
//   uniform, bernoulli, dropout masks: bit for bit. They are integer arithmetic, one exact int ->
//     float conversion and scalings, and the scaling lo + (hi - lo) u is rounded per operation on
//     both devices (math::mul_rn/add_rn: nvcc would otherwise fuse it into one FMA).
//   normal: Box-Muller computes sqrt(-2 log u1) cos/sin(2 pi u2) in double. CUDA's double log is
//     within 1 ulp, sin and cos within 2 ulp (CUDA C Programming Guide, "Mathematical Functions");
//     glibc's are within 1 ulp; sqrt, the products and the conversions are correctly rounded on both.
//     So the doubles differ by at most ~4 ulp (2^-50 relative). f32 draws round that double to float:
//     the same float unless the double lies within 2^-50 relative of a float rounding boundary
//     (chance ~2^-26 per element), and then one float ulp apart: checked as at most 1 ulp. f64 draws
//     are checked to 8 ulp.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <string>
#include <vector>

#include <ward/cuda.cuh>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;

namespace {

using ward_test::on_host;

/// The largest distance in units in the last place between paired elements (same sign and
/// magnitude order: the IEEE bit patterns as ordered integers).
template <class V>
std::uint64_t max_ulps(const std::vector<V>& a, const std::vector<V>& b) {
    using I = std::conditional_t<sizeof(V) == 8, std::int64_t, std::int32_t>;
    if (a.size() != b.size()) return ~std::uint64_t(0);
    std::uint64_t worst = 0;
    auto ordered = [](V v) {
        I i;
        std::memcpy(&i, &v, sizeof v);
        return i < 0 ? std::numeric_limits<I>::min() - i : i;
    };
    for (std::size_t k = 0; k < a.size(); ++k) {
        const std::int64_t ia = ordered(a[k]), ib = ordered(b[k]);
        const std::uint64_t d = ia > ib ? std::uint64_t(ia) - std::uint64_t(ib) : std::uint64_t(ib) - std::uint64_t(ia);
        worst = std::max(worst, d);
    }
    return worst;
}

template <class V>
std::size_t differing(const std::vector<V>& a, const std::vector<V>& b) {
    std::size_t n = 0;
    for (std::size_t k = 0; k < a.size(); ++k) n += std::memcmp(&a[k], &b[k], sizeof(V)) != 0;
    return n;
}

const Shape shapes[] = {Shape{1}, Shape{3}, Shape{5}, Shape{4097}, Shape{3, 5, 7}, Shape{1000003}};

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_random)

BOOST_AUTO_TEST_CASE(uniform_and_bernoulli_are_bit_identical) {
    for (const Shape& s : shapes) {
        Generator gc(31, 2), gd(31, 2);
        const std::string at = s.str();
        BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(uniform<float, cuda>(gd, s))),
                            on_host(Tensor<float>(uniform<float>(gc, s)))) == 0u, "uniform f32 " << at);
        BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(uniform<float, cuda>(gd, s, -2.5f, 7.25f))),
                            on_host(Tensor<float>(uniform<float>(gc, s, -2.5f, 7.25f)))) == 0u, "uniform f32 [-2.5, 7.25) " << at);
        BOOST_TEST(max_ulps(on_host(Tensor<double, cuda>(uniform<double, cuda>(gd, s, -1.0, 3.0))),
                            on_host(Tensor<double>(uniform<double>(gc, s, -1.0, 3.0)))) == 0u, "uniform f64 " << at);
        for (float p : {0.0f, 0.3f, 0.9f, 1.0f})
            BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(bernoulli<float, cuda>(gd, s, p))),
                                on_host(Tensor<float>(bernoulli<float>(gc, s, p)))) == 0u, "bernoulli " << p << " " << at);
        // A dropout mask as autograd/nn.hpp builds it: keep / (1 - p).
        const float p = 0.1f;
        BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(bernoulli<float, cuda>(gd, s, 1 - p) * (1 / (1 - p)))),
                            on_host(Tensor<float>(bernoulli<float>(gc, s, 1 - p) * (1 / (1 - p))))) == 0u, "dropout " << at);
    }
}

BOOST_AUTO_TEST_CASE(normal_agrees_to_the_ulp_bound_of_the_math_functions) {
    std::size_t f32_differing = 0, f32_total = 0;
    for (const Shape& s : shapes) {
        Generator gc(32), gd(32);
        const std::string at = s.str();
        const auto d1 = on_host(Tensor<float, cuda>(normal<float, cuda>(gd, s)));
        const auto c1 = on_host(Tensor<float>(normal<float>(gc, s)));
        BOOST_TEST(max_ulps(d1, c1) <= 1u, "normal f32 " << at);
        const auto d2 = on_host(Tensor<float, cuda>(normal<float, cuda>(gd, s, 0.3f, 2.5f)));
        const auto c2 = on_host(Tensor<float>(normal<float>(gc, s, 0.3f, 2.5f)));
        // (scaled and shifted: a rare 1-ulp difference of the draw is 2.5 ulps of it after the scaling,
        // more ulps of a result near 0; so in absolute terms)
        BOOST_TEST(ward_test::max_rel_diff(d2, c2) <= 1e-6, "normal f32 (0.3, 2.5) " << at);
        f32_differing += differing(d1, c1) + differing(d2, c2);
        f32_total += d1.size() + d2.size();
        BOOST_TEST(max_ulps(on_host(Tensor<double, cuda>(normal<double, cuda>(gd, s))),
                            on_host(Tensor<double>(normal<double>(gc, s)))) <= 8u, "normal f64 " << at);
    }
    BOOST_TEST_MESSAGE("normal f32: " << f32_differing << " of " << f32_total << " elements differ (by 1 ulp)");
    BOOST_TEST(f32_differing <= f32_total / 100000 + 2);  // rare, as argued above
}

BOOST_AUTO_TEST_CASE(draws_into_views_and_fused_into_expressions) {
    Generator gc(33), gd(33);
    // Into a transposed destination: element (i, j) of the draw's shape, wherever it is stored.
    Tensor<float> c = Tensor<float>::zeros(Shape{7, 9});
    Tensor<float, cuda> d = Tensor<float, cuda>::zeros(Shape{7, 9});
    c.transpose().assign(uniform<float>(gc, Shape{9, 7}));
    d.transpose().assign(uniform<float, cuda>(gd, Shape{9, 7}));
    BOOST_TEST(max_ulps(on_host(d), on_host(c)) == 0u);
    // Into every other column of a slice.
    c.slice(1, 1, 9, 2).assign(bernoulli<float>(gc, Shape{7, 4}, 0.5f));
    d.slice(1, 1, 9, 2).assign(bernoulli<float, cuda>(gd, Shape{7, 4}, 0.5f));
    BOOST_TEST(max_ulps(on_host(d), on_host(c)) == 0u);
    // Fused with a strided operand, and broadcast along an axis (stride 0 in the draw's index).
    Tensor<float> x = Tensor<float>(uniform<float>(gc, Shape{5, 3})).transpose();  // (3, 5), strides (1, 3)
    Tensor<float, cuda> xd = x.contiguous().to<cuda>();
    (void)uniform<float, cuda>(gd, Shape{5, 3});  // keep the generators in step
    BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(xd + uniform<float, cuda>(gd, Shape{3, 5}, -1.0f, 1.0f))),
                        on_host(Tensor<float>(x + uniform<float>(gc, Shape{3, 5}, -1.0f, 1.0f)))) == 0u);
    BOOST_TEST(max_ulps(on_host(Tensor<float, cuda>(xd * bernoulli<float, cuda>(gd, Shape{5}, 0.7f))),
                        on_host(Tensor<float>(x * bernoulli<float>(gc, Shape{5}, 0.7f)))) == 0u);
    // (a 1-ulp difference of a normal draw, rare as argued above, stays that small after the sum)
    BOOST_TEST(ward_test::max_rel_diff(on_host(Tensor<float, cuda>(xd + normal<float, cuda>(gd, Shape{3, 1}))),
                                       on_host(Tensor<float>(x + normal<float>(gc, Shape{3, 1})))) <= 1e-6);
}

BOOST_AUTO_TEST_SUITE_END()
