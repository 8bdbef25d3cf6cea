// The KL estimators against worked values and, on samples of the policy, against the exact KL
// (k1 and k3 unbiased, k3 never negative); the adaptive KL controller's steps worked by hand.
#include <boost/test/unit_test.hpp>

#include <ward/core/rng.hpp>
#include <ward/rl/kl.hpp>

#include "error_message.hpp"

#include <cmath>
#include <vector>

using namespace ward;

BOOST_AUTO_TEST_SUITE(rl_kl)

BOOST_AUTO_TEST_CASE(estimates_worked_by_hand) {
    const double lp = std::log(0.5), lq = std::log(0.25);  // pi = 0.5, pi_ref = 0.25: r = 0.5
    BOOST_TEST(std::abs(rl::kl_estimate(rl::KlEstimator::k1, lp, lq) - std::log(2.0)) < 1e-15);
    BOOST_TEST(std::abs(rl::kl_estimate(rl::KlEstimator::k2, lp, lq) - 0.5 * std::log(2.0) * std::log(2.0)) < 1e-15);
    BOOST_TEST(std::abs(rl::kl_estimate(rl::KlEstimator::k3, lp, lq) - (0.5 - 1 - std::log(0.5))) < 1e-15);
    BOOST_TEST(rl::kl_estimate(rl::KlEstimator::k3, lq, lp) >= 0.0);  // r = 2: 1 - log 2 > 0
    BOOST_TEST(rl::kl_estimate(rl::KlEstimator::k3, lp, lp) == 0.0);
}

BOOST_AUTO_TEST_CASE(k1_and_k3_are_unbiased_under_the_policys_samples) {
    const std::vector<double> p = {0.5, 0.3, 0.15, 0.05}, q = {0.1, 0.2, 0.3, 0.4};
    double exact = 0;
    for (std::size_t i = 0; i < p.size(); ++i) exact += p[i] * std::log(p[i] / q[i]);
    Generator gen(11);
    const int n = 200000;
    double s1 = 0, ss1 = 0, s3 = 0, ss3 = 0, min3 = 1e300;
    for (int k = 0; k < n; ++k) {
        double u = gen.uniform(), acc = 0;
        std::size_t x = 0;
        while (x + 1 < p.size() && (acc += p[x]) < u) ++x;
        const double k1 = rl::kl_estimate(rl::KlEstimator::k1, std::log(p[x]), std::log(q[x]));
        const double k3 = rl::kl_estimate(rl::KlEstimator::k3, std::log(p[x]), std::log(q[x]));
        s1 += k1, ss1 += k1 * k1, s3 += k3, ss3 += k3 * k3, min3 = std::min(min3, k3);
    }
    const double m1 = s1 / n, m3 = s3 / n;
    const double se1 = std::sqrt((ss1 / n - m1 * m1) / n), se3 = std::sqrt((ss3 / n - m3 * m3) / n);
    BOOST_TEST(std::abs(m1 - exact) < 4 * se1, "k1 " << m1 << " vs " << exact << " (se " << se1 << ")");
    BOOST_TEST(std::abs(m3 - exact) < 4 * se3, "k3 " << m3 << " vs " << exact << " (se " << se3 << ")");
    BOOST_TEST(min3 >= 0.0);
    BOOST_TEST(se3 < se1);  // here k3 has the smaller variance
}

BOOST_AUTO_TEST_CASE(adaptive_controller_steps_worked_by_hand) {
    rl::AdaptiveKlController c({.init = 0.2, .target = 6.0, .horizon = 10000});
    // KL 9: error 9/6 - 1 = 0.5, clipped to 0.2; 256 samples: beta *= 1 + 0.2 * 256 / 10000.
    BOOST_TEST(std::abs(c.update(9.0, 256) - 0.2 * 1.00512) < 1e-15);
    // KL 5.4: error -0.1, unclipped.
    BOOST_TEST(std::abs(c.update(5.4, 1000) - 0.2 * 1.00512 * 0.99) < 1e-15);
    BOOST_CHECK_THROW(c.update(std::nan(""), 10), value_error);
    BOOST_CHECK_THROW(rl::AdaptiveKlController({.init = 0.1, .target = 0.0}), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
