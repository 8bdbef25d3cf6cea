// Learning-rate schedules against their closed forms at the points that pin them down (start and
// end of warmup, midpoints, the end and beyond), and driving an optimiser: the parameter path of
// SGD under a schedule is the sum of the scheduled lrs times the gradient.
#include <boost/test/unit_test.hpp>

#include <ward/optim/schedule.hpp>
#include <ward/optim/sgd.hpp>
#include <ward/tensor.hpp>

#include <cmath>
#include <numbers>

using namespace ward;
using namespace ward::optim;
namespace tt = boost::test_tools;

static_assert(Schedule<ConstantSchedule> && Schedule<LinearWarmup> && Schedule<WarmupLinearDecay> && Schedule<WarmupCosine>);

BOOST_AUTO_TEST_SUITE(optim_schedule)

BOOST_AUTO_TEST_CASE(constant_and_linear_warmup) {
    BOOST_TEST(ConstantSchedule{}(0) == 1.0);
    BOOST_TEST(ConstantSchedule{}(123456) == 1.0);
    LinearWarmup w{.warmup_steps = 10};
    BOOST_TEST(w(0) == 0.0);  // the first step has lr 0, as in transformers' schedules
    BOOST_TEST(w(1) == 0.1);
    BOOST_TEST(w(5) == 0.5);
    BOOST_TEST(w(10) == 1.0);
    BOOST_TEST(w(1000) == 1.0);
    BOOST_TEST(LinearWarmup{}(0) == 1.0);  // no warmup
}

BOOST_AUTO_TEST_CASE(warmup_then_linear_decay) {
    WarmupLinearDecay s{.warmup_steps = 10, .total_steps = 110};
    BOOST_TEST(s(0) == 0.0);
    BOOST_TEST(s(4) == 0.4);
    BOOST_TEST(s(10) == 1.0);
    BOOST_TEST(s(35) == 0.75);
    BOOST_TEST(s(60) == 0.5);
    BOOST_TEST(s(110) == 0.0);
    BOOST_TEST(s(500) == 0.0);
    WarmupLinearDecay floor{.warmup_steps = 0, .total_steps = 100, .final_ratio = 0.1};
    BOOST_TEST(floor(0) == 1.0);
    BOOST_TEST(floor(50) == 0.55, tt::tolerance(1e-15));
    BOOST_TEST(floor(100) == 0.1, tt::tolerance(1e-15));
    BOOST_TEST(floor(1000) == 0.1, tt::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(warmup_then_cosine_to_a_minimum) {
    WarmupCosine s{.warmup_steps = 10, .total_steps = 110};
    BOOST_TEST(s(0) == 0.0);
    BOOST_TEST(s(5) == 0.5);
    BOOST_TEST(s(10) == 1.0);
    BOOST_TEST(s(35) == 0.5 * (1 + std::sqrt(0.5)), tt::tolerance(1e-14));  // a quarter of the way: cos(pi/4)
    BOOST_TEST(s(60) == 0.5, tt::tolerance(1e-14));
    BOOST_TEST(s(85) == 0.5 * (1 - std::sqrt(0.5)), tt::tolerance(1e-13));
    BOOST_TEST(std::abs(s(110)) < 1e-15);
    BOOST_TEST(std::abs(s(200)) < 1e-15);  // stays at the minimum after the end
    WarmupCosine m{.warmup_steps = 0, .total_steps = 100, .min_ratio = 0.1};
    BOOST_TEST(m(0) == 1.0);
    BOOST_TEST(m(50) == 0.55, tt::tolerance(1e-14));
    BOOST_TEST(m(100) == 0.1, tt::tolerance(1e-14));
    BOOST_TEST(m(101) == 0.1, tt::tolerance(1e-14));
    // Monotone non-increasing after warmup.
    for (int k = 10; k < 110; ++k) BOOST_TEST(s(k + 1) <= s(k));
    BOOST_TEST(scheduled_lr(m, 3e-4, 50) == 3e-4 * 0.55, tt::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(invalid_arguments_are_value_errors) {
    BOOST_CHECK_THROW(ConstantSchedule{}(-1), value_error);
    BOOST_CHECK_THROW((LinearWarmup{.warmup_steps = -5}(0)), value_error);
    BOOST_CHECK_THROW((WarmupCosine{.warmup_steps = 10, .total_steps = 5}(0)), value_error);
    BOOST_CHECK_THROW((WarmupCosine{.warmup_steps = 0, .total_steps = 5, .min_ratio = 1.5}(0)), value_error);
    BOOST_CHECK_THROW((WarmupLinearDecay{.warmup_steps = 0, .total_steps = 5, .final_ratio = -0.1}(0)), value_error);
}

BOOST_AUTO_TEST_CASE(a_schedule_drives_the_optimizer_lr) {
    // SGD with a constant gradient g: p_K = p_0 - g * sum_k lr * s(k).
    ParameterList<double> params{{"w", Tensor<double>::full(Shape{2}, 1.0), Tensor<double>::full(Shape{2}, 0.5)}};
    Sgd<double> opt(params, {.lr = 0.2});
    WarmupCosine s{.warmup_steps = 3, .total_steps = 10, .min_ratio = 0.2};
    double p = 1.0;
    for (int k = 0; k < 12; ++k) {
        opt.set_lr_multiplier(s(opt.step_count()));
        opt.step();
        p -= 0.5 * 0.2 * s(k);
    }
    BOOST_TEST(params[0].value.to_vector()[0] == p, tt::tolerance(1e-14));
    BOOST_TEST(opt.lr() == 0.2);  // the base lr is untouched
}

BOOST_AUTO_TEST_SUITE_END()
