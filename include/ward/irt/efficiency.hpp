#pragma once
// Algorithmic efficiency from capabilities and training compute: C = k ln F + b(t).
//   1. k from the within-family regression of C on ln F (family means removed: a family shares its
//      date, data and recipe, so what differs is compute);
//   2. b_m = C_m - k ln F_m, regressed on release date across models: db/dt;
//   3. the compute-equivalent gain per year is exp((db/dt) / k).
// Its interval: the delta method on log gain (treating k and db/dt as independent), and, when asked, a
// cluster bootstrap that redraws whole families (models without a family are clusters of one) and
// redoes steps 1-3, which carries the dependence of b on k. Models without compute or date are
// counted in the report and left out.

#include <ward/irt/bootstrap.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/stats.hpp>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace ward::irt {

struct EfficiencyOptions {
    double level = 0.95;
    int bootstrap = 0;         // cluster-bootstrap replicates (0: delta method only)
    std::uint64_t seed = 0;
};

struct EfficiencyResult {
    double k = 0, k_se = 0;              // capability per e-fold of compute
    double db_dt = 0, db_dt_se = 0;      // capability per year at fixed compute
    double gain_per_year = 0, gain_low = 0, gain_high = 0;          // delta-method interval
    double gain_boot_low = no_value, gain_boot_high = no_value;     // cluster-bootstrap interval
    int bootstrap_failed = 0;            // replicates without two families to estimate k (skipped, counted)
    index_t models_in_families = 0, families = 0, models_in_trend = 0;
    LoadReport report;
};

namespace detail {

struct EfficiencyPoint {
    double k, k_se, db_dt, db_dt_se;
    index_t families, models_in_families, models_in_trend;
};

/// Steps 1-2 with cluster c counted draws[c] times.
inline EfficiencyPoint efficiency_point(const Dataset& d, const std::vector<double>& cap,
                                        const std::vector<std::vector<index_t>>& clusters, const std::vector<int>& draws) {
    EfficiencyPoint p{};
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t c = 0; c < clusters.size(); ++c) {
        const auto& ms = clusters[c];
        if (draws[c] == 0 || ms.size() < 2) continue;
        double mx = 0, my = 0;
        for (auto m : ms) { mx += std::log(d.compute[static_cast<std::size_t>(m)]); my += cap[static_cast<std::size_t>(m)]; }
        mx /= static_cast<double>(ms.size());
        my /= static_cast<double>(ms.size());
        for (auto m : ms) {
            const double x = std::log(d.compute[static_cast<std::size_t>(m)]) - mx, y = cap[static_cast<std::size_t>(m)] - my;
            sxy += draws[c] * x * y; sxx += draws[c] * x * x; syy += draws[c] * y * y;
        }
        p.families += draws[c];
        p.models_in_families += draws[c] * static_cast<index_t>(ms.size());
    }
    const double dof_k = static_cast<double>(p.models_in_families - p.families - 1);
    if (p.families == 0 || !(sxx > 0) || dof_k < 1)
        throw value_error("irt::algorithmic_efficiency: need families of two or more models with different compute");
    p.k = sxy / sxx;
    p.k_se = std::sqrt(std::max(0.0, syy - p.k * sxy) / dof_k / sxx);
    std::vector<double> t, b;
    for (std::size_t c = 0; c < clusters.size(); ++c)
        for (int r = 0; r < draws[c]; ++r)
            for (auto m : clusters[c]) {
                const auto i = static_cast<std::size_t>(m);
                if (std::isnan(d.release[i])) continue;
                t.push_back(d.release[i]);
                b.push_back(cap[i] - p.k * std::log(d.compute[i]));
            }
    if (t.size() < 3) throw value_error("irt::algorithmic_efficiency: need release dates for at least 3 models with compute");
    const LineFit line = fit_line(t, b);
    p.db_dt = line.slope;
    p.db_dt_se = line.se_slope;
    p.models_in_trend = line.n;
    return p;
}

}  // namespace detail

inline EfficiencyResult algorithmic_efficiency(const Dataset& d, const std::vector<double>& capability,
                                               const EfficiencyOptions& opt = {}) {
    if (static_cast<index_t>(capability.size()) != d.num_models())
        throw shape_error("irt::algorithmic_efficiency: one capability per model expected");
    EfficiencyResult r;
    std::map<std::string, std::vector<index_t>> by_family;
    std::vector<std::vector<index_t>> clusters;
    for (index_t m = 0; m < d.num_models(); ++m) {
        const auto i = static_cast<std::size_t>(m);
        if (!(d.compute[i] > 0)) { r.report.add("models without training compute"); continue; }
        if (std::isnan(d.release[i])) r.report.add("models with compute but no release date (not used for db/dt)");
        if (d.family[i].empty()) {
            r.report.add("models with compute but no family (not used for k)");
            clusters.push_back({m});
        } else {
            by_family[d.family[i]].push_back(m);
        }
    }
    for (auto& [name, ms] : by_family) {
        if (ms.size() < 2) r.report.add("families with a single model (not used for k)");
        clusters.push_back(std::move(ms));
    }
    const std::vector<int> once(clusters.size(), 1);
    const detail::EfficiencyPoint p = detail::efficiency_point(d, capability, clusters, once);
    r.k = p.k;
    r.k_se = p.k_se;
    r.db_dt = p.db_dt;
    r.db_dt_se = p.db_dt_se;
    r.families = p.families;
    r.models_in_families = p.models_in_families;
    r.models_in_trend = p.models_in_trend;
    const double log_gain = r.db_dt / r.k;
    const double se = std::sqrt(r.db_dt_se * r.db_dt_se / (r.k * r.k) +
                                r.db_dt * r.db_dt * r.k_se * r.k_se / std::pow(r.k, 4));
    const double z = normal_quantile(0.5 + opt.level / 2);
    r.gain_per_year = std::exp(log_gain);
    r.gain_low = std::exp(log_gain - z * se);
    r.gain_high = std::exp(log_gain + z * se);

    if (opt.bootstrap > 0) {
        std::vector<double> gains;
        std::vector<int> draws(clusters.size());
        for (int rep = 0; rep < opt.bootstrap; ++rep) {
            std::mt19937_64 rng(mix_seed(opt.seed, static_cast<std::uint64_t>(rep)));
            std::uniform_int_distribution<std::size_t> pick(0, clusters.size() - 1);
            std::fill(draws.begin(), draws.end(), 0);
            for (std::size_t c = 0; c < clusters.size(); ++c) ++draws[pick(rng)];
            try {
                const auto q = detail::efficiency_point(d, capability, clusters, draws);
                gains.push_back(std::exp(q.db_dt / q.k));
            } catch (const value_error&) {
                ++r.bootstrap_failed;
            }
        }
        r.gain_boot_low = quantile(gains, (1 - opt.level) / 2);
        r.gain_boot_high = quantile(gains, 1 - (1 - opt.level) / 2);
    }
    return r;
}

}  // namespace ward::irt
