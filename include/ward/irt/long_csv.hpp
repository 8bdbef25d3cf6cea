#pragma once
// Readers for the two plain table shapes:
//   long:  one row per score, columns model, benchmark, score [, release_date] [, compute] [, family] [, trials]
//   wide:  one row per model, one column per benchmark (the ObsScaling layout)
// and a join that attaches per-model metadata (release date, compute, family) from a second CSV.
// Malformed cells throw parse_error naming file:line:column; empty cells are skipped and counted.

#include <ward/irt/csv.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/date.hpp>

#include <string>
#include <unordered_map>
#include <vector>

namespace ward::irt {

struct LongCsvOptions {
    std::string model_column = "model";
    std::string benchmark_column = "benchmark";
    std::string score_column = "score";
    std::string date_column = "release_date";   // optional; "date" is accepted too
    std::string compute_column = "compute";      // optional; "training_compute" and "flops" accepted too
    std::string family_column = "family";        // optional
    std::string trials_column = "trials";        // optional (binomial loss)
    bool percent_scores = false;                 // scores are percentages: strip '%' and divide by 100
    BuildOptions build{};
};

namespace detail {
inline long first_column(const CsvTable& t, std::initializer_list<std::string_view> names) {
    for (auto n : names)
        if (const long j = t.find_column(n); j >= 0) return j;
    return -1;
}

/// Sets a per-model value once; a second, different value is an error naming the row.
inline void set_once(std::vector<double>& slot, index_t m, double v, const CellLocation& at, const char* what) {
    auto& s = slot[static_cast<std::size_t>(m)];
    if (!std::isnan(s) && std::abs(s - v) > 1e-9 * std::max(1.0, std::abs(v)))
        throw parse_error(at.str() + ": conflicting " + what + " for the same model");
    s = v;
}
}  // namespace detail

/// Reads a long CSV of scores. Required columns: model, benchmark, score (names in `opt`).
inline Dataset read_long_csv(const std::string& path, const LongCsvOptions& opt = {}) {
    const CsvTable t = read_csv(path);
    const auto cm = t.column(opt.model_column), cb = t.column(opt.benchmark_column), cs = t.column(opt.score_column);
    const long cd = detail::first_column(t, {opt.date_column, "date"});
    const long cc = detail::first_column(t, {opt.compute_column, "training_compute", "flops"});
    const long cf = t.find_column(opt.family_column);
    const long ct = t.find_column(opt.trials_column);

    DatasetBuilder builder(opt.build);
    // Per-model metadata by builder id (dense, first-seen order); build() may renumber, so join by name.
    std::vector<double> release, compute;
    for (index_t r = 0; r < t.size(); ++r) {
        const std::string model(trim(t.cell(r, cm))), bench(trim(t.cell(r, cb)));
        if (model.empty()) throw parse_error(t.where(r, cm).str() + ": empty model name");
        if (bench.empty()) throw parse_error(t.where(r, cb).str() + ": empty benchmark name");
        const auto& sc = t.cell(r, cs);
        if (trim(sc).empty()) { builder.report().add("rows with an empty score (skipped)"); continue; }
        double score = parse_number(sc, t.where(r, cs), opt.percent_scores);
        if (opt.percent_scores) score /= 100.0;
        double trials = 1.0;
        if (ct >= 0 && !trim(t.cell(r, static_cast<std::size_t>(ct))).empty()) {
            trials = parse_number(t.cell(r, static_cast<std::size_t>(ct)), t.where(r, static_cast<std::size_t>(ct)));
            if (!(trials > 0)) throw parse_error(t.where(r, static_cast<std::size_t>(ct)).str() + ": trials must be positive");
        }
        builder.add(model, bench, score, trials);
        const auto m = builder.model_id(model);
        if (static_cast<std::size_t>(m) >= release.size()) {
            release.resize(static_cast<std::size_t>(m) + 1, no_value);
            compute.resize(static_cast<std::size_t>(m) + 1, no_value);
        }
        if (cd >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cd))).empty()) {
            const auto& cell = t.cell(r, static_cast<std::size_t>(cd));
            Date d;
            if (!try_parse_date(cell, d))
                throw parse_error(t.where(r, static_cast<std::size_t>(cd)).str() +
                                  ": expected a date (YYYY-MM-DD), found '" + cell + "'");
            detail::set_once(release, m, decimal_year(d), t.where(r, static_cast<std::size_t>(cd)), "release dates");
        }
        if (cc >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cc))).empty()) {
            const auto at = t.where(r, static_cast<std::size_t>(cc));
            const double f = parse_number(t.cell(r, static_cast<std::size_t>(cc)), at);
            if (!(f > 0)) throw parse_error(at.str() + ": training compute must be positive");
            detail::set_once(compute, m, f, at, "training compute");
        }
        if (cf >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cf))).empty())
            builder.set_family(model, std::string(trim(t.cell(r, static_cast<std::size_t>(cf)))));
    }
    Dataset d = builder.build();
    for (index_t m = 0; m < d.num_models(); ++m) {
        const auto id = static_cast<std::size_t>(builder.model_id(d.models[static_cast<std::size_t>(m)]));
        d.release[static_cast<std::size_t>(m)] = release[id];
        d.compute[static_cast<std::size_t>(m)] = compute[id];
    }
    return d;
}

struct WideCsvOptions {
    std::string model_column = "Model";
    std::vector<std::string> benchmark_columns;  // required: which columns hold scores
    std::string family_column;                   // optional
    std::string compute_column;                  // optional
    double compute_scale = 1.0;                  // e.g. 1e21 for ObsScaling's "FLOPs (1E21)"
    bool percent_scores = false;
    BuildOptions build{};
};

/// Reads a wide table (one row per model). Empty score cells are counted, malformed ones throw.
inline Dataset read_wide_csv(const std::string& path, const WideCsvOptions& opt) {
    if (opt.benchmark_columns.empty()) throw value_error("read_wide_csv: no benchmark columns given for " + path);
    const CsvTable t = read_csv(path);
    const auto cm = t.column(opt.model_column);
    std::vector<std::size_t> cols;
    for (const auto& b : opt.benchmark_columns) {
        cols.push_back(t.column(b));
        if (trim(b).empty())  // the column's name becomes the benchmark's
            throw parse_error(path + ":1:" + std::to_string(cols.back() + 1) + ": a benchmark column without a name");
    }
    const long cf = opt.family_column.empty() ? -1 : static_cast<long>(t.column(opt.family_column));
    const long cc = opt.compute_column.empty() ? -1 : static_cast<long>(t.column(opt.compute_column));

    DatasetBuilder builder(opt.build);
    std::unordered_map<std::string, double> compute;
    for (index_t r = 0; r < t.size(); ++r) {
        const std::string model(trim(t.cell(r, cm)));
        if (model.empty()) throw parse_error(t.where(r, cm).str() + ": empty model name");
        for (std::size_t k = 0; k < cols.size(); ++k) {
            const auto& cell = t.cell(r, cols[k]);
            if (trim(cell).empty()) { builder.report().add("empty score cells (skipped)"); continue; }
            double s = parse_number(cell, t.where(r, cols[k]), opt.percent_scores);
            builder.add(model, opt.benchmark_columns[k], opt.percent_scores ? s / 100.0 : s);
        }
        if (cf >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cf))).empty())
            builder.set_family(model, std::string(trim(t.cell(r, static_cast<std::size_t>(cf)))));
        if (cc >= 0) {
            const auto& cell = t.cell(r, static_cast<std::size_t>(cc));
            if (trim(cell).empty()) { builder.report().add("models without training compute"); continue; }
            const double f = parse_number(cell, t.where(r, static_cast<std::size_t>(cc))) * opt.compute_scale;
            if (!(f > 0)) throw parse_error(t.where(r, static_cast<std::size_t>(cc)).str() + ": compute must be positive");
            compute[model] = f;
        }
    }
    Dataset d = builder.build();
    for (index_t m = 0; m < d.num_models(); ++m)
        if (auto it = compute.find(d.models[static_cast<std::size_t>(m)]); it != compute.end())
            d.compute[static_cast<std::size_t>(m)] = it->second;
    return d;
}

enum class UnknownModel { error, skip_and_count };

struct MetadataJoinOptions {
    std::string model_column = "model";
    std::string date_column = "release_date";  // each optional: joined when the column exists
    std::string compute_column = "compute";
    std::string family_column = "family";
    UnknownModel unknown = UnknownModel::error;  // a metadata row naming a model the scores do not have
};

/// Attaches release dates, compute and families from a metadata CSV to the dataset's models.
inline void join_model_metadata(Dataset& d, const std::string& path, const MetadataJoinOptions& opt = {}) {
    const CsvTable t = read_csv(path);
    const auto cm = t.column(opt.model_column);
    const long cd = detail::first_column(t, {opt.date_column, "date"});
    const long cc = detail::first_column(t, {opt.compute_column, "training_compute", "flops"});
    const long cf = t.find_column(opt.family_column);
    if (cd < 0 && cc < 0 && cf < 0)
        throw parse_error(path + ":1: no metadata column ('" + opt.date_column + "', '" + opt.compute_column +
                          "' or '" + opt.family_column + "')");
    std::unordered_map<std::string, index_t> index;
    for (index_t m = 0; m < d.num_models(); ++m) index.emplace(d.models[static_cast<std::size_t>(m)], m);
    for (index_t r = 0; r < t.size(); ++r) {
        const std::string model(trim(t.cell(r, cm)));
        const auto it = index.find(model);
        if (it == index.end()) {
            if (opt.unknown == UnknownModel::error)
                throw parse_error(t.where(r, cm).str() + ": unknown model '" + model + "' (it has no scores)");
            d.report.add("metadata rows for unknown models (skipped): " + path);
            continue;
        }
        const auto m = static_cast<std::size_t>(it->second);
        if (cd >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cd))).empty()) {
            Date date;
            if (!try_parse_date(t.cell(r, static_cast<std::size_t>(cd)), date))
                throw parse_error(t.where(r, static_cast<std::size_t>(cd)).str() + ": expected a date (YYYY-MM-DD), found '" +
                                  t.cell(r, static_cast<std::size_t>(cd)) + "'");
            d.release[m] = decimal_year(date);
        }
        if (cc >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cc))).empty()) {
            const double f = parse_number(t.cell(r, static_cast<std::size_t>(cc)), t.where(r, static_cast<std::size_t>(cc)));
            if (!(f > 0)) throw parse_error(t.where(r, static_cast<std::size_t>(cc)).str() + ": compute must be positive");
            d.compute[m] = f;
        }
        if (cf >= 0 && !trim(t.cell(r, static_cast<std::size_t>(cf))).empty())
            d.family[m] = std::string(trim(t.cell(r, static_cast<std::size_t>(cf))));
    }
}

}  // namespace ward::irt
