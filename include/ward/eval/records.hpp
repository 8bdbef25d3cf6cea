#pragma once
// The defence x attack records: one per (defence, attack configuration, seed) with harmfulness
// before and after the attack, the loss after harmless fine-tuning and the attack's
// hyper-parameters, plus per-(defence, seed) probe accuracies per layer; their JSON form (NaN, "not
// measured", as null), a CSV of them, and the statistics the summaries are made of.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
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

namespace ward::eval {

inline constexpr double not_measured = std::numeric_limits<double>::quiet_NaN();

struct AttackRecord {
    std::string defence;
    double attack_lr = 0;
    std::int64_t attack_samples = 0, attack_epochs = 0;
    std::uint64_t seed = 0;
    double harm_before = not_measured, harm_after = not_measured;
    double harmless_loss = not_measured;  // after harmless fine-tuning
    std::map<std::string, double> metrics = {};  // anything else; held-out harm sets as harm_<name>_after
    std::string attack = "grid";                 // where the configuration came from: "grid" or "search"
    std::int64_t attack_batch = 0, attack_lora_rank = 0, attack_warmup = 0;  // lora rank 0: full fine-tuning
    std::string attack_optimizer = "adamw";
};

/// The attack's configuration in a few words: "lr 3e-04 x2 ep 400 ex b8 adamw lora8 wu10".
inline std::string describe_attack(const AttackRecord& a) {
    char lr[32];
    std::snprintf(lr, sizeof lr, "%.0e", a.attack_lr);
    std::string s = std::string("lr ") + lr + " x" + std::to_string(a.attack_epochs) + " ep " + std::to_string(a.attack_samples) +
                    " ex b" + std::to_string(a.attack_batch) + " " + a.attack_optimizer;
    if (a.attack_lora_rank > 0) s += " lora" + std::to_string(a.attack_lora_rank);
    if (a.attack_warmup > 0) s += " wu" + std::to_string(a.attack_warmup);
    return s;
}

struct ProbeRecord {
    std::string defence;
    std::uint64_t seed = 0;
    std::vector<double> accuracy;        // held-out, per layer
    std::vector<double> train_accuracy;  // may be empty
    double chance = 0.5;                 // the held-out accuracy of always guessing the larger class
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
        records.push_back({{"defence", a.defence}, {"attack", a.attack}, {"attack_lr", a.attack_lr}, {"attack_samples", a.attack_samples},
                           {"attack_epochs", a.attack_epochs}, {"attack_batch", a.attack_batch},
                           {"attack_optimizer", a.attack_optimizer}, {"attack_lora_rank", a.attack_lora_rank},
                           {"attack_warmup", a.attack_warmup}, {"seed", a.seed},
                           {"harm_before", detail::number_or_null(a.harm_before)},
                           {"harm_after", detail::number_or_null(a.harm_after)},
                           {"harmless_loss", detail::number_or_null(a.harmless_loss)}, {"metrics", m}});
    }
    for (const auto& p : r.probes)
        probes.push_back({{"defence", p.defence}, {"seed", p.seed}, {"accuracy", detail::numbers_json(p.accuracy)},
                          {"train_accuracy", detail::numbers_json(p.train_accuracy)}, {"chance", p.chance}});
    return {{"format", "ward.eval.report"}, {"version", 2}, {"metadata", r.metadata}, {"records", records}, {"probes", probes}};
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
            // Version 1 reports knew only the grid's full fine-tuning with AdamW.
            a.attack = e.value("attack", std::string("grid"));
            a.attack_batch = e.value("attack_batch", std::int64_t(0));
            a.attack_optimizer = e.value("attack_optimizer", std::string("adamw"));
            a.attack_lora_rank = e.value("attack_lora_rank", std::int64_t(0));
            a.attack_warmup = e.value("attack_warmup", std::int64_t(0));
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
            p.chance = e.value("chance", 0.5);
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
/// attack, attack_batch, attack_optimizer, attack_lora_rank, attack_warmup, then one column per
/// extra metric (the union over records, sorted).
inline std::string records_csv(const Report& r) {
    std::set<std::string> extra;
    for (const auto& a : r.records)
        for (const auto& [k, v] : a.metrics) extra.insert(k);
    std::string s = "defence,attack_lr,attack_samples,attack_epochs,seed,harm_before,harm_after,harmless_loss,"
                    "attack,attack_batch,attack_optimizer,attack_lora_rank,attack_warmup";
    for (const auto& k : extra) (s += ',') += detail::csv_text(k);  // += : GCC 12 warns falsely on "," + string
    s += "\n";
    for (const auto& a : r.records) {
        s += detail::csv_text(a.defence) + "," + detail::csv_number(a.attack_lr) + "," + std::to_string(a.attack_samples) + "," +
             std::to_string(a.attack_epochs) + "," + std::to_string(a.seed) + "," + detail::csv_number(a.harm_before) + "," +
             detail::csv_number(a.harm_after) + "," + detail::csv_number(a.harmless_loss) + "," + detail::csv_text(a.attack) + "," +
             std::to_string(a.attack_batch) + "," + detail::csv_text(a.attack_optimizer) + "," + std::to_string(a.attack_lora_rank) +
             "," + std::to_string(a.attack_warmup);
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

}  // namespace ward::eval
