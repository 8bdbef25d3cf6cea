// Counter-based RNG: the Philox4x32-10 known-answer vectors from Random123, determinism across
// thread counts, independence of streams and draws, and the moments of each distribution.
#include <boost/test/unit_test.hpp>

#include <omp.h>

#include <cmath>

#include <ward/core/rng.hpp>
#include <ward/tensor.hpp>

using namespace ward;

BOOST_AUTO_TEST_SUITE(core_rng)

BOOST_AUTO_TEST_CASE(philox_known_answers) {
    // Random123's kat_vectors for philox4x32_10.
    Philox4x32 z = philox4x32_10(0, 0, 0, 0, 0, 0);
    BOOST_TEST(z.v[0] == 0x6627e8d5u);
    BOOST_TEST(z.v[1] == 0xe169c58du);
    BOOST_TEST(z.v[2] == 0xbc57ac4cu);
    BOOST_TEST(z.v[3] == 0x9b00dbd8u);
    Philox4x32 f = philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
    BOOST_TEST(f.v[0] == 0x408f276du);
    BOOST_TEST(f.v[1] == 0x41c83b0eu);
    BOOST_TEST(f.v[2] == 0xa20bc7c6u);
    BOOST_TEST(f.v[3] == 0x6d5451fdu);
    Philox4x32 p = philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    BOOST_TEST(p.v[0] == 0xd16cfe09u);
    BOOST_TEST(p.v[1] == 0x94fdccebu);
    BOOST_TEST(p.v[2] == 0x5001e420u);
    BOOST_TEST(p.v[3] == 0x24126ea1u);
}

BOOST_AUTO_TEST_CASE(same_seed_same_numbers_on_any_thread_count) {
    omp_set_num_threads(1);
    Generator g1(24, 3);
    Tensor<float> a = normal<float>(g1, {1 << 17});
    omp_set_num_threads(2);
    Generator g2(24, 3);
    Tensor<float> b = normal<float>(g2, {1 << 17});
    BOOST_TEST(a.to_vector() == b.to_vector(), boost::test_tools::per_element());
    // a second draw, another stream or another seed give other numbers
    Tensor<float> c = normal<float>(g2, {1 << 17});
    Generator g3(24, 4), g4(25, 3);
    Tensor<float> d = normal<float>(g3, {1 << 17}), e = normal<float>(g4, {1 << 17});
    BOOST_TEST(a(0) != c(0));
    BOOST_TEST(a(0) != d(0));
    BOOST_TEST(a(0) != e(0));
}

BOOST_AUTO_TEST_CASE(distribution_moments) {
    Generator g(1);
    const index_t n = 1 << 20;
    Tensor<double> u = uniform<double>(g, {n}, -1.0, 3.0);
    double mu = mean(u).item(), var = mean(square(u - mu)).item();
    BOOST_TEST(std::abs(mu - 1.0) < 0.01);
    BOOST_TEST(std::abs(var - 16.0 / 12) < 0.01);
    BOOST_TEST(min(u).item() >= -1.0);
    BOOST_TEST(max(u).item() <= 3.0);
    Tensor<float> z = normal<float>(g, {n}, 2.0f, 0.5f);
    float zm = mean(z).item(), zv = mean(square(z - zm)).item();
    BOOST_TEST(std::abs(zm - 2.0f) < 0.003f);
    BOOST_TEST(std::abs(zv - 0.25f) < 0.003f);
    // fourth moment of a normal: 3 sigma^4 (catches a Box-Muller that is not Gaussian)
    float k = mean(pow((z - 2.0f) / 0.5f, 4.0)).item();
    BOOST_TEST(std::abs(k - 3.0f) < 0.05f);
    Tensor<float> b = bernoulli<float>(g, {n}, 0.3f);
    BOOST_TEST(std::abs(mean(b).item() - 0.3f) < 0.003f);
    BOOST_TEST(sum(b * (1.0f - b)).item() == 0.0f);  // only 0 and 1
    BOOST_CHECK_THROW(bernoulli<float>(g, {2}, 1.5f), value_error);
}

BOOST_AUTO_TEST_CASE(random_leaves_fuse_into_expressions) {
    Generator g(5);
    auto x = Tensor<float>::ones({1000});
    auto before = stats::elementwise_passes.load();
    Tensor<float> dropped = x * bernoulli<float>(g, {1000}, 0.9f) / 0.9f;  // inverted dropout, one pass
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);
    float kept = sum(dropped > 0.0f).item();
    BOOST_TEST(kept > 850.0f);
    BOOST_TEST(kept < 950.0f);
}

BOOST_AUTO_TEST_SUITE_END()
