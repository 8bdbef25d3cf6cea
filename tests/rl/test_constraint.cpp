// The constraint pieces: what each does to the signals (worked by hand), composition with + and *, and
// the pitfalls of Lagrangian defences on language models: a zero threshold gives no NaN, Adam turns a
// scalar multiplier into +-lr sign steps, plain ascent oscillates behind a lagging learner where PID
// settles; and the multipliers' state survives a checkpoint bit for bit.
#include <boost/test/unit_test.hpp>

#include <ward/rl/constraint.hpp>
#include <ward/tensor.hpp>
#include <ward/rl/gae.hpp>

#include "error_message.hpp"
#include "temp_dir.hpp"

#include <cmath>

using namespace ward;
using ward::testing::message_of;

namespace {
rl::Signals signals() { return {{1.0, 2.0}, {0.5, 0.0}}; }
/// max - min over the second half of a trace.
double swing(const std::vector<double>& x) {
    double lo = 1e300, hi = -1e300;
    for (std::size_t k = x.size() / 2; k < x.size(); ++k) lo = std::min(lo, x[k]), hi = std::max(hi, x[k]);
    return hi - lo;
}
/// A learner that moves its cost 5% of the way towards 0.8 - 0.4 lambda per update, under constraint c.
template <class C>
std::vector<double> lagging_learner(C c, int steps) {
    double cost = 0.8;
    std::vector<double> lambdas;
    for (int t = 0; t < steps; ++t) {
        c.observe({cost, 0.0, 1.0});
        rl::Signals s{{0.0}, {cost}};
        c.shape(s);
        lambdas.push_back(s.cost_coef);
        cost += 0.05 * (std::clamp(0.8 - 0.4 * s.cost_coef, 0.0, 1.0) - cost);
    }
    return lambdas;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_constraint)

BOOST_AUTO_TEST_CASE(each_piece_by_hand) {
    auto s = signals();
    rl::reward_shaping(2.0).shape(s);
    BOOST_TEST(s.reward == (std::vector<double>{0.0, 2.0}));  // r - 2 c
    BOOST_TEST(s.cost_coef == 0.0);
    s = signals();
    rl::kl_penalty(0.1).shape(s);
    BOOST_TEST(s.kl_coef == 0.1);
    BOOST_TEST(s.reward == signals().reward);
    auto lag = rl::lagrangian(cmdp::LogLagrangeMultiplier({.threshold = 0.1, .lr = 0.5, .init = 1.0}));
    lag.observe({0.5, 0.0, 8});  // log lambda 0 + 0.5 (0.5 - 0.1)
    s = signals();
    lag.shape(s);
    BOOST_TEST(std::abs(s.cost_coef - std::exp(0.2)) < 1e-15);
    BOOST_TEST(s.normalise);
    BOOST_TEST(s.reward == signals().reward);  // the Lagrangian mixes advantages, not rewards
    const double l = std::exp(0.2);
    BOOST_TEST(std::abs(rl::mix_advantage(s, 1.0, 2.0) - (1.0 - l * 2.0) / (1.0 + l)) < 1e-15);
    std::map<std::string, double> log;
    lag.report(log);
    BOOST_TEST(log.at("cost_threshold") == 0.1);
    BOOST_TEST(std::abs(log.at("lambda") - l) < 1e-15);
}

BOOST_AUTO_TEST_CASE(pieces_compose_with_plus_and_times) {
    auto both = rl::kl_penalty(0.1) + rl::reward_shaping(1.0);
    auto s = signals();
    both.shape(s);
    BOOST_TEST(std::abs(s.kl_coef - 0.1) < 1e-15);
    BOOST_TEST(s.reward == (std::vector<double>{0.5, 2.0}));
    BOOST_TEST(both.needs_cost());
    auto half = 0.5 * rl::reward_shaping(2.0);  // the same as shaping with lambda 1
    s = signals();
    half.shape(s);
    BOOST_TEST(s.reward == (std::vector<double>{0.5, 2.0}));
    auto three = rl::kl_penalty(0.1) + 2.0 * rl::kl_penalty(0.2) + rl::none();
    s = signals();
    three.shape(s);
    BOOST_TEST(std::abs(s.kl_coef - 0.5) < 1e-15);
    BOOST_TEST(!three.needs_cost());
    BOOST_TEST(three.uses_samples());
    BOOST_TEST(!rl::none().uses_samples());
    BOOST_TEST(three.name() == "kl(0.100000) + 2.000000 * (kl(0.200000)) + none");
}

BOOST_AUTO_TEST_CASE(a_cost_piece_without_costs_says_so) {
    rl::Signals s{{1.0, 2.0}, {}};
    const std::string msg = message_of<value_error>([&] { rl::reward_shaping(1.0).shape(s); });
    BOOST_TEST(msg.find("reward shaping needs a cost per sample: 0 costs for 2 samples") != std::string::npos, msg);
    auto lag = rl::lagrangian(cmdp::LagrangeMultiplier({.threshold = 0.1}));
    BOOST_CHECK_THROW(lag.observe({rl::unmeasured, 0.0, 2}), value_error);
}

BOOST_AUTO_TEST_CASE(a_zero_threshold_with_zero_costs_gives_no_nan) {
    auto plain = rl::lagrangian(cmdp::LagrangeMultiplier({.threshold = 0.0, .lr = 0.1}));
    auto log = rl::lagrangian(cmdp::LogLagrangeMultiplier({.threshold = 0.0, .lr = 0.1, .init = 1.0}));
    for (int t = 0; t < 500; ++t) {
        plain.observe({0.0, 0.0, 4});
        log.observe({0.0, 0.0, 4});
    }
    BOOST_TEST(plain.value() == 0.0);
    BOOST_TEST(log.value() == 1.0);  // no violation and no slack: log lambda does not move
    std::vector<double> zero_costs(4, 0.0);
    rl::whiten(zero_costs);  // the cost advantages of a batch with no cost at all
    rl::Signals s{{0.0}, {0.0}};
    log.shape(s);
    for (double a : zero_costs) BOOST_TEST(std::isfinite(rl::mix_advantage(s, 0.3, a)));
}

BOOST_AUTO_TEST_CASE(adam_makes_a_scalar_multiplier_take_sign_steps) {
    // The pitfall: Adam normalises the step by the gradient's RMS, so a violation of 0.01 and one of 10
    // move lambda by the same lr. The default (SGD) steps in proportion to the violation.
    auto step = [](cmdp::Ascent a, double cost) {
        auto c = rl::lagrangian(cmdp::LagrangeMultiplier({.threshold = 0.0, .lr = 0.1, .ascent = a}));
        c.observe({cost, 0.0, 1});
        return c.value();
    };
    BOOST_TEST(std::abs(step(cmdp::Ascent::adam, 0.01) - 0.1) < 1e-6);
    BOOST_TEST(std::abs(step(cmdp::Ascent::adam, 10.0) - 0.1) < 1e-6);
    BOOST_TEST(std::abs(step(cmdp::Ascent::sgd, 0.01) - 0.001) < 1e-15);
    BOOST_TEST(std::abs(step(cmdp::Ascent::sgd, 10.0) - 1.0) < 1e-15);
}

BOOST_AUTO_TEST_CASE(plain_ascent_oscillates_behind_a_lagging_learner_and_pid_settles) {
    // Equilibrium: cost 0.2 at lambda 1.5. Same integral gain (lr = Ki = 0.5) for both.
    const auto plain = lagging_learner(rl::lagrangian(cmdp::LagrangeMultiplier({.threshold = 0.2, .lr = 0.5})), 200);
    const auto pid = lagging_learner(
        rl::lagrangian(cmdp::PidLagrangeMultiplier({.threshold = 0.2, .kp = 4.0, .ki = 0.5, .kd = 0.0, .d_delay = 1, .p_ema = 0.0, .d_ema = 0.0})), 200);
    BOOST_TEST(swing(plain) > 0.3, "plain ascent's lambda swings by " << swing(plain));
    BOOST_TEST(swing(pid) < 0.05 * swing(plain), "PID " << swing(pid) << " vs plain " << swing(plain));
    BOOST_TEST(std::abs(pid.back() - 1.5) < 0.01);
}

BOOST_AUTO_TEST_CASE(multiplier_and_kl_controller_state_survive_a_checkpoint) {
    auto make = [] {
        return rl::lagrangian(cmdp::PidLagrangeMultiplier({.threshold = 0.1})) + rl::adaptive_kl({.init = 0.2, .target = 2.0, .horizon = 100});
    };
    auto a = make();
    for (double c : {0.5, 0.7, 0.2, 0.05, 0.3}) a.observe({c, 3.0 * c, 16});
    ward_test::TempDir d;
    io::SafetensorsWriter w;
    w.add("x", Tensor<float>::zeros({1}));
    a.write(w, "rl.");
    w.save(d.path / "state.safetensors");
    auto b = make();
    io::SafetensorsFile f(d.path / "state.safetensors");
    b.read(f, "rl.");
    rl::Signals sa{{0.0}, {0.0}}, sb{{0.0}, {0.0}};
    a.shape(sa);
    b.shape(sb);
    BOOST_TEST(sa.cost_coef == sb.cost_coef);  // bit for bit
    BOOST_TEST(sa.kl_coef == sb.kl_coef);
    BOOST_TEST(sa.cost_coef > 0.0);
    BOOST_TEST(sa.kl_coef != 0.2);
    io::SafetensorsWriter empty;
    empty.add("x", Tensor<float>::zeros({1}));
    empty.save(d.path / "empty.safetensors");
    io::SafetensorsFile g(d.path / "empty.safetensors");
    const std::string msg = message_of<parse_error>([&] { b.check(g, "rl."); });
    BOOST_TEST(msg.find("has no constraint state 'rl.0.lagrangian'") != std::string::npos, msg);
}

BOOST_AUTO_TEST_SUITE_END()
