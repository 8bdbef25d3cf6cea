// ward::math's own f32 exp and tanh (branch-free, so element-wise loops vectorise) against libm in
// f64 over their whole range, plus the special values.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include <ward/core/math.hpp>

BOOST_AUTO_TEST_SUITE(core_math)

BOOST_AUTO_TEST_CASE(exp_is_accurate_everywhere) {
    double worst = 0;
    for (double x = -103.0; x < 88.72; x += 1.3e-4) {
        float f = static_cast<float>(x);
        double want = std::exp(double(f));
        if (want < std::numeric_limits<float>::min()) continue;  // denormal results: absolute check below
        worst = std::max(worst, std::abs(double(ward::math::exp(f)) - want) / want);
    }
    BOOST_TEST(worst < 3e-7);
    BOOST_TEST(std::abs(ward::math::exp(-95.0f) - float(std::exp(-95.0))) < 1e-44f);
    BOOST_TEST(ward::math::exp(0.0f) == 1.0f);
    BOOST_TEST(ward::math::exp(88.8f) == std::numeric_limits<float>::infinity());
    BOOST_TEST(ward::math::exp(-std::numeric_limits<float>::infinity()) == 0.0f);
    BOOST_TEST(ward::math::exp(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
    BOOST_TEST(std::isnan(ward::math::exp(std::nanf(""))));
}

BOOST_AUTO_TEST_CASE(tanh_is_accurate_everywhere) {
    double worst_abs = 0, worst_rel = 0;
    for (double x = -12.0; x < 12.0; x += 7e-5) {
        float f = static_cast<float>(x);
        double want = std::tanh(double(f)), got = ward::math::tanh(f);
        worst_abs = std::max(worst_abs, std::abs(got - want));
        if (std::abs(want) > 1e-30) worst_rel = std::max(worst_rel, std::abs(got - want) / std::abs(want));
    }
    BOOST_TEST(worst_abs < 3e-7);
    BOOST_TEST(worst_rel < 3e-7);
    BOOST_TEST(ward::math::tanh(1e-30f) == 1e-30f);  // tiny inputs keep their value, not 0
    BOOST_TEST(ward::math::tanh(50.0f) == 1.0f);
    BOOST_TEST(ward::math::tanh(-std::numeric_limits<float>::infinity()) == -1.0f);
    BOOST_TEST(std::isnan(ward::math::tanh(std::nanf(""))));
}

BOOST_AUTO_TEST_SUITE_END()
