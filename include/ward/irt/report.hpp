#pragma once
// Reports: capabilities.csv, benchmarks.csv and summary.json as text; write them with
// io::write_atomically (io/atomic_file.hpp), so that a killed run never leaves half a file.

#include <ward/core/error.hpp>
#include <ward/io/atomic_file.hpp>
#include <ward/irt/acceleration.hpp>
#include <ward/irt/breakpoint.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/date.hpp>
#include <ward/irt/detection.hpp>
#include <ward/irt/eci.hpp>
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

/// model, release_date, capability, ci_low, ci_high, eci, eci_low, eci_high, best first. The intervals
/// (e.g. the bootstrap's) and the ECI columns are empty when not given.
inline std::string capabilities_csv(const Dataset& d, const FitResult& f, const std::vector<double>* low = nullptr,
                                    const std::vector<double>* high = nullptr, const EciScale* eci = nullptr) {
    std::vector<index_t> order(static_cast<std::size_t>(d.num_models()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<index_t>(i);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return f.capability[static_cast<std::size_t>(a)] > f.capability[static_cast<std::size_t>(b)];
    });
    auto on_eci = [&](double c) { return eci ? number((*eci)(c)) : std::string(); };
    std::string s = "model,release_date,capability,ci_low,ci_high,eci,eci_low,eci_high\n";
    for (index_t m : order) {
        const auto i = static_cast<std::size_t>(m);
        s += csv_field(d.models[i]) + "," + date_or_empty(d.release[i]) + "," + number(f.capability[i]) + "," +
             (low ? number((*low)[i]) : "") + "," + (high ? number((*high)[i]) : "") + "," + on_eci(f.capability[i]) + "," +
             (low ? on_eci((*low)[i]) : "") + "," + (high ? on_eci((*high)[i]) : "") + "\n";
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
    const EciScale* eci = nullptr;
    FTestRule f_test{};                                   // the rules the breakpoint is judged by
    PaperRule paper{};
    const Detection* paper_scan = nullptr;                // the paper's scan of the running-maximum frontier
    const std::vector<ForecastPoint>* forecast = nullptr; // the projection (e.g. one point a year)
    double forecast_from = no_value;                      // the date it counts from
    const DetectionStudy* study = nullptr;
    const SimulationOptions* study_world = nullptr;
};

/// A capability and its bands as JSON, on the C scale or (with `eci`) on the ECI scale.
inline nlohmann::json forecast_point_json(const ForecastPoint& p, const EciScale* eci = nullptr) {
    auto v = [&](double c) { return eci ? (*eci)(c) : c; };
    return {{"mean", v(p.mean)}, {"mean_low", v(p.mean_low)}, {"mean_high", v(p.mean_high)},
            {"prediction_low", v(p.prediction_low)}, {"prediction_high", v(p.prediction_high)}};
}

inline nlohmann::json summary_json(const SummaryInputs& in) {
    using nlohmann::json;
    if (!in.data || !in.fit) throw value_error("summary_json: data and fit are required");
    const auto& d = *in.data;
    const auto& f = *in.fit;
    const EciScale* eci = in.eci;
    const double per = eci ? eci->per_capability() : no_value;
    auto or_null = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
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
    j["eci"] = nullptr;
    if (eci)
        j["eci"] = {{"reference", {{{"model", eci->reference.model_a}, {"eci", eci->reference.eci_a}, {"capability", eci->capability_a}},
                                   {{"model", eci->reference.model_b}, {"eci", eci->reference.eci_b}, {"capability", eci->capability_b}}}},
                    {"per_capability", per}};
    if (in.trend) {
        const auto& t = *in.trend;
        j["frontier"] = {{"points", t.line.n}, {"slope_per_year", t.line.slope}, {"slope_ci_low", t.slope_low},
                         {"slope_ci_high", t.slope_high}, {"r2", t.line.r2}, {"intercept", t.line.intercept},
                         {"slope_eci_per_year", or_null(t.line.slope * per)}, {"slope_eci_ci_low", or_null(t.slope_low * per)},
                         {"slope_eci_ci_high", or_null(t.slope_high * per)}};
        json pts = json::array();
        for (std::size_t i = 0; i < t.frontier.models.size(); ++i) {
            const double c = t.frontier.capability[i];
            pts.push_back({{"model", d.models[static_cast<std::size_t>(t.frontier.models[i])]},
                           {"release_date", format_decimal_year(t.frontier.date[i])}, {"capability", c},
                           {"eci", eci ? json((*eci)(c)) : json(nullptr)}});
        }
        j["frontier"]["models"] = pts;
    }
    if (in.breakpoint) {
        const auto& b = *in.breakpoint;
        j["breakpoint"] = {{"date", format_decimal_year(b.breakpoint)}, {"year", b.breakpoint},
                           {"slope_before", b.slope_before}, {"slope_after", b.slope_after}, {"ratio", b.ratio},
                           {"r2", b.r2}, {"r2_linear", b.r2_linear}, {"f_statistic", b.f_statistic}, {"p_value", b.p_value},
                           {"points_before", b.points_before}, {"points_after", b.points_after},
                           {"f_test_rule", {{"min_ratio", in.f_test.min_ratio}, {"max_p", in.f_test.max_p},
                                            {"detected", detects(b, in.f_test)}}},
                           {"paper_rule", {{"min_ratio", in.paper.min_ratio}, {"min_r2", in.paper.min_r2},
                                           {"min_points_after", in.paper.min_points_after}, {"detected", meets(b, in.paper)}}}};
    }
    if (in.paper_scan) {
        const auto& sc = *in.paper_scan;
        j["paper_scan"] = {{"frontier", "running maximum"}, {"candidates", in.paper.candidates},
                           {"admissible", sc.admissible}, {"detected", sc.detected}};
        if (sc.detected)
            j["paper_scan"].update({{"date", format_decimal_year(sc.fit.breakpoint)}, {"year", sc.fit.breakpoint},
                                    {"slope_before", sc.fit.slope_before}, {"slope_after", sc.fit.slope_after},
                                    {"ratio", sc.fit.ratio}, {"r2", sc.fit.r2}, {"points_after", sc.fit.points_after}});
    }
    if (in.efficiency) {
        const auto& e = *in.efficiency;
        j["efficiency"] = {{"k", e.k}, {"k_se", e.k_se}, {"db_dt", e.db_dt}, {"db_dt_se", e.db_dt_se},
                           {"gain_per_year", e.gain_per_year}, {"gain_ci_low", e.gain_low}, {"gain_ci_high", e.gain_high},
                           {"gain_bootstrap_ci_low", or_null(e.gain_boot_low)}, {"gain_bootstrap_ci_high", or_null(e.gain_boot_high)},
                           {"families", e.families}, {"models_in_families", e.models_in_families},
                           {"models_in_trend", e.models_in_trend}};
    } else {
        j["efficiency"] = nullptr;
    }
    if (in.backtest) {
        const auto& b = *in.backtest;
        j["backtest"] = {{"cutoff", format_decimal_year(b.cutoff)}, {"train_points", b.train_points},
                         {"test_points", b.test_points}, {"mae", b.mae}, {"mae_last_value", b.mae_last_value},
                         {"mae_eci", or_null(b.mae * per)}, {"mae_last_value_eci", or_null(b.mae_last_value * per)},
                         {"coverage_95", b.coverage}};
    }
    if (in.forecast) {
        json pts = json::array();
        for (const auto& p : *in.forecast)
            pts.push_back({{"date", format_decimal_year(p.date)}, {"year", p.date}, {"capability", forecast_point_json(p)},
                           {"eci", eci ? forecast_point_json(p, eci) : json(nullptr)}});
        j["forecast"] = {{"from", std::isnan(in.forecast_from) ? json(nullptr) : json(format_decimal_year(in.forecast_from))},
                         {"level", 0.95}, {"points", pts}};
    }
    if (in.study) {
        const auto& st = *in.study;
        auto rule = [](const RuleOutcome& r) {
            return json{{"power", r.power}, {"false_positive_rate", r.false_positive_rate}, {"failed", r.failed}};
        };
        j["detection_study"] = {{"worlds", st.replicates}, {"seconds", st.seconds}, {"paper_rule", rule(st.paper)},
                                {"f_test_rule", rule(st.f_test)}};
        if (in.study_world) {
            const auto& w = *in.study_world;
            j["detection_study"]["world"] = {{"start_year", w.start_year}, {"end_year", w.end_year},
                                             {"acceleration_year", w.acceleration_year},
                                             {"acceleration_factor", w.slope_after / w.slope_per_year},
                                             {"models_per_year", w.models_per_year}, {"benchmarks_per_year", w.benchmarks_per_year},
                                             {"observed_fraction", w.observed_fraction}, {"score_noise", w.noise},
                                             {"capability_noise", w.model_spread}, {"difficulty_noise", w.difficulty_spread},
                                             {"slope_low", w.slope_low}, {"slope_high", w.slope_high}};
        }
    }
    return j;
}

}  // namespace ward::irt
