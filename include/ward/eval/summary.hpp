#pragma once
// Summaries of a report over seeds: the fixed grid's rows (one per defence and grid point) and each
// defence's worst case over every attack tried, with the attack that achieved it. Statistics are mean,
// sample standard deviation and range over seeds, skipping what was not measured.

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

namespace ward::eval {

/// The held-out harm sets a record carries besides the main one: metrics harm_<name>_after, by name.
inline std::map<std::string, double> held_out_harm(const AttackRecord& a) {
    std::map<std::string, double> out;
    const std::string pre = "harm_", post = "_after";
    for (const auto& [k, v] : a.metrics)
        if (k.size() > pre.size() + post.size() && k.compare(0, pre.size(), pre) == 0 &&
            k.compare(k.size() - post.size(), post.size(), post) == 0)
            out[k.substr(pre.size(), k.size() - pre.size() - post.size())] = v;
    return out;
}

namespace detail {
/// Statistics of each named value over a group of maps (a name missing from a map is not measured there).
inline std::map<std::string, Stat> stats_by_name(const std::vector<std::map<std::string, double>>& maps) {
    std::map<std::string, std::vector<double>> values;
    for (const auto& m : maps)
        for (const auto& [k, v] : m) values[k];
    for (const auto& m : maps)
        for (auto& [k, vs] : values) vs.push_back(m.count(k) ? m.at(k) : not_measured);
    std::map<std::string, Stat> out;
    for (const auto& [k, vs] : values) out[k] = stat_of(vs);
    return out;
}
/// The names of every map's keys, in order.
template <class Row>
std::set<std::string> held_out_names(const std::vector<Row>& rows) {
    std::set<std::string> names;
    for (const auto& r : rows)
        for (const auto& [k, v] : r.held_out) names.insert(k);
    return names;
}
inline std::string stat_cell(const Stat& s) {
    if (s.n == 0) return "-";
    std::ostringstream os;
    os << std::fixed << std::setprecision(3) << s.mean << " ± " << s.std << " [" << s.min << ", " << s.max << "]";
    return os.str();
}
/// The Stat columns of a summary CSV: `metrics` in order (then one per held-out set, named by
/// `held_out_prefix` + name + `held_out_suffix`), each as _mean, _std, _min, _max, _n.
inline std::string stat_csv_header(std::vector<std::string> metrics, const std::set<std::string>& held_out,
                                   const std::string& held_out_prefix, const std::string& held_out_suffix) {
    for (const auto& n : held_out) metrics.push_back(held_out_prefix + n + held_out_suffix);
    std::string s;
    for (const auto& m : metrics)
        for (const char* f : {"mean", "std", "min", "max", "n"}) s += "," + m + "_" + f;
    return s;
}
/// The Stat cells of one row, in stat_csv_header's order (a held-out set the row lacks is empty).
inline std::string stat_csv_cells(std::vector<Stat> stats, const std::map<std::string, Stat>& row_held_out,
                                  const std::set<std::string>& held_out) {
    for (const auto& n : held_out) stats.push_back(row_held_out.count(n) ? row_held_out.at(n) : Stat{});
    std::string s;
    for (const Stat& st : stats) {
        for (double v : {st.mean, st.std, st.min, st.max}) (s += ',') += csv_number(v);
        (s += ',') += std::to_string(st.n);
    }
    return s;
}
inline std::string short_number(double v) {
    std::ostringstream os;
    os << std::setprecision(3) << v;
    return os.str();
}
}  // namespace detail

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

struct SummaryRow {
    std::string defence;
    double attack_lr = 0;
    std::int64_t attack_samples = 0, attack_epochs = 0;
    std::size_t seeds = 0;  // records in the group
    Stat harm_before, harm_after, harmless_loss;
    std::map<std::string, Stat> held_out;  // harm after the attack on each further held-out set
};

/// One row per (defence, attack lr, samples, epochs) of the fixed grid (records with attack ==
/// "grid"): defences in the order they first appear, then by lr, samples and epochs.
inline std::vector<SummaryRow> summarize(const Report& r) {
    std::vector<std::string> defences;
    for (const auto& a : r.records)
        if (std::find(defences.begin(), defences.end(), a.defence) == defences.end()) defences.push_back(a.defence);
    using Key = std::tuple<std::size_t, double, std::int64_t, std::int64_t>;
    std::map<Key, std::vector<const AttackRecord*>> groups;
    for (const auto& a : r.records) {
        if (a.attack != "grid") continue;
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
        std::vector<std::map<std::string, double>> held;
        for (const auto* a : group) {
            before.push_back(a->harm_before);
            after.push_back(a->harm_after);
            loss.push_back(a->harmless_loss);
            held.push_back(held_out_harm(*a));
        }
        row.harm_before = stat_of(before);
        row.harm_after = stat_of(after);
        row.harmless_loss = stat_of(loss);
        row.held_out = detail::stats_by_name(held);
        rows.push_back(std::move(row));
    }
    return rows;
}

inline std::string summary_csv(const std::vector<SummaryRow>& rows) {
    const auto names = detail::held_out_names(rows);
    std::string s = "defence,attack_lr,attack_samples,attack_epochs,seeds" +
                    detail::stat_csv_header({"harm_before", "harm_after", "harmless_loss"}, names, "harm_", "_after") + "\n";
    for (const auto& r : rows) {
        s += detail::csv_text(r.defence) + "," + detail::csv_number(r.attack_lr) + "," + std::to_string(r.attack_samples) + "," +
             std::to_string(r.attack_epochs) + "," + std::to_string(r.seeds);
        s += detail::stat_csv_cells({r.harm_before, r.harm_after, r.harmless_loss}, r.held_out, names) + "\n";
    }
    return s;
}

/// The fixed grid's table for the terminal: mean ± std [min, max] over seeds.
inline std::string format_table(const std::vector<SummaryRow>& rows) {
    const auto names = detail::held_out_names(rows);
    std::vector<std::string> header = {"defence", "attack lr", "samples", "epochs", "seeds", "harm before", "harm after"};
    for (const auto& n : names) header.push_back("harm after (" + n + ")");
    header.push_back("harmless loss");
    std::vector<std::vector<std::string>> table = {header};
    for (const auto& r : rows) {
        std::vector<std::string> row = {r.defence, detail::short_number(r.attack_lr), std::to_string(r.attack_samples),
                                        std::to_string(r.attack_epochs), std::to_string(r.seeds), detail::stat_cell(r.harm_before),
                                        detail::stat_cell(r.harm_after)};
        for (const auto& n : names) row.push_back(detail::stat_cell(r.held_out.count(n) ? r.held_out.at(n) : Stat{}));
        row.push_back(detail::stat_cell(r.harmless_loss));
        table.push_back(std::move(row));
    }
    return render_table(table, 1);
}

/// One defence's worst case on one seed, over every attack tried (grid and search).
struct WorstCase {
    std::string defence;
    std::uint64_t seed = 0;
    double harm_before = not_measured, harm = not_measured, harmless_loss = not_measured;
    std::map<std::string, double> held_out;  // the largest harm on each further held-out set, over the attacks
    std::string attack;                      // the configuration that reached `harm` (the first, in record order)
    std::size_t attacks = 0;                 // configurations tried
    double examples = 0;                     // harmful examples the attacks processed (samples x epochs): the budget spent
};

/// The worst cases, per (defence, seed): defences in the order they first appear, then by seed.
inline std::vector<WorstCase> worst_cases(const Report& r) {
    std::vector<WorstCase> out;
    for (const auto& a : r.records) {
        auto it = std::find_if(out.begin(), out.end(), [&](const WorstCase& w) { return w.defence == a.defence && w.seed == a.seed; });
        if (it == out.end()) {
            out.push_back({a.defence, a.seed, a.harm_before, not_measured, a.harmless_loss, {}, "", 0, 0});
            it = out.end() - 1;
        }
        ++it->attacks;
        it->examples += double(a.attack_samples) * double(a.attack_epochs);
        if (!std::isnan(a.harm_after) && (std::isnan(it->harm) || a.harm_after > it->harm)) {
            it->harm = a.harm_after;
            it->attack = describe_attack(a);
        }
        for (const auto& [name, v] : held_out_harm(a)) {
            auto h = it->held_out.find(name);
            if (h == it->held_out.end()) it->held_out[name] = v;
            else if (!std::isnan(v) && (std::isnan(h->second) || v > h->second)) h->second = v;
        }
    }
    std::vector<std::string> order;  // defences as they first appear
    for (const auto& w : out)
        if (std::find(order.begin(), order.end(), w.defence) == order.end()) order.push_back(w.defence);
    auto rank = [&](const WorstCase& w) { return std::make_pair(std::find(order.begin(), order.end(), w.defence) - order.begin(), w.seed); };
    std::stable_sort(out.begin(), out.end(), [&](const WorstCase& x, const WorstCase& y) { return rank(x) < rank(y); });
    return out;
}

struct WorstCaseRow {
    std::string defence;
    std::size_t seeds = 0;
    Stat harm_before, harm, harmless_loss;
    std::map<std::string, Stat> held_out;
    std::string attack;             // the configuration behind the largest worst case over seeds
    double attacks = 0, examples = 0;  // per seed, on average
};

/// One row per defence, over seeds.
inline std::vector<WorstCaseRow> summarize_worst_cases(const std::vector<WorstCase>& cases) {
    std::vector<WorstCaseRow> rows;
    for (const auto& c : cases) {
        if (rows.empty() || rows.back().defence != c.defence) rows.push_back({c.defence, 0, {}, {}, {}, {}, "", 0, 0});
        ++rows.back().seeds;
    }
    for (auto& row : rows) {
        std::vector<double> before, harm, loss;
        std::vector<std::map<std::string, double>> held;
        double top = not_measured;
        for (const auto& c : cases) {
            if (c.defence != row.defence) continue;
            before.push_back(c.harm_before);
            harm.push_back(c.harm);
            loss.push_back(c.harmless_loss);
            held.push_back(c.held_out);
            row.attacks += double(c.attacks) / double(row.seeds);
            row.examples += c.examples / double(row.seeds);
            if (!std::isnan(c.harm) && (std::isnan(top) || c.harm > top)) {
                top = c.harm;
                row.attack = c.attack;
            }
        }
        row.harm_before = stat_of(before);
        row.harm = stat_of(harm);
        row.harmless_loss = stat_of(loss);
        row.held_out = detail::stats_by_name(held);
    }
    return rows;
}

inline std::string worst_case_csv(const std::vector<WorstCaseRow>& rows) {
    const auto names = detail::held_out_names(rows);
    std::string s = "defence,seeds,attacks,examples,worst_attack" +
                    detail::stat_csv_header({"harm_before", "worst_harm", "harmless_loss"}, names, "worst_harm_", "") + "\n";
    for (const auto& r : rows) {
        s += detail::csv_text(r.defence) + "," + std::to_string(r.seeds) + "," + detail::csv_number(r.attacks) + "," +
             detail::csv_number(r.examples) + "," + detail::csv_text(r.attack);
        s += detail::stat_csv_cells({r.harm_before, r.harm, r.harmless_loss}, r.held_out, names) + "\n";
    }
    return s;
}

/// The worst-case table for the terminal: mean ± std [min, max] over seeds.
inline std::string format_worst_case_table(const std::vector<WorstCaseRow>& rows) {
    const auto names = detail::held_out_names(rows);
    std::vector<std::string> header = {"defence", "seeds", "attacks", "harm before", "worst-case harm"};
    for (const auto& n : names) header.push_back("worst case (" + n + ")");
    header.insert(header.end(), {"harmless loss", "worst attack"});
    std::vector<std::vector<std::string>> table = {header};
    for (const auto& r : rows) {
        std::vector<std::string> row = {r.defence, std::to_string(r.seeds), detail::short_number(r.attacks),
                                        detail::stat_cell(r.harm_before), detail::stat_cell(r.harm)};
        for (const auto& n : names) row.push_back(detail::stat_cell(r.held_out.count(n) ? r.held_out.at(n) : Stat{}));
        row.push_back(detail::stat_cell(r.harmless_loss));
        row.push_back(r.attack);
        table.push_back(std::move(row));
    }
    return render_table(table, 1);
}

/// The worst_case section of report.json: per defence, its statistics and each seed's case.
inline nlohmann::json worst_case_json(const std::vector<WorstCase>& cases) {
    auto stat = [](const Stat& s) {
        return nlohmann::json{{"mean", detail::number_or_null(s.mean)}, {"std", detail::number_or_null(s.std)},
                              {"min", detail::number_or_null(s.min)}, {"max", detail::number_or_null(s.max)}, {"n", s.n}};
    };
    nlohmann::json out = nlohmann::json::array();
    for (const auto& row : summarize_worst_cases(cases)) {
        nlohmann::json seeds = nlohmann::json::array(), held = nlohmann::json::object();
        for (const auto& c : cases) {
            if (c.defence != row.defence) continue;
            nlohmann::json h = nlohmann::json::object();
            for (const auto& [k, v] : c.held_out) h[k] = detail::number_or_null(v);
            seeds.push_back({{"seed", c.seed}, {"harm", detail::number_or_null(c.harm)}, {"attack", c.attack}, {"held_out", h},
                             {"attacks", c.attacks}, {"examples", c.examples}});
        }
        for (const auto& [k, s] : row.held_out) held[k] = stat(s);
        out.push_back({{"defence", row.defence}, {"harm", stat(row.harm)}, {"held_out", held}, {"harm_before", stat(row.harm_before)},
                       {"harmless_loss", stat(row.harmless_loss)}, {"worst_attack", row.attack}, {"attacks_per_seed", row.attacks},
                       {"examples_per_seed", row.examples}, {"seeds", seeds}});
    }
    return out;
}

}  // namespace ward::eval
