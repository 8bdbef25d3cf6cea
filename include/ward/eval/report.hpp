#pragma once
// The defence x attack report: one record per (defence, attack setting, seed) with harmfulness
// before and after the harmful fine-tuning attack and the loss after harmless fine-tuning, plus
// per-(defence, seed) probe accuracies per layer. write_report() puts in `dir`:
//   report.json   records, probes and free-form metadata (read back by read_report)
//   records.csv   one line per record (extra metrics as columns)
//   summary.csv, summary.txt   one row per (defence, attack lr, samples, epochs): mean, std, min, max over seeds
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
#include "ward/io/atomic_file.hpp"
#include "ward/io/gnuplot.hpp"

namespace ward::eval {

inline constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

struct AttackRecord {
    std::string defence;
    double attack_lr = 0;
    std::int64_t attack_samples = 0, attack_epochs = 0;
    std::uint64_t seed = 0;
    double harm_before = not_measured, harm_after = not_measured;
    double harmless_loss = not_measured;  // after harmless fine-tuning
    std::map<std::string, double> metrics;  // anything else
};

struct ProbeRecord {
    std::string defence;
    std::uint64_t seed = 0;
    std::vector<double> accuracy;        // held-out, per layer
    std::vector<double> train_accuracy;  // may be empty
};

struct Report {
    std::vector<AttackRecord> records;
    std::vector<ProbeRecord> probes;
    nlohmann::json metadata = nlohmann::json::object();
};

namespace detail {
inline nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }
inline double number_from(const nlohmann::json& j, const std::string& where) {
    if (j.is_null()) return not_measured;
    if (!j.is_number()) throw parse_error(where + " is not a number");
    return j.get<double>();
}
inline nlohmann::json numbers_json(const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(number_or_null(x));
    return a;
}
inline std::string csv_number(double v) {
    if (std::isnan(v)) return "";
    std::ostringstream os;
    os << std::setprecision(10) << v;
    return os.str();
}
inline std::string csv_text(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}
}  // namespace detail

inline nlohmann::json to_json(const Report& r) {
    nlohmann::json records = nlohmann::json::array(), probes = nlohmann::json::array();
    for (const auto& a : r.records) {
        nlohmann::json m = nlohmann::json::object();
        for (const auto& [k, v] : a.metrics) m[k] = detail::number_or_null(v);
        records.push_back({{"defence", a.defence}, {"attack_lr", a.attack_lr}, {"attack_samples", a.attack_samples},
                           {"attack_epochs", a.attack_epochs}, {"seed", a.seed},
                           {"harm_before", detail::number_or_null(a.harm_before)},
                           {"harm_after", detail::number_or_null(a.harm_after)},
                           {"harmless_loss", detail::number_or_null(a.harmless_loss)}, {"metrics", m}});
    }
    for (const auto& p : r.probes)
        probes.push_back({{"defence", p.defence}, {"seed", p.seed}, {"accuracy", detail::numbers_json(p.accuracy)},
                          {"train_accuracy", detail::numbers_json(p.train_accuracy)}});
    return {{"format", "ward.eval.report"}, {"version", 1}, {"metadata", r.metadata}, {"records", records}, {"probes", probes}};
}

/// The inverse of to_json; `source` names the input in error messages.
inline Report report_from_json(const nlohmann::json& j, const std::string& source = "report") {
    Report r;
    try {
        r.metadata = j.value("metadata", nlohmann::json::object());
        const auto& records = j.at("records");
        for (std::size_t i = 0; i < records.size(); ++i) {
            const auto& e = records[i];
            const std::string where = source + ": records[" + std::to_string(i) + "]";
            AttackRecord a;
            a.defence = e.at("defence").get<std::string>();
            a.attack_lr = e.at("attack_lr").get<double>();
            a.attack_samples = e.at("attack_samples").get<std::int64_t>();
            a.attack_epochs = e.at("attack_epochs").get<std::int64_t>();
            a.seed = e.at("seed").get<std::uint64_t>();
            a.harm_before = detail::number_from(e.at("harm_before"), where + ".harm_before");
            a.harm_after = detail::number_from(e.at("harm_after"), where + ".harm_after");
            a.harmless_loss = detail::number_from(e.at("harmless_loss"), where + ".harmless_loss");
            if (e.contains("metrics"))
                for (const auto& [k, v] : e["metrics"].items()) a.metrics[k] = detail::number_from(v, where + ".metrics." + k);
            r.records.push_back(std::move(a));
        }
        const auto probes = j.value("probes", nlohmann::json::array());
        for (std::size_t i = 0; i < probes.size(); ++i) {
            const auto& e = probes[i];
            const std::string where = source + ": probes[" + std::to_string(i) + "]";
            ProbeRecord p;
            p.defence = e.at("defence").get<std::string>();
            p.seed = e.at("seed").get<std::uint64_t>();
            for (const auto& v : e.at("accuracy")) p.accuracy.push_back(detail::number_from(v, where + ".accuracy"));
            if (e.contains("train_accuracy"))
                for (const auto& v : e["train_accuracy"]) p.train_accuracy.push_back(detail::number_from(v, where + ".train_accuracy"));
            r.probes.push_back(std::move(p));
        }
    } catch (const nlohmann::json::exception& e) {
        throw parse_error(source + ": not a ward report (" + e.what() + ")");
    }
    return r;
}

inline Report read_report(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw parse_error(path.string() + ": not valid JSON (" + e.what() + ")");
    }
    return report_from_json(j, path.string());
}

/// defence, attack_lr, attack_samples, attack_epochs, seed, harm_before, harm_after, harmless_loss,
/// then one column per extra metric (the union over records, sorted).
inline std::string records_csv(const Report& r) {
    std::set<std::string> extra;
    for (const auto& a : r.records)
        for (const auto& [k, v] : a.metrics) extra.insert(k);
    std::string s = "defence,attack_lr,attack_samples,attack_epochs,seed,harm_before,harm_after,harmless_loss";
    for (const auto& k : extra) (s += ',') += detail::csv_text(k);  // += : GCC 12 warns falsely on "," + string
    s += "\n";
    for (const auto& a : r.records) {
        s += detail::csv_text(a.defence) + "," + detail::csv_number(a.attack_lr) + "," + std::to_string(a.attack_samples) + "," +
             std::to_string(a.attack_epochs) + "," + std::to_string(a.seed) + "," + detail::csv_number(a.harm_before) + "," +
             detail::csv_number(a.harm_after) + "," + detail::csv_number(a.harmless_loss);
        for (const auto& k : extra) {
            auto it = a.metrics.find(k);
            s += ',';
            if (it != a.metrics.end()) s += detail::csv_number(it->second);
        }
        s += "\n";
    }
    return s;
}

/// Over the measured (non-NaN) values: count, mean, sample standard deviation (0 for one value), range.
struct Stat {
    std::size_t n = 0;
    double mean = not_measured, std = not_measured, min = not_measured, max = not_measured;
};

inline Stat stat_of(const std::vector<double>& values) {
    Stat s;
    double sum = 0;
    for (double v : values)
        if (!std::isnan(v)) {
            sum += v;
            s.min = s.n ? std::min(s.min, v) : v;
            s.max = s.n ? std::max(s.max, v) : v;
            ++s.n;
        }
    if (s.n == 0) return s;
    s.mean = sum / double(s.n);
    double ss = 0;
    for (double v : values)
        if (!std::isnan(v)) ss += (v - s.mean) * (v - s.mean);
    s.std = s.n > 1 ? std::sqrt(ss / double(s.n - 1)) : 0.0;
    return s;
}

struct SummaryRow {
    std::string defence;
    double attack_lr = 0;
    std::int64_t attack_samples = 0, attack_epochs = 0;
    std::size_t seeds = 0;  // records in the group
    Stat harm_before, harm_after, harmless_loss;
};

/// One row per (defence, attack lr, samples, epochs): defences in the order they first appear,
/// then by lr, samples and epochs.
inline std::vector<SummaryRow> summarize(const Report& r) {
    std::vector<std::string> defences;
    for (const auto& a : r.records)
        if (std::find(defences.begin(), defences.end(), a.defence) == defences.end()) defences.push_back(a.defence);
    using Key = std::tuple<std::size_t, double, std::int64_t, std::int64_t>;
    std::map<Key, std::vector<const AttackRecord*>> groups;
    for (const auto& a : r.records) {
        const auto d = static_cast<std::size_t>(std::find(defences.begin(), defences.end(), a.defence) - defences.begin());
        groups[{d, a.attack_lr, a.attack_samples, a.attack_epochs}].push_back(&a);
    }
    std::vector<SummaryRow> rows;
    for (const auto& [key, group] : groups) {
        SummaryRow row;
        row.defence = defences[std::get<0>(key)];
        row.attack_lr = std::get<1>(key);
        row.attack_samples = std::get<2>(key);
        row.attack_epochs = std::get<3>(key);
        row.seeds = group.size();
        std::vector<double> before, after, loss;
        for (const auto* a : group) {
            before.push_back(a->harm_before);
            after.push_back(a->harm_after);
            loss.push_back(a->harmless_loss);
        }
        row.harm_before = stat_of(before);
        row.harm_after = stat_of(after);
        row.harmless_loss = stat_of(loss);
        rows.push_back(std::move(row));
    }
    return rows;
}

inline std::string summary_csv(const std::vector<SummaryRow>& rows) {
    std::string s = "defence,attack_lr,attack_samples,attack_epochs,seeds";
    for (const char* m : {"harm_before", "harm_after", "harmless_loss"})
        for (const char* f : {"mean", "std", "min", "max", "n"}) s += std::string(",") + m + "_" + f;
    s += "\n";
    for (const auto& r : rows) {
        s += detail::csv_text(r.defence) + "," + detail::csv_number(r.attack_lr) + "," + std::to_string(r.attack_samples) + "," +
             std::to_string(r.attack_epochs) + "," + std::to_string(r.seeds);
        for (const Stat* st : {&r.harm_before, &r.harm_after, &r.harmless_loss}) {
            for (double v : {st->mean, st->std, st->min, st->max}) (s += ',') += detail::csv_number(v);
            (s += ',') += std::to_string(st->n);
        }
        s += "\n";
    }
    return s;
}

/// Rows of cells as fixed-width text: a rule under the first (header) row, the first `text_columns`
/// columns left-aligned (text), the rest right-aligned (numbers); widths count UTF-8 characters.
inline std::string render_table(const std::vector<std::vector<std::string>>& table, std::size_t text_columns) {
    if (table.empty()) return {};
    auto width = [](const std::string& s) {  // display columns: UTF-8 continuation bytes take none
        std::size_t w = 0;
        for (unsigned char c : s) w += (c & 0xC0) != 0x80;
        return w;
    };
    std::vector<std::size_t> w(table[0].size(), 0);
    for (const auto& row : table)
        for (std::size_t c = 0; c < row.size() && c < w.size(); ++c) w[c] = std::max(w[c], width(row[c]));
    std::string out;
    for (std::size_t r = 0; r < table.size(); ++r) {
        for (std::size_t c = 0; c < table[r].size() && c < w.size(); ++c) {
            const std::string pad(w[c] - width(table[r][c]), ' ');
            out += (c ? "  " : "") + (c < text_columns ? table[r][c] + pad : pad + table[r][c]);
        }
        while (!out.empty() && out.back() == ' ') out.pop_back();
        out += "\n";
        if (r == 0) {
            std::size_t total = 0;
            for (auto x : w) total += x + 2;
            out += std::string(total - 2, '-') + "\n";
        }
    }
    return out;
}

/// A fixed-width table for the terminal: mean ± std [min, max] over seeds.
inline std::string format_table(const std::vector<SummaryRow>& rows) {
    auto cell = [](const Stat& s) {
        if (s.n == 0) return std::string("-");
        std::ostringstream os;
        os << std::fixed << std::setprecision(3) << s.mean << " ± " << s.std << " [" << s.min << ", " << s.max << "]";
        return os.str();
    };
    auto lr = [](double v) {
        std::ostringstream os;
        os << std::setprecision(3) << v;
        return os.str();
    };
    std::vector<std::vector<std::string>> table = {
        {"defence", "attack lr", "samples", "epochs", "seeds", "harm before", "harm after", "harmless loss"}};
    for (const auto& r : rows)
        table.push_back({r.defence, lr(r.attack_lr), std::to_string(r.attack_samples), std::to_string(r.attack_epochs),
                         std::to_string(r.seeds), cell(r.harm_before), cell(r.harm_after), cell(r.harmless_loss)});
    return render_table(table, 1);
}

struct ReportFiles {
    std::vector<std::string> written;   // paths
    std::vector<std::string> messages;  // what the plots did (drawn, or why not)
    std::string table;                  // the terminal table
};

namespace detail {
/// harm after the attack against attack lr, one line per (defence, samples, epochs), error bars = std.
inline io::PlotResult plot_harm(const std::filesystem::path& dir, const std::vector<SummaryRow>& rows) {
    std::set<std::pair<std::int64_t, std::int64_t>> settings;
    for (const auto& r : rows) settings.insert({r.attack_samples, r.attack_epochs});
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
    const std::string body = "set title 'Harmfulness after the harmful fine-tuning attack (mean ± std over seeds)'\n"
                             "set xlabel 'attack learning rate'\nset ylabel 'harmfulness'\nset logscale x\nset grid\n"
                             "set key outside right\n" + plot + "\n";
    return io::run_gnuplot(dir, "harm_after_attack", body, {{"harm_after_attack.dat", data}});
}

/// probe accuracy against layer, one line per defence (mean ± std over seeds).
inline io::PlotResult plot_probes(const std::filesystem::path& dir, const std::vector<ProbeRecord>& probes) {
    std::vector<std::string> defences;
    for (const auto& p : probes)
        if (std::find(defences.begin(), defences.end(), p.defence) == defences.end()) defences.push_back(p.defence);
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
    const std::string body = "set title 'Held-out probe accuracy per layer (harmful vs harmless)'\n"
                             "set xlabel 'layer (output of block)'\nset ylabel 'accuracy'\nset yrange [0.4:1.02]\nset grid\n"
                             "set key outside right\n" + plot + "\n";
    return io::run_gnuplot(dir, "probe_accuracy", body, {{"probe_accuracy.dat", data}});
}
}  // namespace detail

struct ReportOptions {
    bool plots = true;  // draw with gnuplot (when found)
};

/// Writes every file of the report into `dir` (created if needed); returns what was written.
inline ReportFiles write_report(const std::filesystem::path& dir, const Report& r, const ReportOptions& opt = {}) {
    std::filesystem::create_directories(dir);
    ReportFiles out;
    auto put = [&](const std::string& name, const std::string& content) {
        io::write_atomically(dir / name, content);
        out.written.push_back((dir / name).string());
    };
    const auto rows = summarize(r);
    out.table = format_table(rows);
    put("report.json", to_json(r).dump(2) + "\n");
    put("records.csv", records_csv(r));
    put("summary.csv", summary_csv(rows));
    put("summary.txt", out.table);
    if (!opt.plots) return out;
    if (io::find_gnuplot().empty()) {
        out.messages.push_back("gnuplot not found on PATH: plots skipped");
        return out;
    }
    std::vector<io::PlotResult> plots;
    if (!rows.empty()) plots.push_back(detail::plot_harm(dir, rows));
    if (!r.probes.empty()) plots.push_back(detail::plot_probes(dir, r.probes));
    for (auto& p : plots) {
        out.messages.push_back(p.message);
        out.written.insert(out.written.end(), p.files.begin(), p.files.end());
    }
    return out;
}

}  // namespace ward::eval
