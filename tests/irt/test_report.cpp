// Reports: atomic writes leave no temporary behind, CSV fields survive a round trip through the reader,
// summary.json carries the fields the example promises.
#include <boost/test/unit_test.hpp>

#include <ward/irt/csv.hpp>
#include <ward/irt/long_csv.hpp>
#include <ward/irt/report.hpp>
#include <ward/irt/simulate.hpp>

#include <filesystem>

#include <unistd.h>

using namespace ward::irt;

namespace {

/// A simulated world (seeded, with an acceleration in 2024 when asked), its fit and its frontier trend.
struct Fitted {
    Simulation sim;
    FitResult fit;
    Trend trend;
};

Fitted fitted_world(std::uint64_t seed, bool accelerated) {
    SimulationOptions o;
    o.seed = seed;
    if (accelerated) o.acceleration_year = 2024;
    Fitted w{simulate(o), {}, {}};
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("bench_000");
    w.fit = fit(w.sim.data, opt);
    w.trend = frontier_trend(w.sim.data, w.fit.capability);
    return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_report)

BOOST_AUTO_TEST_CASE(atomic_write_and_csv_round_trip) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("ward_irt_report_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    DatasetBuilder b;
    b.add("model, with \"quotes\"", "bench A", 0.4);
    b.add("model, with \"quotes\"", "bench B", 0.6);
    b.add("plain", "bench A", 0.7);
    b.add("plain", "bench B", 0.9);
    Dataset d = b.build();
    d.release[0] = decimal_year({2024, 5, 13});
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("bench A");
    const FitResult f = fit(d, opt);
    const std::string path = (dir / "sub" / "capabilities.csv").string();
    fs::create_directories(dir / "sub");
    ward::io::write_atomically(path, capabilities_csv(d, f));
    ward::io::write_atomically(path, capabilities_csv(d, f));  // overwrite in place
    std::size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir / "sub")) { ++files; (void)e; }
    BOOST_TEST(files == 1u);  // no temporary left behind
    const CsvTable t = read_csv(path);
    BOOST_TEST((t.header ==
                std::vector<std::string>{"model", "release_date", "capability", "ci_low", "ci_high", "eci", "eci_low", "eci_high"}));
    BOOST_TEST(t.size() == 2);
    bool found = false;
    for (ward::index_t r = 0; r < t.size(); ++r) {
        if (t.cell(r, 0) != "model, with \"quotes\"") continue;
        found = true;
        BOOST_TEST(t.cell(r, 1) == "2024-05-13");
        BOOST_TEST(std::abs(std::stod(t.cell(r, 2)) - f.capability[0]) < 1e-8);
        BOOST_TEST(t.cell(r, 5).empty());  // no ECI scale given
    }
    BOOST_TEST(found);
    // With a scale fixed by the two models (0 and 100 ECI, "plain" the more capable) and intervals, the ECI columns are theirs, mapped.
    const EciScale eci = eci_scale(d, f.capability, {.model_a = "model, with \"quotes\"", .eci_a = 0, .model_b = "plain", .eci_b = 100});
    const std::vector<double> low{f.capability[0] - 0.5, f.capability[1] - 0.5}, high{f.capability[0] + 1, f.capability[1] + 1};
    const CsvTable e = parse_csv(capabilities_csv(d, f, &low, &high, &eci), "capabilities.csv");
    for (ward::index_t r = 0; r < e.size(); ++r) {
        const bool quoted = e.cell(r, 0) != "plain";
        BOOST_TEST(std::stod(e.cell(r, 5)) == (quoted ? 0.0 : 100.0));
        const double width = std::abs(100.0 / (f.capability[0] - f.capability[1]));  // ECI per unit of C, by hand
        BOOST_TEST(std::abs(std::stod(e.cell(r, 5)) - std::stod(e.cell(r, 6)) - 0.5 * width) < 1e-6);
        BOOST_TEST(std::abs(std::stod(e.cell(r, 7)) - std::stod(e.cell(r, 5)) - 1.0 * width) < 1e-6);
    }
    const CsvTable bt = parse_csv(benchmarks_csv(d, f), "benchmarks.csv");
    // easiest first: B has the higher scores, so it sits below the anchor A (difficulty 0)
    BOOST_TEST(bt.cell(0, 0) == "bench B");
    BOOST_TEST(std::stod(bt.cell(0, 1)) < 0.0);
    BOOST_TEST(bt.cell(1, 0) == "bench A");
    BOOST_TEST(bt.cell(1, 1) == "0");
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(long_csv_round_trip_gives_the_same_fit) {
    namespace fs = std::filesystem;
    SimulationOptions o;
    o.models_per_year = 10;
    o.seed = 9;
    const Simulation sim = simulate(o);
    const std::string path = (fs::temp_directory_path() / ("ward_irt_long_" + std::to_string(::getpid()) + ".csv")).string();
    ward::io::write_atomically(path, long_csv(sim.data));
    const Dataset back = read_long_csv(path);
    fs::remove(path);
    BOOST_TEST(back.num_obs() == sim.data.num_obs());
    BOOST_TEST(back.models == sim.data.models);
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("bench_000");
    const FitResult a = fit(sim.data, opt), b = fit(back, opt);
    BOOST_TEST(std::abs(a.objective - b.objective) < 1e-9);
    double worst = 0;  // benchmarks are numbered in first-seen order when read back: compare by name
    for (std::size_t m = 0; m < back.models.size(); ++m) worst = std::max(worst, std::abs(a.capability[m] - b.capability[m]));
    for (std::size_t k = 0; k < back.benchmarks.size(); ++k) {
        const auto j = static_cast<std::size_t>(sim.data.benchmark_index(back.benchmarks[k]));
        worst = std::max(worst, std::abs(a.difficulty[j] - b.difficulty[k]) + std::abs(a.slope[j] - b.slope[k]));
    }
    BOOST_TEST(worst < 1e-6);
    for (std::size_t m = 0; m < back.models.size(); ++m) {
        BOOST_TEST(std::abs(back.release[m] - sim.data.release[m]) < 2.0 / 365);  // dates are kept to the day
        BOOST_TEST(back.compute[m] == sim.data.compute[m]);
        BOOST_TEST(back.family[m] == sim.data.family[m]);
    }
}

BOOST_AUTO_TEST_CASE(summary_json_fields) {
    const Fitted w = fitted_world(2, true);
    const Simulation& sim = w.sim;
    const FitResult& f = w.fit;
    const Trend& t = w.trend;
    const BreakpointFit bp = fit_breakpoint(t.frontier.date, t.frontier.capability);
    const EfficiencyResult e = algorithmic_efficiency(sim.data, f.capability);
    const auto j = summary_json({&sim.data, &f, "bench_000", 1.0, &t, &bp, &e, nullptr, 0});
    BOOST_TEST(j["observations"].get<long>() == sim.data.num_obs());
    BOOST_TEST(j["models"].get<long>() == sim.data.num_models());
    BOOST_TEST(j["benchmarks"].get<long>() == sim.data.num_benchmarks());
    BOOST_TEST(j["frontier"]["slope_per_year"].get<double>() == t.line.slope);
    BOOST_TEST(j["frontier"]["slope_ci_low"].get<double>() < j["frontier"]["slope_ci_high"].get<double>());
    BOOST_TEST(j["breakpoint"]["date"].get<std::string>().size() == 10u);
    BOOST_TEST(j["breakpoint"]["slope_after"].get<double>() == bp.slope_after);
    BOOST_TEST(j["efficiency"]["gain_per_year"].get<double>() == e.gain_per_year);
    BOOST_TEST(j.contains("load_report"));
    BOOST_TEST(j["eci"].is_null());  // no scale given
    BOOST_TEST(j["breakpoint"]["f_test_rule"]["detected"].get<bool>() == detects(bp, FTestRule{}));
    BOOST_TEST(j["breakpoint"]["paper_rule"]["detected"].get<bool>() == meets(bp, PaperRule{}));
}

BOOST_AUTO_TEST_CASE(summary_json_in_eci) {
    const Fitted w = fitted_world(3, false);
    const Simulation& sim = w.sim;
    const FitResult& f = w.fit;
    const Trend& t = w.trend;
    const Backtest bt = backtest(sim.data, f.capability, 2024.5);
    // The scale puts the first and last frontier models at 0 and 10.
    const auto& fr = t.frontier;
    const EciScale eci = eci_scale(sim.data, f.capability, {.model_a = sim.data.models[static_cast<std::size_t>(fr.models.front())], .eci_a = 0,
                                                            .model_b = sim.data.models[static_cast<std::size_t>(fr.models.back())], .eci_b = 10});
    const double per = 10.0 / (fr.capability.back() - fr.capability.front());
    const std::vector<ForecastPoint> yearly = forecast(t.line, {2027.0, 2028.0});
    const auto run = running_max_frontier(sim.data, f.capability);
    const Detection scan = scan_for_acceleration(run.date, run.capability);
    SummaryInputs in{&sim.data, &f, "bench_000", 1.0, &t, nullptr, nullptr, &bt, 0};
    in.eci = &eci;
    in.forecast = &yearly;
    in.forecast_from = 2026.0;
    in.paper_scan = &scan;
    const auto j = summary_json(in);
    BOOST_TEST(j["eci"]["reference"][0]["eci"].get<double>() == 0.0);
    BOOST_TEST(std::abs(j["eci"]["per_capability"].get<double>() - per) < 1e-9);
    BOOST_TEST(std::abs(j["frontier"]["slope_eci_per_year"].get<double>() - t.line.slope * per) < 1e-9);
    BOOST_TEST(j["frontier"]["models"][0]["eci"].get<double>() == 0.0);
    BOOST_TEST(j["frontier"]["models"].back()["eci"].get<double>() == 10.0);
    BOOST_TEST(std::abs(j["backtest"]["mae_eci"].get<double>() - bt.mae * per) < 1e-9);
    BOOST_TEST(j["forecast"]["from"].get<std::string>() == "2026-01-01");
    const auto& p = j["forecast"]["points"][1];
    BOOST_TEST(p["date"].get<std::string>() == "2028-01-01");
    BOOST_TEST(p["capability"]["mean"].get<double>() == yearly[1].mean);
    BOOST_TEST(std::abs(p["eci"]["mean"].get<double>() - (yearly[1].mean - fr.capability.front()) * per) < 1e-9);
    BOOST_TEST(std::abs(p["eci"]["prediction_high"].get<double>() - (yearly[1].prediction_high - fr.capability.front()) * per) < 1e-9);
    BOOST_TEST(j["paper_scan"]["detected"].get<bool>() == scan.detected);
    BOOST_TEST(j["paper_scan"]["admissible"].get<int>() == scan.admissible);
}

BOOST_AUTO_TEST_SUITE_END()
