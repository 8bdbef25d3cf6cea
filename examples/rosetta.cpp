// rosetta: benchmark stitching end to end.
//
//   rosetta --data data/benchmark-stitching [--out out/]             the Epoch layout, as the paper
//   rosetta --csv scores.csv [--metadata models.csv] [--out out/]    a long CSV (model, benchmark, score, ...)
//   rosetta [--out out/]                                             a simulated world with a known acceleration
//
// Prints the load report, the top models with bootstrap intervals, the benchmark table, the frontier's
// growth per year, a forecast and backtest, the breakpoint scan and (where compute is known) the
// algorithmic-efficiency gain. With --out it writes capabilities.csv, benchmarks.csv, summary.json and plots.
#include <ward/irt.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

namespace irt = ward::irt;

namespace {

struct Args {
    std::string data_dir, csv, metadata, out, anchor, anchor_models, cutoff;
    double lambda = 0.1;
    int bootstrap = 1000, top = 15, forecast_years = 2, detection = 0;
    std::string write_sim;
    std::vector<std::string> floors;
    std::uint64_t seed = 1;
    bool no_plots = false;
};

double elapsed_ms(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(double v, int digits = 3) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

int run(const Args& a) {
    irt::Dataset data;
    irt::FitOptions opt;
    opt.lambda = a.lambda;
    std::string source;
    if (!a.data_dir.empty()) {
        data = irt::read_epoch(a.data_dir);
        source = "Epoch layout " + a.data_dir;
    } else if (!a.csv.empty()) {
        data = irt::read_long_csv(a.csv);
        if (!a.metadata.empty()) irt::join_model_metadata(data, a.metadata);
        source = "long CSV " + a.csv;
    } else {
        irt::SimulationOptions sim;
        sim.acceleration_year = 2024.0;
        sim.seed = a.seed;
        data = irt::simulate(sim).data;
        opt.anchor = irt::Anchor::on_benchmark("bench_000");
        source = "simulated data (growth 0.6/yr, accelerating to 1.2/yr from 2024-01-01)";
        if (!a.write_sim.empty()) {
            const std::filesystem::path sim_file(a.write_sim);
            if (sim_file.has_parent_path()) std::filesystem::create_directories(sim_file.parent_path());
            ward::io::write_atomically(sim_file, irt::long_csv(data));
            std::cout << "wrote the simulated scores to " << a.write_sim << "\n";
        }
        if (a.detection > 0) {
            const auto t0 = std::chrono::steady_clock::now();
            const irt::DetectionStudy s = irt::detection_study(sim, a.detection, a.seed);
            std::cout << "detection study (" << a.detection << " worlds with and without the acceleration, "
                      << fmt(elapsed_ms(t0) / 1000, 1) << " s): power " << fmt(s.f_test.power, 2) << ", false-positive rate "
                      << fmt(s.f_test.false_positive_rate, 2) << " (detector: slope ratio >= 1.5 and nominal p < 0.05; "
                      << s.f_test.failed << " worlds with too few frontier points)\n";
        }
    }
    if (!a.anchor.empty()) opt.anchor = irt::Anchor::on_benchmark(a.anchor);
    for (const auto& fl : a.floors) {  // NAME=VALUE: the benchmark's random-guess baseline
        const auto eq = fl.rfind('=');
        if (eq == std::string::npos) throw ward::value_error("--floor expects NAME=VALUE, got '" + fl + "'");
        opt.floor[fl.substr(0, eq)] = std::stod(fl.substr(eq + 1));
    }
    if (!a.anchor_models.empty()) {
        const auto comma = a.anchor_models.find(',');
        if (comma == std::string::npos) throw ward::value_error("--anchor-models expects A,B");
        opt.anchor = irt::Anchor::on_models(a.anchor_models.substr(0, comma), 0.0, a.anchor_models.substr(comma + 1), 1.0);
    }
    const std::string anchor = opt.anchor.by_models() ? opt.anchor.model_a + " = 0, " + opt.anchor.model_b + " = 1"
                                                      : opt.anchor.benchmark + " (slope 1, difficulty 0)";
    std::cout << "source: " << source << "\n"
              << data.num_obs() << " observations, " << data.num_models() << " models, " << data.num_benchmarks()
              << " benchmarks\nload report:\n" << data.report.str();

    auto t0 = std::chrono::steady_clock::now();
    const irt::FitResult fit = irt::fit(data, opt);
    const double fit_ms = elapsed_ms(t0);
    std::cout << "\nfit: " << fit.iterations << " iterations, " << fmt(fit_ms, 1) << " ms, status " << fit.status
              << ", objective " << fmt(fit.objective, 6) << ", SSE " << fmt(fit.sse, 4) << ", projected gradient "
              << fit.projected_gradient << ", " << fit.at_bounds << " parameters on a bound\nanchor: " << anchor << "\n";

    std::optional<irt::BootstrapResult> boot;
    if (a.bootstrap >= 2) {
        t0 = std::chrono::steady_clock::now();
        boot = irt::bootstrap(data, opt, fit, {.replicates = a.bootstrap, .seed = a.seed});
        std::cout << "bootstrap: " << a.bootstrap << " replicates in " << fmt(elapsed_ms(t0) / 1000, 2) << " s ("
                  << boot->not_converged << " stopped at the iteration limit)\n";
    }
    const irt::ProfileInterval prof = irt::profile_intervals(data, fit, opt);

    std::vector<ward::index_t> order(static_cast<std::size_t>(data.num_models()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<ward::index_t>(i);
    std::sort(order.begin(), order.end(), [&](auto x, auto y) { return fit.capability[x] > fit.capability[y]; });
    std::printf("\n%-4s %-42s %-10s %9s %19s %19s\n", "rank", "model", "released", "C", "bootstrap 95%", "profile (+5% SSE)");
    for (int r = 0; r < std::min<int>(a.top, static_cast<int>(order.size())); ++r) {
        const auto m = static_cast<std::size_t>(order[static_cast<std::size_t>(r)]);
        const std::string ci = boot ? "[" + fmt(boot->capability_low[m], 2) + ", " + fmt(boot->capability_high[m], 2) + "]" : "";
        std::printf("%-4d %-42s %-10s %9.3f %19s %19s\n", r + 1, data.models[m].c_str(), irt::date_or_empty(data.release[m]).c_str(),
                    fit.capability[m], ci.c_str(), ("[" + fmt(prof.low[m], 2) + ", " + fmt(prof.high[m], 2) + "]").c_str());
    }
    std::vector<ward::index_t> border(static_cast<std::size_t>(data.num_benchmarks()));
    for (std::size_t i = 0; i < border.size(); ++i) border[i] = static_cast<ward::index_t>(i);
    std::sort(border.begin(), border.end(), [&](auto x, auto y) { return fit.difficulty[x] < fit.difficulty[y]; });
    const auto counts = data.benchmark_counts();
    std::printf("\n%-40s %10s %8s %6s\n", "benchmark", "difficulty", "slope", "obs");
    for (auto b : border)
        std::printf("%-40s %10.3f %8.3f %6lld\n", data.benchmarks[b].c_str(), fit.difficulty[b], fit.slope[b],
                    static_cast<long long>(counts[b]));

    std::optional<irt::Trend> trend;
    std::optional<irt::BreakpointFit> bp;
    std::optional<irt::EfficiencyResult> eff;
    std::optional<irt::Backtest> bt;
    std::vector<irt::ForecastPoint> band;
    try {
        trend = irt::frontier_trend(data, fit.capability);
        const auto& fr = trend->frontier;
        std::cout << "\nfrontier: " << fr.models.size() << " models top-1 at release (" << fr.models_without_date
                  << " models without a date left out)\ngrowth: " << fmt(trend->line.slope) << " capability units per year, 95% CI ["
                  << fmt(trend->slope_low) << ", " << fmt(trend->slope_high) << "], R^2 " << fmt(trend->line.r2) << "\n";
        const double t_first = fr.date.front(), t_last = fr.date.back();
        std::vector<double> dates;
        for (int k = 0; k <= 60; ++k) dates.push_back(t_first + (t_last + a.forecast_years - t_first) * k / 60.0);
        band = irt::forecast(trend->line, dates);
        for (int y = 1; y <= a.forecast_years; ++y) {
            const auto p = irt::forecast(trend->line, {t_last + y}).front();
            std::cout << "forecast " << irt::format_decimal_year(t_last + y) << ": " << fmt(p.mean) << "  (mean 95% ["
                      << fmt(p.mean_low) << ", " << fmt(p.mean_high) << "], prediction 95% [" << fmt(p.prediction_low) << ", "
                      << fmt(p.prediction_high) << "])\n";
        }
        const double cutoff = a.cutoff.empty() ? t_first + 0.75 * (t_last - t_first)
                                               : irt::decimal_year(irt::parse_date(a.cutoff, "--cutoff"));
        try {
            bt = irt::backtest(data, fit.capability, cutoff);
            std::cout << "backtest at " << irt::format_decimal_year(cutoff) << ": trained on " << bt->train_points << ", tested on "
                      << bt->test_points << " frontier models, MAE " << fmt(bt->mae) << " (flat last value: "
                      << fmt(bt->mae_last_value) << "), " << fmt(100 * bt->coverage, 0) << "% inside the 95% band\n";
        } catch (const ward::error& e) {
            std::cout << "backtest skipped: " << e.what() << "\n";
        }
        bp = irt::fit_breakpoint(fr.date, fr.capability);
        std::cout << "breakpoint: " << irt::format_decimal_year(bp->breakpoint) << ", slope " << fmt(bp->slope_before)
                  << " -> " << fmt(bp->slope_after) << " per year (ratio " << fmt(bp->ratio, 2) << "), R^2 " << fmt(bp->r2)
                  << " vs " << fmt(bp->r2_linear) << " for one line, nominal F-test p = " << fmt(bp->p_value, 4) << "\n";
    } catch (const ward::error& e) {
        std::cout << "trend analysis skipped: " << e.what() << "\n";
    }
    try {
        eff = irt::algorithmic_efficiency(data, fit.capability, {.level = 0.95, .bootstrap = 1000, .seed = a.seed});
        std::cout << "efficiency: k = " << fmt(eff->k) << " per e-fold of compute, db/dt = " << fmt(eff->db_dt)
                  << " per year -> compute-equivalent gain " << fmt(eff->gain_per_year, 2) << "x per year, 95% CI ["
                  << fmt(eff->gain_low, 2) << ", " << fmt(eff->gain_high, 2) << "] (delta method), ["
                  << fmt(eff->gain_boot_low, 2) << ", " << fmt(eff->gain_boot_high, 2) << "] (family bootstrap) ("
                  << eff->families << " families, "
                  << eff->models_in_trend << " models)\n";
    } catch (const ward::error& e) {
        std::cout << "efficiency skipped: " << e.what() << "\n";
    }

    if (!a.out.empty()) {
        std::filesystem::create_directories(a.out);
        const auto path = [&](const char* f) { return (std::filesystem::path(a.out) / f).string(); };
        ward::io::write_atomically(path("capabilities.csv"), irt::capabilities_csv(data, fit, boot ? &boot->capability_low : nullptr,
                                                                                boot ? &boot->capability_high : nullptr));
        ward::io::write_atomically(path("benchmarks.csv"), irt::benchmarks_csv(data, fit));
        irt::SummaryInputs in{&data, &fit, anchor, fit_ms, trend ? &*trend : nullptr, bp ? &*bp : nullptr,
                              eff ? &*eff : nullptr, bt ? &*bt : nullptr, boot ? a.bootstrap : 0};
        ward::io::write_atomically(path("summary.json"), irt::summary_json(in).dump(2) + "\n");
        std::cout << "\nwrote " << path("capabilities.csv") << ", benchmarks.csv, summary.json\n";
        if (!a.no_plots) {
            if (trend) std::cout << irt::plot_capabilities(a.out, data, fit, *trend, band, boot ? &boot->capability_low : nullptr,
                                                             boot ? &boot->capability_high : nullptr).message << "\n";
            std::cout << irt::plot_benchmarks(a.out, data, fit).message << "\n";
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"rosetta: benchmark stitching (IRT) - capabilities, trends, efficiency, acceleration"};
    Args a;
    auto* data = app.add_option("--data", a.data_dir, "Epoch benchmarking-hub folder (shipped: data/benchmark-stitching)")
                     ->check(CLI::ExistingDirectory);
    app.add_option("--csv", a.csv, "long CSV: model, benchmark, score [, release_date, compute, family]")
        ->check(CLI::ExistingFile)->excludes(data);
    app.add_option("--metadata", a.metadata, "CSV with model and release_date/compute/family, joined to --csv")
        ->check(CLI::ExistingFile);
    app.add_option("--out", a.out, "folder for capabilities.csv, benchmarks.csv, summary.json and plots");
    app.add_option("--anchor", a.anchor, "anchor benchmark (default Winogrande; bench_000 for simulated data)");
    app.add_option("--anchor-models", a.anchor_models, "anchor two models instead: A,B get capabilities 0 and 1");
    app.add_option("--lambda", a.lambda, "penalty weight (divided by the number of free parameters)")->check(CLI::NonNegativeNumber);
    app.add_option("--bootstrap", a.bootstrap, "bootstrap replicates (0: none)")->check(CLI::NonNegativeNumber);
    app.add_option("--seed", a.seed, "seed for the bootstrap and the simulation");
    app.add_option("--cutoff", a.cutoff, "backtest cutoff date YYYY-MM-DD (default: 75% into the frontier)");
    app.add_option("--top", a.top, "models to list")->check(CLI::PositiveNumber);
    app.add_option("--forecast-years", a.forecast_years, "years to forecast past the last frontier model")->check(CLI::PositiveNumber);
    app.add_flag("--no-plots", a.no_plots, "do not call gnuplot");
    app.add_option("--floor", a.floors, "random-guess baseline of a benchmark, NAME=VALUE (repeatable)");
    app.add_option("--detection", a.detection, "simulated data only: run a detection study over N worlds")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--write-sim", a.write_sim, "simulated data only: also write its scores as a long CSV");
    CLI11_PARSE(app, argc, argv);
    try {
        return run(a);
    } catch (const ward::error& e) {
        std::cerr << "rosetta: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "rosetta: unexpected error: " << e.what() << "\n";
        return 2;
    }
}
