// rosetta: benchmark stitching end to end.
//
//   rosetta --data data/benchmark-stitching [--out out/]             the Epoch layout, as the paper
//   rosetta --csv scores.csv [--metadata models.csv] [--out out/]    a long CSV (model, benchmark, score, ...)
//   rosetta [--out out/]                                             a simulated world with a known acceleration
//
// Prints the load report, the top models with bootstrap intervals in C and in the Epoch Capabilities Index
// (ECI), the benchmark table, the frontier's growth per year, the paper's backtest (cutoff 2024-09-01)
// against a last-value baseline, the breakpoint judged by the F-test rule and by the paper's rule, the
// paper's scan of the running-maximum frontier, a three-year forecast with its bands in C and ECI and
// (where compute is known) the algorithmic-efficiency gain. --detection N runs the paper's simulation
// study of acceleration detection. With --out it writes capabilities.csv, benchmarks.csv, summary.json
// and plots.
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
    std::string data_dir, csv, metadata, out, anchor, anchor_models, cutoff = "2024-09-01";
    double lambda = 0.1, acceleration_factor = 4.0;
    int bootstrap = 1000, top = 15, forecast_years = 3, detection = 0;
    std::string write_sim;
    std::vector<std::string> floors, eci_references;
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

/// NAME=VALUE (the value after the last '='), as --floor and --eci-reference take them.
std::pair<std::string, double> name_value(const std::string& s, const char* option) {
    const auto eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0) throw ward::value_error(std::string(option) + " expects NAME=VALUE, got '" + s + "'");
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(s.substr(eq + 1), &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != s.size() - eq - 1)
        throw ward::value_error(std::string(option) + " expects NAME=VALUE with a number, got '" + s + "'");
    return {s.substr(0, eq), v};
}

/// The ECI scale: the default references, or the two given with --eci-reference. Without the default
/// references in the data there is no ECI (said, not an error); given references must be there.
std::optional<irt::EciScale> eci_scale(const Args& a, const irt::Dataset& data, const std::vector<double>& capability) {
    irt::EciReference ref;
    if (!a.eci_references.empty()) {
        if (a.eci_references.size() != 2) throw ward::value_error("--eci-reference needs exactly two references (NAME=VALUE each), got " +
                                    std::to_string(a.eci_references.size()));
        std::tie(ref.model_a, ref.eci_a) = name_value(a.eci_references[0], "--eci-reference");
        std::tie(ref.model_b, ref.eci_b) = name_value(a.eci_references[1], "--eci-reference");
        return irt::eci_scale(data, capability, ref);
    }
    try {
        return irt::eci_scale(data, capability, ref);
    } catch (const ward::value_error& e) {
        std::cout << "ECI: none (" << e.what() << "; choose two references with --eci-reference NAME=VALUE)\n";
        return std::nullopt;
    }
}

/// "C [lo, hi]" or, with a scale, the same in ECI.
std::string band(double mid, double lo, double hi, const irt::EciScale* eci = nullptr, int digits = 3) {
    auto v = [&](double c) { return eci ? (*eci)(c) : c; };
    return fmt(v(mid), digits) + " [" + fmt(v(lo), digits) + ", " + fmt(v(hi), digits) + "]";
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
    }
    std::optional<irt::DetectionStudy> study;
    const irt::SimulationOptions study_world = irt::paper_detection_world(a.acceleration_factor, a.seed);
    if (a.detection > 0) {
        study = irt::detection_study(study_world, a.detection, a.seed);
        const auto& s = *study;
        std::cout << "detection study, the paper's settings (" << a.detection << " worlds with and without a "
                  << fmt(a.acceleration_factor, 1) << "x acceleration after year 4 of 6, " << fmt(s.seconds, 1) << " s):\n"
                  << "  paper's rule (running maximum, slope ratio >= 2, R^2 >= 0.6, >= 3 points after): power "
                  << fmt(s.paper.power, 2) << ", false-positive rate " << fmt(s.paper.false_positive_rate, 2) << "\n"
                  << "  F-test rule (top-1 frontier, slope ratio >= 1.5, nominal p < 0.05): power " << fmt(s.f_test.power, 2)
                  << ", false-positive rate " << fmt(s.f_test.false_positive_rate, 2) << " (" << s.f_test.failed
                  << " worlds with too few frontier points)\n";
    }
    if (!a.anchor.empty()) opt.anchor = irt::Anchor::on_benchmark(a.anchor);
    for (const auto& fl : a.floors) {  // NAME=VALUE: the benchmark's random-guess baseline
        const auto [name, value] = name_value(fl, "--floor");
        opt.floor[name] = value;
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
    const std::optional<irt::EciScale> eci_opt = eci_scale(a, data, fit.capability);
    const irt::EciScale* eci = eci_opt ? &*eci_opt : nullptr;
    if (eci)
        std::cout << "ECI: " << eci->reference.model_a << " = " << eci->reference.eci_a << ", " << eci->reference.model_b
                  << " = " << eci->reference.eci_b << " (" << fmt(eci->per_capability(), 2) << " ECI per unit of C)\n";

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
    std::printf("\n%-4s %-42s %-10s %7s %-19s %7s %-17s %-17s\n", "rank", "model", "released", "C", "  bootstrap 95%", "ECI",
                "  bootstrap 95%", "profile (+5% SSE)");
    for (int r = 0; r < std::min<int>(a.top, static_cast<int>(order.size())); ++r) {
        const auto m = static_cast<std::size_t>(order[static_cast<std::size_t>(r)]);
        const double c = fit.capability[m];
        const std::string ci = boot ? "[" + fmt(boot->capability_low[m], 2) + ", " + fmt(boot->capability_high[m], 2) + "]" : "";
        const std::string eci_ci = boot && eci ? "[" + fmt((*eci)(boot->capability_low[m]), 1) + ", " +
                                                     fmt((*eci)(boot->capability_high[m]), 1) + "]" : "";
        std::printf("%-4d %-42s %-10s %7.3f %-19s %7s %-17s %-17s\n", r + 1, data.models[m].c_str(),
                    irt::date_or_empty(data.release[m]).c_str(), c, ("  " + ci).c_str(), eci ? fmt((*eci)(c), 1).c_str() : "",
                    ("  " + eci_ci).c_str(), ("[" + fmt(prof.low[m], 2) + ", " + fmt(prof.high[m], 2) + "]").c_str());
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
    std::optional<irt::Detection> scan;
    std::optional<irt::EfficiencyResult> eff;
    std::optional<irt::Backtest> bt;
    std::vector<irt::ForecastPoint> band_points, yearly;
    const irt::FTestRule f_rule;
    const irt::PaperRule paper_rule;
    double latest = irt::no_value;  // the latest release of any model: the forecast counts from it, as the paper's
    for (double t : data.release)
        if (!std::isnan(t) && !(t <= latest)) latest = t;
    try {
        trend = irt::frontier_trend(data, fit.capability);
        const auto& fr = trend->frontier;
        const double per = eci ? eci->per_capability() : irt::no_value;
        std::cout << "\nfrontier: " << fr.models.size() << " models top-1 at release (" << fr.models_without_date
                  << " models without a date left out)\ngrowth: " << fmt(trend->line.slope) << " capability units per year, 95% CI ["
                  << fmt(trend->slope_low) << ", " << fmt(trend->slope_high) << "], R^2 " << fmt(trend->line.r2);
        if (eci) std::cout << "; " << band(trend->line.slope * per, trend->slope_low * per, trend->slope_high * per, nullptr, 2) << " ECI per year";
        std::cout << "\n";
        const double cutoff = irt::decimal_year(irt::parse_date(a.cutoff, "--cutoff"));
        try {
            bt = irt::backtest(data, fit.capability, cutoff);
            std::cout << "backtest at " << irt::format_decimal_year(cutoff) << ": the frontier up to it (" << bt->train_points
                      << " models) predicts the " << bt->test_points << " after it with MAE " << fmt(bt->mae)
                      << " against " << fmt(bt->mae_last_value) << " for the last value held flat";
            if (eci) std::cout << " (ECI " << fmt(bt->mae * per, 2) << " against " << fmt(bt->mae_last_value * per, 2) << ")";
            std::cout << "; " << fmt(100 * bt->coverage, 0) << "% inside the 95% prediction band\n";
        } catch (const ward::error& e) {
            std::cout << "backtest skipped: " << e.what() << "\n";
        }
        bp = irt::fit_breakpoint(fr.date, fr.capability, f_rule.breakpoint);
        std::cout << "breakpoint (least squares, top-1 frontier): " << irt::format_decimal_year(bp->breakpoint) << ", slope "
                  << fmt(bp->slope_before) << " -> " << fmt(bp->slope_after) << " per year (ratio " << fmt(bp->ratio, 2) << "), R^2 "
                  << fmt(bp->r2) << " vs " << fmt(bp->r2_linear) << " for one line, " << bp->points_after
                  << " points after it, nominal F-test p = " << fmt(bp->p_value, 4) << "\n"
                  << "  F-test rule (ratio >= " << f_rule.min_ratio << ", p < " << f_rule.max_p << "): "
                  << (irt::detects(*bp, f_rule) ? "acceleration" : "no acceleration") << "\n"
                  << "  paper's rule (ratio >= " << paper_rule.min_ratio << ", R^2 >= " << paper_rule.min_r2 << ", >= "
                  << paper_rule.min_points_after << " points after): "
                  << (irt::meets(*bp, paper_rule) ? "acceleration" : "no acceleration") << "\n";
        const irt::Frontier run_max = irt::running_max_frontier(data, fit.capability);
        scan = irt::scan_for_acceleration(run_max.date, run_max.capability, paper_rule);
        std::cout << "  paper's scan (running maximum of " << run_max.date.size() << " models, " << paper_rule.candidates
                  << " breakpoints): ";
        if (scan->detected)
            std::cout << "first acceleration at " << irt::format_decimal_year(scan->fit.breakpoint) << ", slope "
                      << fmt(scan->fit.slope_before) << " -> " << fmt(scan->fit.slope_after) << " (ratio " << fmt(scan->fit.ratio, 2)
                      << "), R^2 " << fmt(scan->fit.r2) << ", " << scan->fit.points_after << " models after it\n";
        else
            std::cout << "no acceleration (" << scan->admissible << " breakpoints could be judged)\n";

        const double t_first = fr.date.front(), t_end = latest + a.forecast_years;
        std::vector<double> dates, years;
        for (int k = 0; k <= 60; ++k) dates.push_back(t_first + (t_end - t_first) * k / 60.0);
        band_points = irt::forecast(trend->line, dates);
        for (int y = 1; y <= a.forecast_years; ++y) years.push_back(latest + y);
        yearly = irt::forecast(trend->line, years);
        std::cout << "forecast (the top-1 frontier's trend from the latest release, " << irt::format_decimal_year(latest)
                  << "; mean with its 95% interval, then the 95% prediction interval):\n";
        for (const auto& p : yearly) {
            std::cout << "  " << irt::format_decimal_year(p.date) << "  C " << band(p.mean, p.mean_low, p.mean_high) << ", ["
                      << fmt(p.prediction_low) << ", " << fmt(p.prediction_high) << "]";
            if (eci)
                std::cout << "   ECI " << band(p.mean, p.mean_low, p.mean_high, eci, 1) << ", [" << fmt((*eci)(p.prediction_low), 1)
                          << ", " << fmt((*eci)(p.prediction_high), 1) << "]";
            std::cout << "\n";
        }
    } catch (const ward::error& e) {
        std::cout << "trend analysis skipped: " << e.what() << "\n";
    }
    try {
        eff = irt::algorithmic_efficiency(data, fit.capability, {.level = 0.95, .bootstrap = 1000, .seed = a.seed});
        std::cout << "efficiency: k = " << fmt(eff->k) << " per e-fold of compute, db/dt = " << fmt(eff->db_dt)
                  << " per year -> compute-equivalent gain " << fmt(eff->gain_per_year, 2) << "x per year, 95% CI ["
                  << fmt(eff->gain_low, 2) << ", " << fmt(eff->gain_high, 2) << "] (delta method), ["
                  << fmt(eff->gain_boot_low, 2) << ", " << fmt(eff->gain_boot_high, 2) << "] (family bootstrap) ("
                  << eff->families << " families, " << eff->models_in_trend << " models)\n";
    } catch (const ward::error& e) {
        std::cout << "efficiency skipped: " << e.what() << "\n";
    }

    if (!a.out.empty()) {
        std::filesystem::create_directories(a.out);
        const auto path = [&](const char* f) { return (std::filesystem::path(a.out) / f).string(); };
        const auto* low = boot ? &boot->capability_low : nullptr;
        const auto* high = boot ? &boot->capability_high : nullptr;
        ward::io::write_atomically(path("capabilities.csv"), irt::capabilities_csv(data, fit, low, high, eci));
        ward::io::write_atomically(path("benchmarks.csv"), irt::benchmarks_csv(data, fit));
        irt::SummaryInputs in{&data, &fit, anchor, fit_ms, trend ? &*trend : nullptr, bp ? &*bp : nullptr,
                              eff ? &*eff : nullptr, bt ? &*bt : nullptr, boot ? a.bootstrap : 0};
        in.eci = eci;
        in.f_test = f_rule;
        in.paper = paper_rule;
        in.paper_scan = scan ? &*scan : nullptr;
        in.forecast = trend ? &yearly : nullptr;
        in.forecast_from = latest;
        in.study = study ? &*study : nullptr;
        in.study_world = study ? &study_world : nullptr;
        ward::io::write_atomically(path("summary.json"), irt::summary_json(in).dump(2) + "\n");
        std::cout << "\nwrote " << path("capabilities.csv") << ", benchmarks.csv, summary.json\n";
        if (!a.no_plots) {
            if (trend) std::cout << irt::plot_capabilities(a.out, data, fit, *trend, band_points, low, high, eci).message << "\n";
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
    app.add_option("--cutoff", a.cutoff, "backtest cutoff date YYYY-MM-DD (the paper's: 2024-09-01)");
    app.add_option("--top", a.top, "models to list")->check(CLI::PositiveNumber);
    app.add_option("--forecast-years", a.forecast_years, "years to forecast past the latest release (the paper's: 3)")
        ->check(CLI::PositiveNumber);
    app.add_option("--eci-reference", a.eci_references,
                   "ECI reference model, NAME=VALUE, given twice (default: claude-3-5-sonnet-20241022=130, "
                   "gpt-5-2025-08-07_high=150)");
    app.add_flag("--no-plots", a.no_plots, "do not call gnuplot");
    app.add_option("--floor", a.floors, "random-guess baseline of a benchmark, NAME=VALUE (repeatable)");
    app.add_option("--detection", a.detection, "run the paper's detection study over N simulated worlds (with and without the acceleration)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--acceleration-factor", a.acceleration_factor, "the study's planted speed-up of growth after year 4")
        ->check(CLI::PositiveNumber);
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
