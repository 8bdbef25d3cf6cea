#pragma once
// Synthetic benchmark data with known truth: models released over time whose capabilities follow a
// (possibly accelerating) trend, benchmarks released near the frontier of their day, a random fraction of
// (model, benchmark) pairs observed with noisy scores, and training compute that obeys
// C = k ln F + b(t) within families. Used by the tests (parameter recovery), the detection-power study
// and by `rosetta` when it is given no data.

#include <ward/irt/dataset.hpp>
#include <ward/irt/model.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace ward::irt {

struct SimulationOptions {
    double start_year = 2021.0, end_year = 2026.0;
    double models_per_year = 40.0;       // ignored when num_models > 0
    double benchmarks_per_year = 6.0;    // ignored when num_benchmarks > 0
    index_t num_models = 0, num_benchmarks = 0;
    double observed_fraction = 0.3;
    double noise = 0.02;                 // sd of additive score noise (scores are then clipped)
    double slope_per_year = 0.6;         // capability growth per year
    double acceleration_year = no_value;      // if set: the growth becomes slope_after from this date on
    double slope_after = 1.2;
    double model_spread = 0.5;           // sd of a model's capability around the trend
    double difficulty_spread = 0.7;      // sd of a benchmark's difficulty around the trend at its release
    double log_slope_sd = 0.3;           // slopes are exp(N(0, sd)); the anchor benchmark's slope is 1
    index_t family_size = 3;             // models released together, differing in compute
    double compute_k = 0.4;              // C = k ln F + b(t)
    double algorithmic_gain = 0.35;      // db/dt per year
    double log_compute_spread = 1.0;     // sd of ln F offsets within a family
    std::uint64_t seed = 1;
};

struct Simulation {
    Dataset data;                        // benchmark 0 ("bench_000") is the anchor, slope 1
    std::vector<double> capability, difficulty, slope;  // the truth, indexed like data
    double true_trend(double t, const SimulationOptions& o) const {
        double c = o.slope_per_year * (t - o.start_year);
        if (!std::isnan(o.acceleration_year) && t > o.acceleration_year)
            c += (o.slope_after - o.slope_per_year) * (t - o.acceleration_year);
        return c;
    }
};

inline Simulation simulate(const SimulationOptions& o) {
    if (!(o.end_year > o.start_year) || !(o.observed_fraction > 0 && o.observed_fraction <= 1) || o.family_size < 1)
        throw value_error("irt::simulate: invalid options");
    std::mt19937_64 rng(o.seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    const double years = o.end_year - o.start_year;
    const index_t M = o.num_models > 0 ? o.num_models : std::max<index_t>(4, std::llround(o.models_per_year * years));
    const index_t B = o.num_benchmarks > 0 ? o.num_benchmarks : std::max<index_t>(3, std::llround(o.benchmarks_per_year * years));

    Simulation sim;
    auto trend = [&](double t) { return sim.true_trend(t, o); };
    DatasetBuilder builder;
    char name[32];
    std::vector<std::string> model_names, bench_names;
    std::vector<double> release(static_cast<std::size_t>(M)), lnF(static_cast<std::size_t>(M));
    sim.capability.resize(static_cast<std::size_t>(M));
    for (index_t m = 0; m < M; ++m) {
        std::snprintf(name, sizeof name, "model_%05lld", static_cast<long long>(m));
        model_names.emplace_back(name);
        builder.model_id(name);  // intern in index order
    }
    for (index_t m = 0; m < M; m += o.family_size) {  // families share a release date and a base capability
        const double t = o.start_year + years * unif(rng);
        const double base = trend(t) + o.model_spread * normal(rng);
        const double b_t = o.algorithmic_gain * (t - o.start_year);
        for (index_t k = m; k < std::min(M, m + o.family_size); ++k) {
            const auto i = static_cast<std::size_t>(k);
            release[i] = t;
            const double offset = o.log_compute_spread * normal(rng);  // ln F offset within the family
            sim.capability[i] = base + o.compute_k * offset;
            lnF[i] = (sim.capability[i] - b_t) / o.compute_k + 50.0;  // +50: FLOPs of a plausible size
        }
    }
    sim.difficulty.resize(static_cast<std::size_t>(B));
    sim.slope.resize(static_cast<std::size_t>(B));
    for (index_t b = 0; b < B; ++b) {
        std::snprintf(name, sizeof name, "bench_%03lld", static_cast<long long>(b));
        bench_names.emplace_back(name);
        builder.benchmark_id(name);
        const double t = o.start_year + years * unif(rng);
        sim.difficulty[static_cast<std::size_t>(b)] = trend(t) + o.difficulty_spread * normal(rng);
        sim.slope[static_cast<std::size_t>(b)] = b == 0 ? 1.0 : std::exp(o.log_slope_sd * normal(rng));
    }
    // Observed pairs: each with probability observed_fraction, and at least two per model and one per
    // benchmark so that every parameter meets data.
    std::vector<std::uint8_t> seen(static_cast<std::size_t>(B), 0);
    auto observe = [&](index_t m, index_t b) {
        const auto i = static_cast<std::size_t>(m), j = static_cast<std::size_t>(b);
        const double p = sigmoid(sim.slope[j] * (sim.capability[i] - sim.difficulty[j]));
        builder.add(model_names[i], bench_names[j], p + o.noise * normal(rng));
        seen[j] = 1;
    };
    std::vector<index_t> picked;
    for (index_t m = 0; m < M; ++m) {
        picked.clear();
        for (index_t b = 0; b < B; ++b)
            if (unif(rng) < o.observed_fraction) picked.push_back(b);
        while (picked.size() < 2) {
            const index_t b = static_cast<index_t>(unif(rng) * static_cast<double>(B)) % B;
            if (std::find(picked.begin(), picked.end(), b) == picked.end()) picked.push_back(b);
        }
        for (index_t b : picked) observe(m, b);
    }
    for (index_t b = 0; b < B; ++b)
        if (!seen[static_cast<std::size_t>(b)]) observe(static_cast<index_t>(unif(rng) * static_cast<double>(M)) % M, b);
    sim.data = builder.build();
    for (index_t m = 0; m < M; ++m) {
        const auto i = static_cast<std::size_t>(m);
        sim.data.release[i] = release[i];
        sim.data.compute[i] = std::exp(lnF[i]);
        sim.data.family[i] = "family_" + std::to_string(m / o.family_size);
    }
    return sim;
}

}  // namespace ward::irt
