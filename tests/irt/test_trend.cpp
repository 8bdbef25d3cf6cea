// Statistics, frontier, forecasts, backtests, the breakpoint scan and algorithmic efficiency, each
// against closed forms or truths planted in synthetic data.
#include <boost/test/unit_test.hpp>

#include <ward/irt/breakpoint.hpp>
#include <ward/irt/efficiency.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/simulate.hpp>
#include <ward/irt/stats.hpp>
#include <ward/irt/trend.hpp>

#include <random>

using namespace ward::irt;

BOOST_AUTO_TEST_SUITE(irt_trend)

BOOST_AUTO_TEST_CASE(distributions_match_tables) {
    BOOST_TEST(std::abs(incomplete_beta(1, 1, 0.3) - 0.3) < 1e-14);              // I_x(1,1) = x
    BOOST_TEST(std::abs(incomplete_beta(2.5, 1, 0.4) - std::pow(0.4, 2.5)) < 1e-13);  // I_x(a,1) = x^a
    BOOST_TEST(std::abs(student_t_quantile(0.975, 10) - 2.228138851986274) < 1e-9);  // scipy.stats.t.ppf
    BOOST_TEST(std::abs(student_t_quantile(0.975, 3) - 3.1824463052837078) < 1e-9);
    BOOST_TEST(std::abs(student_t_cdf(1.0, 1) - 0.75) < 1e-12);                  // Cauchy
    BOOST_TEST(std::abs(normal_quantile(0.975) - 1.959963984540054) < 1e-9);
    BOOST_TEST(std::abs(f_survival(3.0, 2, 10) - 0.09536743164062497) < 1e-12);         // scipy.stats.f.sf(3, 2, 10)
    BOOST_TEST(quantile({4, 1, 3, 2}, 0.5) == 2.5);                              // numpy.quantile
    BOOST_TEST(std::abs(quantile({1, 2, 3, 4, 5}, 0.1) - 1.4) < 1e-12);
}

BOOST_AUTO_TEST_CASE(line_fit_closed_form) {
    const std::vector<double> x{0, 1, 2, 3, 4}, y{1.0, 2.9, 5.2, 7.1, 8.8};
    const LineFit f = fit_line(x, y);
    // by hand: xbar 2, ybar 5, sxx 10, sxy 19.8
    BOOST_TEST(std::abs(f.slope - 1.98) < 1e-12);
    BOOST_TEST(std::abs(f.intercept - 1.04) < 1e-12);
    double sse = 0;
    for (std::size_t i = 0; i < x.size(); ++i) sse += std::pow(y[i] - 1.04 - 1.98 * x[i], 2);
    BOOST_TEST(std::abs(f.se_slope - std::sqrt(sse / 3 / 10)) < 1e-12);
    const auto [lo, hi] = f.slope_ci();
    BOOST_TEST(std::abs(hi - f.slope - student_t_quantile(0.975, 3) * f.se_slope) < 1e-9);
    BOOST_TEST(lo < f.slope);
    // prediction band is wider than the band of the mean, both centred on the line
    const auto p = forecast(f, {6.0}).front();
    BOOST_TEST(std::abs(p.mean - (1.04 + 1.98 * 6)) < 1e-12);
    BOOST_TEST(p.prediction_high - p.prediction_low > p.mean_high - p.mean_low);
    BOOST_CHECK_THROW(fit_line({1, 1, 1}, {1, 2, 3}), ward::value_error);
}

BOOST_AUTO_TEST_CASE(frontier_and_backtest) {
    DatasetBuilder b;
    const std::vector<std::pair<double, double>> models{{2023.0, 1.0}, {2023.5, 0.5}, {2023.5, 2.0}, {2024.0, 1.5},
                                                        {2024.5, 3.0}, {2025.0, 4.0}, {2025.5, 5.0}, {2026.0, 6.0}};
    for (std::size_t i = 0; i < models.size(); ++i) b.add("m" + std::to_string(i), "x", 0.5);
    Dataset d = b.build();
    std::vector<double> cap;
    for (std::size_t i = 0; i < models.size(); ++i) {
        d.release[static_cast<std::size_t>(d.model_index("m" + std::to_string(i)))] = models[i].first;
        cap.push_back(0);
    }
    for (std::size_t i = 0; i < models.size(); ++i) cap[static_cast<std::size_t>(d.model_index("m" + std::to_string(i)))] = models[i].second;
    const Frontier f = frontier(d, cap);
    BOOST_TEST(f.capability == (std::vector<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0}));  // m1 and m3 are not top-1
    // Frontier after 2024 is exactly 2 per year: a backtest from 2024.4 has zero error.
    const Backtest bt = backtest(d, cap, 2025.2);
    BOOST_TEST(bt.train_points == 4);
    BOOST_TEST(bt.test_points == 2);
    BOOST_TEST(bt.mae_last_value == 1.5);  // 4 held flat against 5 and 6
    BOOST_TEST(bt.mae < bt.mae_last_value);
    // The paper's cutoff is inclusive: at 2025.0 the model released that day trains the line. By hand:
    // (2023, 1), (2023.5, 2), (2024.5, 3), (2025, 4) give slope 3.5 / 2.5 = 1.4 through (2024, 2.5), so
    // 4.6 and 5.3 against 5 and 6 (MAE 0.55); the last value 4 misses by 1 and 2 (MAE 1.5).
    const Backtest on_the_day = backtest(d, cap, 2025.0);
    BOOST_TEST(on_the_day.train_points == 4);
    BOOST_TEST(on_the_day.test_points == 2);
    BOOST_TEST(std::abs(on_the_day.mae - 0.55) < 1e-9);
    BOOST_TEST(on_the_day.mae_last_value == 1.5);
    // The running maximum keeps every model at its date; the two released in mid-2023 share the best of that day.
    const Frontier run = running_max_frontier(d, cap);
    BOOST_TEST(run.date == (std::vector<double>{2023.0, 2023.5, 2023.5, 2024.0, 2024.5, 2025.0, 2025.5, 2026.0}));
    BOOST_TEST(run.capability == (std::vector<double>{1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0}));
    BOOST_TEST(frontier(d, cap, FrontierKind::top1_at_release).capability == f.capability);
}

BOOST_AUTO_TEST_CASE(breakpoint_recovers_a_hinge) {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> z(0, 0.05);
    std::vector<double> x, y, y_clean;
    for (int i = 0; i < 60; ++i) {
        const double t = 2020 + 6.0 * i / 59;
        const double v = 1.0 + 0.5 * std::min(t - 2024.0, 0.0) + 1.5 * std::max(t - 2024.0, 0.0);
        x.push_back(t);
        y_clean.push_back(v);
        y.push_back(v + z(rng));
    }
    BreakpointOptions fine;
    fine.grid = 6000;  // 1 ms steps: the clean hinge is found to the grid
    const BreakpointFit exact = fit_breakpoint(x, y_clean, fine);
    BOOST_TEST(std::abs(exact.breakpoint - 2024.0) < 1e-3);
    BOOST_TEST(std::abs(exact.slope_before - 0.5) < 1e-3);
    BOOST_TEST(std::abs(exact.slope_after - 1.5) < 1e-3);
    BOOST_TEST(exact.r2 > 1 - 1e-6);
    const BreakpointFit noisy = fit_breakpoint(x, y);
    BOOST_TEST(std::abs(noisy.breakpoint - 2024.0) < 0.25);
    BOOST_TEST(std::abs(noisy.ratio - 3.0) < 0.5);
    BOOST_TEST(noisy.r2 > noisy.r2_linear);
    BOOST_TEST(noisy.p_value < 1e-6);
    // A straight line: no real break, the test does not reject, the ratio stays near 1.
    std::vector<double> line;
    for (double t : x) line.push_back(0.7 * (t - 2020) + z(rng));
    const BreakpointFit flat = fit_breakpoint(x, line);
    BOOST_TEST(std::abs(flat.ratio - 1.0) < 0.3);
    BOOST_TEST(flat.p_value > 0.01);
}

BOOST_AUTO_TEST_CASE(efficiency_recovers_the_planted_gain) {
    SimulationOptions o;
    o.models_per_year = 30;
    o.noise = 0.01;
    o.seed = 8;
    const Simulation sim = simulate(o);
    // Truth, on the truth's own scale: gain per year = exp(g / k), invariant to the fit's scale.
    const double truth = std::exp(o.algorithmic_gain / o.compute_k);
    const EfficiencyResult exact = algorithmic_efficiency(sim.data, sim.capability);
    BOOST_TEST(std::abs(exact.k - o.compute_k) < 1e-9);
    BOOST_TEST(std::abs(exact.gain_per_year - truth) < 1e-6 * truth);
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("bench_000");
    const FitResult f = fit(sim.data, opt);
    const EfficiencyResult e = algorithmic_efficiency(sim.data, f.capability, {.level = 0.95, .bootstrap = 200, .seed = 3});
    BOOST_TEST_MESSAGE("gain per year: fitted " << e.gain_per_year << ", delta [" << e.gain_low << ", " << e.gain_high
                       << "], cluster bootstrap [" << e.gain_boot_low << ", " << e.gain_boot_high << "], truth " << truth);
    BOOST_TEST(std::abs(e.gain_per_year / truth - 1.0) < 0.05);
    BOOST_TEST(e.gain_low < e.gain_per_year);
    BOOST_TEST(e.gain_high > e.gain_per_year);
    BOOST_TEST(e.gain_boot_low < e.gain_per_year);
    BOOST_TEST(e.gain_boot_high > e.gain_per_year);
    BOOST_TEST(e.bootstrap_failed == 0);
    // The same seed gives the same bootstrap interval.
    const EfficiencyResult again = algorithmic_efficiency(sim.data, f.capability, {.level = 0.95, .bootstrap = 200, .seed = 3});
    BOOST_TEST(again.gain_boot_low == e.gain_boot_low);
    // Without compute there is nothing to estimate, and the reason is given.
    Dataset bare = sim.data;
    for (auto& c : bare.compute) c = no_value;
    BOOST_CHECK_THROW(algorithmic_efficiency(bare, f.capability), ward::value_error);
}

BOOST_AUTO_TEST_SUITE_END()
