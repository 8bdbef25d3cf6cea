#pragma once
// The table every fit reads: observations (model, benchmark, score), the names behind the indices, and
// per-model metadata (release date, training compute, family). Built by DatasetBuilder, which applies the
// paper's clean-up (clip scores, keep the maximum of duplicate pairs) and counts everything it changes or
// drops in a LoadReport, so that nothing disappears silently.

#include <ward/core/config.hpp>
#include <ward/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ward::irt {

/// Marks an unknown per-model value (release date, compute): a quiet NaN, tested with std::isnan.
inline constexpr double no_value = std::numeric_limits<double>::quiet_NaN();

/// One score: model m on benchmark (or item) b. `trials` is the number of attempts behind the score for
/// the binomial loss (1 for a plain fraction or a 0/1 item result).
struct Observation {
    std::int32_t model = 0;
    std::int32_t benchmark = 0;
    double score = 0.0;
    double trials = 1.0;
};

/// Counts of what a reader or filter did, by reason, in the order the reasons first occurred.
struct LoadReport {
    std::vector<std::pair<std::string, index_t>> counts;

    void add(const std::string& reason, index_t n = 1) {
        if (n == 0) return;
        for (auto& [r, c] : counts)
            if (r == reason) { c += n; return; }
        counts.emplace_back(reason, n);
    }
    index_t get(const std::string& reason) const {
        for (const auto& [r, c] : counts)
            if (r == reason) return c;
        return 0;
    }
    void merge(const LoadReport& other) {
        for (const auto& [r, c] : other.counts) add(r, c);
    }
    std::string str() const {
        std::ostringstream os;
        for (const auto& [r, c] : counts) os << "  " << c << "  " << r << "\n";
        return os.str();
    }
};

struct Dataset {
    std::vector<std::string> models;
    std::vector<std::string> benchmarks;
    std::vector<Observation> obs;           // sorted by (model, benchmark)
    std::vector<index_t> model_begin;       // observations of model m: [model_begin[m], model_begin[m+1])
    std::vector<double> release;            // decimal year per model, NaN when unknown
    std::vector<double> compute;            // training FLOPs per model, NaN when unknown
    std::vector<std::string> family;        // per model, empty when unknown
    LoadReport report;

    index_t num_models() const { return static_cast<index_t>(models.size()); }
    index_t num_benchmarks() const { return static_cast<index_t>(benchmarks.size()); }
    index_t num_obs() const { return static_cast<index_t>(obs.size()); }

    index_t model_index(const std::string& name) const { return find(models, name); }
    index_t benchmark_index(const std::string& name) const { return find(benchmarks, name); }

    /// Number of observations per benchmark.
    std::vector<index_t> benchmark_counts() const {
        std::vector<index_t> n(benchmarks.size(), 0);
        for (const auto& o : obs) ++n[static_cast<std::size_t>(o.benchmark)];
        return n;
    }

    /// Checks the invariants the solver relies on; throws value_error when one fails.
    void validate() const {
        const auto M = num_models(), B = num_benchmarks();
        if (static_cast<index_t>(model_begin.size()) != M + 1 || release.size() != models.size() ||
            compute.size() != models.size() || family.size() != models.size())
            throw value_error("irt::Dataset: per-model arrays do not match the number of models");
        for (index_t m = 0; m < M; ++m)
            for (index_t i = model_begin[m]; i < model_begin[m + 1]; ++i) {
                const auto& o = obs[static_cast<std::size_t>(i)];
                if (o.model != m || o.benchmark < 0 || o.benchmark >= B || !std::isfinite(o.score) ||
                    !(o.trials > 0))
                    throw value_error("irt::Dataset: observation " + std::to_string(i) + " is invalid");
            }
    }

private:
    static index_t find(const std::vector<std::string>& v, const std::string& name) {
        const auto it = std::find(v.begin(), v.end(), name);
        return it == v.end() ? -1 : static_cast<index_t>(it - v.begin());
    }
};

struct BuildOptions {
    bool clip = true;            // clip scores into [clip_low, clip_high] (off for 0/1 item data)
    double clip_low = 0.001;
    double clip_high = 0.999;
    bool keep_max_duplicate = true;  // duplicate (model, benchmark): keep the maximum; else sum as trials
};

/// Collects raw rows by name and turns them into a Dataset.
class DatasetBuilder {
public:
    explicit DatasetBuilder(BuildOptions opt = {}) : opt_(opt) {}

    index_t model_id(const std::string& name) { return intern(name, models_, model_ids_, true); }
    index_t benchmark_id(const std::string& name) { return intern(name, benchmarks_, benchmark_ids_, false); }

    void add(const std::string& model, const std::string& benchmark, double score, double trials = 1.0) {
        if (!std::isfinite(score)) throw value_error("irt: score for (" + model + ", " + benchmark + ") is not finite");
        if (!(trials > 0)) throw value_error("irt: trials for (" + model + ", " + benchmark + ") must be positive");
        const auto m = model_id(model), b = benchmark_id(benchmark);
        rows_.push_back({static_cast<std::int32_t>(m), static_cast<std::int32_t>(b), score, trials});
    }
    void set_release(const std::string& model, double year) { release_[static_cast<std::size_t>(model_id(model))] = year; }
    void set_compute(const std::string& model, double flops) { compute_[static_cast<std::size_t>(model_id(model))] = flops; }
    void set_family(const std::string& model, std::string f) { family_[static_cast<std::size_t>(model_id(model))] = std::move(f); }
    LoadReport& report() { return report_; }

    Dataset build() {
        Dataset d;
        d.report = report_;
        index_t clipped = 0, out_of_range = 0;
        for (auto& r : rows_) {
            if (r.score < 0.0 || r.score > 1.0) ++out_of_range;
            if (opt_.clip && (r.score < opt_.clip_low || r.score > opt_.clip_high)) {
                r.score = std::clamp(r.score, opt_.clip_low, opt_.clip_high);
                ++clipped;
            }
        }
        d.report.add("scores outside [0, 1]", out_of_range);
        d.report.add("scores clipped into [" + num(opt_.clip_low) + ", " + num(opt_.clip_high) + "]", clipped);

        std::sort(rows_.begin(), rows_.end(), [](const Observation& a, const Observation& b) {
            return a.model != b.model ? a.model < b.model : a.benchmark < b.benchmark;
        });
        index_t merged = 0;
        for (const auto& r : rows_) {
            if (!d.obs.empty() && d.obs.back().model == r.model && d.obs.back().benchmark == r.benchmark) {
                auto& prev = d.obs.back();
                if (opt_.keep_max_duplicate) {
                    prev.score = std::max(prev.score, r.score);
                } else {  // pool attempts: the score becomes the pooled success rate
                    prev.score = (prev.score * prev.trials + r.score * r.trials) / (prev.trials + r.trials);
                    prev.trials += r.trials;
                }
                ++merged;
                continue;
            }
            d.obs.push_back(r);
        }
        d.report.add(opt_.keep_max_duplicate ? "duplicate (model, benchmark) rows merged (kept maximum)"
                                             : "duplicate (model, benchmark) rows pooled",
                     merged);
        d.models = models_;
        d.benchmarks = benchmarks_;
        d.release = release_;
        d.compute = compute_;
        d.family = family_;
        finalize(d);
        return d;
    }

    /// Renumbers models and benchmarks that still have observations, and rebuilds model_begin.
    /// Models without observations are removed (counted as "models without any score" when asked).
    static void finalize(Dataset& d, bool count_unscored = true) {
        std::vector<index_t> mmap(d.models.size(), -1), bmap(d.benchmarks.size(), -1);
        for (const auto& o : d.obs) {
            mmap[static_cast<std::size_t>(o.model)] = 0;
            bmap[static_cast<std::size_t>(o.benchmark)] = 0;
        }
        Dataset out;
        for (std::size_t m = 0; m < d.models.size(); ++m) {
            if (mmap[m] < 0) continue;
            mmap[m] = static_cast<index_t>(out.models.size());
            out.models.push_back(d.models[m]);
            out.release.push_back(d.release[m]);
            out.compute.push_back(d.compute[m]);
            out.family.push_back(d.family[m]);
        }
        for (std::size_t b = 0; b < d.benchmarks.size(); ++b) {
            if (bmap[b] < 0) continue;
            bmap[b] = static_cast<index_t>(out.benchmarks.size());
            out.benchmarks.push_back(d.benchmarks[b]);
        }
        if (count_unscored)
            d.report.add("models without any score", static_cast<index_t>(d.models.size() - out.models.size()));
        for (auto& o : d.obs) {
            o.model = static_cast<std::int32_t>(mmap[static_cast<std::size_t>(o.model)]);
            o.benchmark = static_cast<std::int32_t>(bmap[static_cast<std::size_t>(o.benchmark)]);
        }
        std::stable_sort(d.obs.begin(), d.obs.end(), [](const Observation& a, const Observation& b) {
            return a.model != b.model ? a.model < b.model : a.benchmark < b.benchmark;
        });
        out.model_begin.assign(out.models.size() + 1, 0);
        for (const auto& o : d.obs) ++out.model_begin[static_cast<std::size_t>(o.model) + 1];
        for (std::size_t m = 0; m < out.models.size(); ++m) out.model_begin[m + 1] += out.model_begin[m];
        d.models = std::move(out.models);
        d.benchmarks = std::move(out.benchmarks);
        d.release = std::move(out.release);
        d.compute = std::move(out.compute);
        d.family = std::move(out.family);
        d.model_begin = std::move(out.model_begin);
    }

private:
    index_t intern(const std::string& name, std::vector<std::string>& names,
                   std::unordered_map<std::string, index_t>& ids, bool is_model) {
        if (name.empty()) throw value_error(std::string("irt: empty ") + (is_model ? "model" : "benchmark") + " name");
        const auto [it, inserted] = ids.try_emplace(name, static_cast<index_t>(names.size()));
        if (inserted) {
            names.push_back(name);
            if (is_model) {
                release_.push_back(no_value);
                compute_.push_back(no_value);
                family_.emplace_back();
            }
        }
        return it->second;
    }
    static std::string num(double v) {
        std::ostringstream os;
        os << v;
        return os.str();
    }

    BuildOptions opt_;
    std::vector<std::string> models_, benchmarks_;
    std::unordered_map<std::string, index_t> model_ids_, benchmark_ids_;
    std::vector<double> release_, compute_;
    std::vector<std::string> family_;
    std::vector<Observation> rows_;
    LoadReport report_;
};

/// Keeps the models for which keep(m) is true; dropped rows and models are counted under `reason`.
inline void filter_models(Dataset& d, const std::function<bool(index_t)>& keep, const std::string& reason) {
    std::vector<Observation> kept;
    kept.reserve(d.obs.size());
    index_t dropped_models = 0;
    for (index_t m = 0; m < d.num_models(); ++m) {
        const bool k = keep(m);
        dropped_models += !k;
        for (index_t i = d.model_begin[m]; i < d.model_begin[m + 1]; ++i)
            if (k) kept.push_back(d.obs[static_cast<std::size_t>(i)]);
    }
    d.report.add("rows dropped: " + reason, d.num_obs() - static_cast<index_t>(kept.size()));
    d.report.add("models dropped: " + reason, dropped_models);
    d.obs = std::move(kept);
    DatasetBuilder::finalize(d, /*count_unscored=*/false);  // already counted under `reason`
}

/// The paper's filter: keep models scored on more than `min_exclusive` distinct benchmarks.
inline void filter_min_benchmarks(Dataset& d, index_t min_exclusive) {
    filter_models(d, [&](index_t m) { return d.model_begin[m + 1] - d.model_begin[m] > min_exclusive; },
                  "model has " + std::to_string(min_exclusive) + " or fewer benchmarks");
}

/// Keeps models released on or after `year` (decimal); models without a date are dropped too.
inline void filter_released_since(Dataset& d, double year, const std::string& label) {
    filter_models(d, [&](index_t m) { return !std::isnan(d.release[static_cast<std::size_t>(m)]); },
                  "no release date");
    filter_models(d, [&](index_t m) { return d.release[static_cast<std::size_t>(m)] >= year; },
                  "released before " + label);
}

}  // namespace ward::irt
