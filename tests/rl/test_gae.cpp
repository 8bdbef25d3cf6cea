// GAE against a trajectory worked by hand and, for lambda 1 and 0, against the Monte-Carlo return and
// the TD error computed by naive loops; whitening of equal values gives zeros, not NaN.
#include <boost/test/unit_test.hpp>

#include <ward/core/rng.hpp>
#include <ward/rl/gae.hpp>

#include <cmath>

using namespace ward;

BOOST_AUTO_TEST_SUITE(rl_gae)

BOOST_AUTO_TEST_CASE(three_steps_worked_by_hand) {
    // gamma 0.9, lambda 0.8: deltas 0.7 (t = 2), 0.9 * 0.3 - 0.4 = -0.13, 0.9 * 0.4 - 0.5 = -0.14;
    // A2 = 0.7, A1 = -0.13 + 0.72 * 0.7 = 0.374, A0 = -0.14 + 0.72 * 0.374 = 0.12928.
    const auto a = rl::gae({0.0, 0.0, 1.0}, {0.5, 0.4, 0.3}, 0.9, 0.8);
    const std::vector<double> adv = {0.12928, 0.374, 0.7}, ret = {0.62928, 0.774, 1.0};
    for (int t = 0; t < 3; ++t) {
        BOOST_TEST(std::abs(a.advantages[t] - adv[t]) < 1e-14);
        BOOST_TEST(std::abs(a.returns[t] - ret[t]) < 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(lambda_one_is_the_monte_carlo_return_and_lambda_zero_the_td_error) {
    Generator g(3);
    std::vector<double> r(9), v(9);
    for (auto& x : r) x = g.uniform() * 2 - 1;
    for (auto& x : v) x = g.uniform();
    const double gamma = 0.95;
    const auto mc = rl::gae(r, v, gamma, 1.0), td = rl::gae(r, v, gamma, 0.0);
    for (std::size_t t = 0; t < r.size(); ++t) {
        double ret = 0, discount = 1;
        for (std::size_t k = t; k < r.size(); ++k, discount *= gamma) ret += discount * r[k];
        BOOST_TEST(std::abs(mc.advantages[t] - (ret - v[t])) < 1e-12);
        BOOST_TEST(std::abs(mc.returns[t] - ret) < 1e-12);
        const double next = t + 1 < r.size() ? v[t + 1] : 0.0;
        BOOST_TEST(std::abs(td.advantages[t] - (r[t] + gamma * next - v[t])) < 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(whitening) {
    std::vector<double> x = {1.0, 2.0, 3.0, 6.0};
    rl::whiten(x);
    double m = 0, s = 0;
    for (double v : x) m += v / 4;
    for (double v : x) s += (v - m) * (v - m) / 4;
    BOOST_TEST(std::abs(m) < 1e-15);
    BOOST_TEST(std::abs(s - 1.0) < 1e-14);
    BOOST_TEST(std::abs(x[0] - (1.0 - 3.0) / std::sqrt(3.5)) < 1e-14);
    std::vector<double> same = {0.25, 0.25, 0.25};
    rl::whiten(same);  // no spread: centred, not divided by 0
    for (double v : same) BOOST_TEST(v == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_arguments) {
    BOOST_CHECK_THROW(rl::gae({1.0}, {1.0, 2.0}, 1.0, 1.0), shape_error);
    BOOST_CHECK_THROW(rl::gae({1.0}, {1.0}, 1.5, 1.0), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
