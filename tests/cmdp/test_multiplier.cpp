// The three multiplier updates against steps worked by hand, and their pitfalls: a zero threshold or zero
// costs give no NaN, log 0 is refused, a NaN cost is an error, and Adam turns a scalar multiplier into
// +-lr sign steps whatever the size of the violation.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/multiplier.hpp>

#include "error_message.hpp"

#include <cmath>
#include <limits>

using namespace ward::cmdp;
using ward::testing::message_of;

BOOST_AUTO_TEST_SUITE(cmdp_multiplier)

BOOST_AUTO_TEST_CASE(plain_ascent_steps_and_projection) {
    LagrangeMultiplier m({.threshold = 1.0, .lr = 0.5, .max = 2.0});
    BOOST_TEST(m.value() == 0.0);
    BOOST_TEST(m.update(3.0) == 1.0);   // 0 + 0.5 (3 - 1)
    BOOST_TEST(m.update(0.0) == 0.5);   // 1 + 0.5 (0 - 1)
    BOOST_TEST(m.update(0.0) == 0.0);   // 0.5 - 0.5
    BOOST_TEST(m.update(0.0) == 0.0);   // projected: never negative
    BOOST_TEST(m.update(11.0) == 2.0);  // projected onto max
    BOOST_TEST(m.steps() == 5);
}

BOOST_AUTO_TEST_CASE(window_and_delay) {
    LagrangeMultiplier m({.threshold = 1.0, .lr = 1.0, .init = 0.25, .delay = 2, .window = 2});
    BOOST_TEST(m.update(5.0) == 0.25);  // warm-up: recorded, lambda held at init
    BOOST_TEST(m.update(3.0) == 0.25);
    BOOST_TEST(m.update(1.0) == 1.25);  // mean of the last two costs (3 + 1) / 2 = 2: +1
    BOOST_TEST(m.update(0.0) == 0.75);  // mean (1 + 0) / 2 = 0.5: -0.5
}

BOOST_AUTO_TEST_CASE(log_ascent_is_multiplicative) {
    LogLagrangeMultiplier m({.threshold = 1.0, .lr = 0.5, .init = 1.0, .max = 2.0});
    BOOST_TEST(m.value() == 1.0);
    BOOST_TEST(std::abs(m.update(2.0) - std::exp(0.5)) < 1e-15);  // log lambda 0 + 0.5 (2 - 1)
    BOOST_TEST(std::abs(m.update(0.0) - 1.0) < 1e-15);            // back by the same factor
    BOOST_TEST(std::abs(m.update(21.0) - 2.0) < 1e-15);           // clamped at max
    for (int k = 0; k < 2000; ++k) m.update(0.0);                 // far below the threshold for long
    BOOST_TEST(m.value() >= 0.0);
    BOOST_TEST(std::isfinite(m.log_value()));  // log lambda drifts down linearly, never to -inf or NaN
    BOOST_TEST(std::abs(m.log_value() - (std::log(2.0) - 0.5 * 2000)) < 1e-9);
}

BOOST_AUTO_TEST_CASE(log_of_zero_is_refused) {
    const std::string msg = message_of<ward::value_error>([] { LogLagrangeMultiplier m({.threshold = 0.1, .init = 0.0}); });
    BOOST_TEST(msg.find("init must be > 0") != std::string::npos, msg);
    BOOST_CHECK_NO_THROW(LogLagrangeMultiplier());  // the default starts at lambda = 1
}

BOOST_AUTO_TEST_CASE(pid_without_smoothing_worked_by_hand) {
    // Algorithm 2 of Stooke et al.: I <- (I + Ki e)+, lambda = (Kp e + I + Kd (J_c - J_c[t-1])+)+; the past starts at 0.
    PidLagrangeMultiplier m({.threshold = 1.0, .kp = 1.0, .ki = 0.5, .kd = 2.0, .d_delay = 1, .p_ema = 0.0, .d_ema = 0.0});
    BOOST_TEST(m.update(3.0) == 9.0);   // e 2: I 1, P 2, D 2 * (3 - 0) = 6
    BOOST_TEST(m.update(2.0) == 2.5);   // e 1: I 1.5, P 1, D 0 (the cost fell)
    BOOST_TEST(m.update(0.5) == 0.75);  // e -0.5: I 1.25, P -0.5
    BOOST_TEST(m.update(0.0) == 0.0);   // e -1: I 0.75, P -1: projected to 0
    BOOST_TEST(m.integral() == 0.75);
    BOOST_TEST(m.update(0.0) == 0.0);   // I 0.25
    BOOST_TEST(m.update(0.0) == 0.0);
    BOOST_TEST(m.integral() == 0.0);    // the integral is clamped at 0 too: it never winds below it
}

BOOST_AUTO_TEST_CASE(pid_with_ema_smoothing_worked_by_hand) {
    PidLagrangeMultiplier m({.threshold = 1.0, .kp = 1.0, .ki = 0.5, .kd = 2.0, .d_delay = 2, .p_ema = 0.5, .d_ema = 0.5});
    // step 1: e 2, I 1; P-EMA 0.5*0 + 0.5*2 = 1; cost EMA 1.5, two updates ago 0: rise 1.5 -> 1 + 1 + 3 = 5
    BOOST_TEST(m.update(3.0) == 5.0);
    // step 2: e 1, I 1.5; P-EMA 1; cost EMA 1.75, two updates ago 0: rise 1.75 -> 1 + 1.5 + 3.5 = 6
    BOOST_TEST(m.update(2.0) == 6.0);
    // step 3: e 0, I 1.5; P-EMA 0.5; cost EMA 1.375, two updates ago 1.5: no rise -> 0.5 + 1.5 = 2
    BOOST_TEST(m.update(1.0) == 2.0);
}

BOOST_AUTO_TEST_CASE(zero_threshold_and_zero_costs_give_no_nan) {
    LagrangeMultiplier plain({.threshold = 0.0});
    LogLagrangeMultiplier log({.threshold = 0.0, .init = 1e-3});
    PidLagrangeMultiplier pid({.threshold = 0.0});
    const double log_start = log.value();
    for (int k = 0; k < 100; ++k) {
        BOOST_TEST(plain.update(0.0) == 0.0);
        BOOST_TEST(log.update(0.0) == log_start);  // no violation, no step
        BOOST_TEST(pid.update(0.0) == 0.0);
    }
    // A cost above a zero threshold moves them up; none divides by the threshold.
    BOOST_TEST(plain.update(1.0) > 0.0);
    BOOST_TEST(log.update(1.0) > log_start);
    BOOST_TEST(pid.update(1.0) > 0.0);
}

BOOST_AUTO_TEST_CASE(nan_costs_are_errors_not_steps) {
    LagrangeMultiplier plain({.threshold = 0.1, .init = 0.3});
    PidLagrangeMultiplier pid({.threshold = 0.1, .init = 0.3});
    LogLagrangeMultiplier log({.threshold = 0.1, .init = 0.3});
    const double nan = std::numeric_limits<double>::quiet_NaN();
    BOOST_TEST(message_of<ward::value_error>([&] { plain.update(nan); }).find("not a finite number") != std::string::npos);
    BOOST_CHECK_THROW(pid.update(std::numeric_limits<double>::infinity()), ward::value_error);
    BOOST_CHECK_THROW(log.update(nan), ward::value_error);
    BOOST_TEST(plain.value() == 0.3);
    BOOST_TEST(pid.value() == 0.3);
    BOOST_TEST(std::abs(log.value() - 0.3) < 1e-15);
    BOOST_TEST(plain.update(0.1) == 0.3);  // the window holds no NaN afterwards
}

BOOST_AUTO_TEST_CASE(bad_options_are_named) {
    BOOST_TEST(message_of<ward::value_error>([] { LagrangeMultiplier m({.lr = -1.0}); }).find("lr must be finite and > 0") !=
               std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] { LagrangeMultiplier m({.init = 2.0, .max = 1.0}); }).find("init must not exceed max") !=
               std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] { PidLagrangeMultiplier m({.kp = -0.1}); }).find("gains") != std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] { PidLagrangeMultiplier m({.window = 0}); }).find("window must be >= 1") !=
               std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] { PidLagrangeMultiplier m({.p_ema = 1.0}); }).find("p_ema") != std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] {
                   LagrangeMultiplier m({.threshold = std::numeric_limits<double>::quiet_NaN()});
               }).find("threshold must be finite") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(adam_collapses_to_sign_steps) {
    // With a violation of constant sign Adam's bias-corrected moments are m = g and v = g^2 exactly, so
    // every step is lr g / (|g| + eps): lr, whether the violation is 1e-3 or 1e3. SGD steps lr g.
    for (double g : {1e-3, 1.0, 1e3}) {
        LagrangeMultiplier adam({.threshold = 0.0, .lr = 0.01, .ascent = Ascent::adam});
        LagrangeMultiplier sgd({.threshold = 0.0, .lr = 0.01});
        for (int k = 0; k < 50; ++k) {
            adam.update(g);
            sgd.update(g);
        }
        BOOST_TEST(std::abs(adam.value() - 50 * 0.01 * g / (g + 1e-8)) < 1e-12);
        BOOST_TEST(std::abs(adam.value() - 0.5) < 1e-5 * 0.5);  // the size of the violation is lost
        BOOST_TEST(std::abs(sgd.value() - 0.5 * g) < 1e-9 * g);
    }
    // And when the violation changes sign Adam keeps stepping the old way for a while (momentum).
    LagrangeMultiplier adam({.threshold = 0.0, .lr = 0.01, .init = 1.0, .ascent = Ascent::adam});
    for (int k = 0; k < 20; ++k) adam.update(1.0);
    const double before = adam.value();
    BOOST_TEST(adam.update(-0.5) > before);  // the cost is now below the threshold, yet lambda rises
}

BOOST_AUTO_TEST_SUITE_END()
