#pragma once
// Reports: capabilities.csv, benchmarks.csv and summary.json as text; write them with
// io::write_atomically (io/atomic_file.hpp), so that a killed run never leaves half a file.

#include <ward/core/error.hpp>
#include <ward/io/atomic_file.hpp>
#include <ward/irt/breakpoint.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/date.hpp>
#include <ward/irt/efficiency.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/trend.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>


namespace ward::irt {

inline std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

inline std::string number(double v, int digits = 10) {
    if (std::isnan(v)) return "";
    std::ostringstream os;
    os.precision(digits);
    os << v;
    return os.str();
}

inline std::string date_or_empty(double t) { return std::isnan(t) ? std::string() : format_decimal_year(t); }

/// model, release_date, capability, ci_low, ci_high (intervals may be empty), best first.
inline std::string capabilities_csv(const Dataset& d, const FitResult& f, const std::vector<double>* low = nullptr,
                                    const std::vector<double>* high = nullptr) {
    std::vector<index_t> order(static_cast<std::size_t>(d.num_models()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<index_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return f.capability[static_cast<std::size_t>(a)] > f.capability[static_cast<std::size_t>(b)];
    });
    std::string s = "model,release_date,capability,ci_low,ci_high\n";
    for (index_t m : order) {
        const auto i = static_cast<std::size_t>(m);
        s += csv_field(d.models[i]) + "," + date_or_empty(d.release[i]) + "," + number(f.capability[i]) + "," +
             (low ? number((*low)[i]) : "") + "," + (high ? number((*high)[i]) : "") + "\n";
    }
    return s;
}

/// benchmark, difficulty, slope, observations; easiest first.
inline std::string benchmarks_csv(const Dataset& d, const FitResult& f) {
    std::vector<index_t> order(static_cast<std::size_t>(d.num_benchmarks()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<index_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return f.difficulty[static_cast<std::size_t>(a)] < f.difficulty[static_cast<std::size_t>(b)];
    });
    const auto counts = d.benchmark_counts();
    std::string s = "benchmark,difficulty,slope,observations\n";
    for (index_t b : order) {
        const auto i = static_cast<std::size_t>(b);
        s += csv_field(d.benchmarks[i]) + "," + number(f.difficulty[i]) + "," + number(f.slope[i]) + "," +
             std::to_string(counts[i]) + "\n";
    }
    return s;
}

/// The dataset as a long CSV (model, benchmark, score, release_date, compute, family): what
/// read_long_csv reads back, e.g. to hand a simulated world to other tools.
inline std::string long_csv(const Dataset& d) {
    std::string s = "model,benchmark,score,release_date,compute,family\n";
    for (const auto& o : d.obs) {
        const auto m = static_cast<std::size_t>(o.model);
        s += csv_field(d.models[m]) + "," + csv_field(d.benchmarks[static_cast<std::size_t>(o.benchmark)]) + "," +
             number(o.score, 17) + "," + date_or_empty(d.release[m]) + "," + number(d.compute[m], 17) + "," +
             csv_field(d.family[m]) + "\n";
    }
    return s;
}

/// What summary.json holds; the optional parts are null pointers when not computed.
struct SummaryInputs {
    const Dataset* data = nullptr;
    const FitResult* fit = nullptr;
    std::string anchor;
    double fit_ms = no_value;
    const Trend* trend = nullptr;
    const BreakpointFit* breakpoint = nullptr;
    const EfficiencyResult* efficiency = nullptr;
    const Backtest* backtest = nullptr;
    int bootstrap_replicates = 0;
};

inline nlohmann::json summary_json(const SummaryInputs& in) {
    using nlohmann::json;
    if (!in.data || !in.fit) throw value_error("summary_json: data and fit are required");
    const auto& d = *in.data;
    const auto& f = *in.fit;
    json j;
    j["observations"] = d.num_obs();
    j["models"] = d.num_models();
    j["benchmarks"] = d.num_benchmarks();
    j["anchor"] = in.anchor;
    j["fit"] = {{"objective", f.objective}, {"sse", f.sse}, {"iterations", f.iterations}, {"converged", f.converged},
                {"status", f.status}, {"projected_gradient", f.projected_gradient}, {"parameters_at_bounds", f.at_bounds}};
    if (!std::isnan(in.fit_ms)) j["fit"]["milliseconds"] = in.fit_ms;
    j["bootstrap_replicates"] = in.bootstrap_replicates;
    json rep = json::object();
    for (const auto& [reason, n] : d.report.counts) rep[reason] = n;
    j["load_report"] = rep;
    if (in.trend) {
        const auto& t = *in.trend;
        j["frontier"] = {{"points", t.line.n}, {"slope_per_year", t.line.slope}, {"slope_ci_low", t.slope_low},
                         {"slope_ci_high", t.slope_high}, {"r2", t.line.r2}, {"intercept", t.line.intercept}};
        json pts = json::array();
        for (std::size_t i = 0; i < t.frontier.models.size(); ++i)
            pts.push_back({{"model", d.models[static_cast<std::size_t>(t.frontier.models[i])]},
                           {"release_date", format_decimal_year(t.frontier.date[i])}, {"capability", t.frontier.capability[i]}});
        j["frontier"]["models"] = pts;
    }
    if (in.breakpoint) {
        const auto& b = *in.breakpoint;
        j["breakpoint"] = {{"date", format_decimal_year(b.breakpoint)}, {"year", b.breakpoint},
                           {"slope_before", b.slope_before}, {"slope_after", b.slope_after}, {"ratio", b.ratio},
                           {"r2", b.r2}, {"r2_linear", b.r2_linear}, {"f_statistic", b.f_statistic}, {"p_value", b.p_value},
                           {"points_before", b.points_before}, {"points_after", b.points_after}};
    }
    if (in.efficiency) {
        const auto& e = *in.efficiency;
        j["efficiency"] = {{"k", e.k}, {"k_se", e.k_se}, {"db_dt", e.db_dt}, {"db_dt_se", e.db_dt_se},
                           {"gain_per_year", e.gain_per_year}, {"gain_ci_low", e.gain_low}, {"gain_ci_high", e.gain_high},
                           {"gain_bootstrap_ci_low", std::isnan(e.gain_boot_low) ? json(nullptr) : json(e.gain_boot_low)},
                           {"gain_bootstrap_ci_high", std::isnan(e.gain_boot_high) ? json(nullptr) : json(e.gain_boot_high)},
                           {"families", e.families}, {"models_in_families", e.models_in_families},
                           {"models_in_trend", e.models_in_trend}};
    } else {
        j["efficiency"] = nullptr;
    }
    if (in.backtest) {
        const auto& b = *in.backtest;
        j["backtest"] = {{"cutoff", format_decimal_year(b.cutoff)}, {"train_points", b.train_points},
                         {"test_points", b.test_points}, {"mae", b.mae}, {"mae_last_value", b.mae_last_value},
                         {"coverage_95", b.coverage}};
    }
    return j;
}

}  // namespace ward::irt
