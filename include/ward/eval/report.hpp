#pragma once
// The defence x attack report. write_report() puts in `dir`:
//   report.json   records, probes, each defence's worst case, and free-form metadata (read back by read_report)
//   records.csv   one line per record (extra metrics as columns)
//   summary.csv, summary.txt   the fixed grid's rows: mean, std, min, max over seeds
//   worst_case.csv, and summary.txt's first table   each defence's worst case over every attack tried
//   harm_after_attack.{svg,png}, probe_accuracy.{svg,png}   drawn by gnuplot when it is on $PATH
// every file written atomically. NaN (not measured) is null in the JSON and empty in the CSV, and
// statistics skip it.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/eval/records.hpp"
#include "ward/eval/summary.hpp"
#include "ward/io/atomic_file.hpp"
#include "ward/io/gnuplot.hpp"

namespace ward::eval {

struct ReportFiles {
    std::vector<std::string> written;   // paths
    std::vector<std::string> messages;  // what the plots did (drawn, or why not)
    std::string table;                  // the terminal table
};

namespace detail {
/// harm after the attack against attack lr, one line per (defence, samples, epochs), error bars =
/// std; the x axis spans exactly the learning rates tried.
inline io::PlotResult plot_harm(const std::filesystem::path& dir, const std::vector<SummaryRow>& rows) {
    std::set<std::pair<std::int64_t, std::int64_t>> settings;
    double lr_min = rows.front().attack_lr, lr_max = lr_min;
    for (const auto& r : rows) {
        settings.insert({r.attack_samples, r.attack_epochs});
        lr_min = std::min(lr_min, r.attack_lr);
        lr_max = std::max(lr_max, r.attack_lr);
    }
    std::vector<std::pair<std::string, std::string>> series;  // title, data
    for (const auto& r : rows) {
        std::string title = r.defence;
        if (settings.size() > 1)
            title += " (" + std::to_string(r.attack_samples) + " samples, " + std::to_string(r.attack_epochs) + " epochs)";
        if (series.empty() || series.back().first != title) series.push_back({title, ""});
        if (r.harm_after.n > 0)
            series.back().second += csv_number(r.attack_lr) + "\t" + csv_number(r.harm_after.mean) + "\t" + csv_number(r.harm_after.std) + "\n";
    }
    const std::string base = (dir / "harm_after_attack").string();
    std::string data, plot;
    for (std::size_t i = 0; i < series.size(); ++i) {
        data += "# " + series[i].first + "\n" + series[i].second + "\n\n";
        plot += std::string(i ? ", \\\n     " : "plot ") + io::gnuplot_quote(base + ".dat") + " index " + std::to_string(i) +
                " using 1:2:3 with yerrorlines lw 2 pt 7 title " + io::gnuplot_quote(io::gnuplot_label(series[i].first));
    }
    const std::string range = lr_max > lr_min ? "set xrange [" + csv_number(lr_min) + ":" + csv_number(lr_max) + "]\n" : "";
    const std::string body = "set title 'Harmfulness after the fixed attack grid (mean ± std over seeds)'\n"
                             "set xlabel 'attack learning rate'\nset ylabel 'harmfulness'\nset logscale x\n" + range +
                             "set yrange [0:1.02]\nset grid\nset key outside right\n" + plot + "\n";
    return io::run_gnuplot(dir, "harm_after_attack", body, {{"harm_after_attack.dat", data}});
}

/// probe accuracy against layer, one line per defence (mean ± std over seeds), with the chance level.
inline io::PlotResult plot_probes(const std::filesystem::path& dir, const std::vector<ProbeRecord>& probes, const std::string& title) {
    std::vector<std::string> defences;
    std::vector<double> chance;
    for (const auto& p : probes) {
        if (std::find(defences.begin(), defences.end(), p.defence) == defences.end()) defences.push_back(p.defence);
        chance.push_back(p.chance);
    }
    const std::string base = (dir / "probe_accuracy").string();
    std::string data, plot;
    for (std::size_t i = 0; i < defences.size(); ++i) {
        data += "# " + defences[i] + "\n";
        std::size_t layers = 0;
        for (const auto& p : probes)
            if (p.defence == defences[i]) layers = std::max(layers, p.accuracy.size());
        for (std::size_t l = 0; l < layers; ++l) {
            std::vector<double> v;
            for (const auto& p : probes)
                if (p.defence == defences[i] && l < p.accuracy.size()) v.push_back(p.accuracy[l]);
            const Stat s = stat_of(v);
            if (s.n) data += std::to_string(l) + "\t" + csv_number(s.mean) + "\t" + csv_number(s.std) + "\n";
        }
        data += "\n\n";
        plot += std::string(i ? ", \\\n     " : "plot ") + io::gnuplot_quote(base + ".dat") + " index " + std::to_string(i) +
                " using 1:2:3 with yerrorlines lw 2 pt 7 title " + io::gnuplot_quote(io::gnuplot_label(defences[i]));
    }
    plot += ", \\\n     " + csv_number(stat_of(chance).mean) + " with lines dt 2 lw 2 lc rgb 'black' title 'chance'";
    const std::string body = "set title " + io::gnuplot_quote(title) + "\nset xlabel 'layer'\nset ylabel 'held-out accuracy'\n"
                             "set xtics 1\nset yrange [0.3:1.02]\nset grid\nset key outside right\n" + plot + "\n";
    return io::run_gnuplot(dir, "probe_accuracy", body, {{"probe_accuracy.dat", data}});
}
}  // namespace detail

struct ReportOptions {
    bool plots = true;  // draw with gnuplot (when found)
    std::string probe_title = "Held-out probe accuracy per layer (harmful vs harmless)";
};

/// report.json's contents: the records and probes (to_json) with each defence's worst case.
inline nlohmann::json report_json(const Report& r) {
    nlohmann::json j = to_json(r);
    j["worst_case"] = worst_case_json(worst_cases(r));
    return j;
}

/// Writes every file of the report into `dir` (created if needed); returns what was written.
inline ReportFiles write_report(const std::filesystem::path& dir, const Report& r, const ReportOptions& opt = {}) {
    std::filesystem::create_directories(dir);
    ReportFiles out;
    auto put = [&](const std::string& name, const std::string& content) {
        io::write_atomically(dir / name, content);
        out.written.push_back((dir / name).string());
    };
    const auto rows = summarize(r);
    const auto worst = summarize_worst_cases(worst_cases(r));
    out.table = "Worst case over every attack tried (per seed the largest harm, then over seeds):\n" + format_worst_case_table(worst);
    if (!rows.empty()) out.table += "\nThe fixed attack grid:\n" + format_table(rows);
    put("report.json", report_json(r).dump(2) + "\n");
    put("records.csv", records_csv(r));
    put("summary.csv", summary_csv(rows));
    put("worst_case.csv", worst_case_csv(worst));
    put("summary.txt", out.table);
    if (!opt.plots) return out;
    if (io::find_gnuplot().empty()) {
        out.messages.push_back("gnuplot not found on PATH: plots skipped");
        return out;
    }
    std::vector<io::PlotResult> plots;
    if (!rows.empty()) plots.push_back(detail::plot_harm(dir, rows));
    if (!r.probes.empty()) plots.push_back(detail::plot_probes(dir, r.probes, opt.probe_title));
    for (auto& p : plots) {
        out.messages.push_back(p.message);
        out.written.insert(out.written.end(), p.files.begin(), p.files.end());
    }
    return out;
}

}  // namespace ward::eval
