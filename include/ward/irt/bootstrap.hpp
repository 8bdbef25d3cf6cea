#pragma once
// Bootstrap confidence intervals for the fit: each replicate resamples every model's rows with
// replacement (so every model stays in), refits warm-started from the full fit, and keeps C, D, alpha.
// Resampling is a weight vector of multiplicities, so no data is copied. Replicate r draws from its own
// std::mt19937_64 seeded by (seed, r): results do not depend on the number of threads.

#include <ward/irt/fit.hpp>
#include <ward/irt/stats.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace ward::irt {

struct BootstrapOptions {
    int replicates = 1000;
    std::uint64_t seed = 0;
    double level = 0.95;  // percentile interval
    int threads = 0;      // 0: OpenMP's default
};

struct BootstrapResult {
    Eigen::MatrixXd capability;  // replicates x models, on the anchored scale
    Eigen::MatrixXd difficulty;  // replicates x benchmarks
    Eigen::MatrixXd slope;       // replicates x benchmarks
    std::vector<double> capability_low, capability_high;
    std::vector<double> difficulty_low, difficulty_high;
    std::vector<double> slope_low, slope_high;
    int not_converged = 0;       // replicates that stopped at the iteration limit (kept, counted)
};

/// SplitMix64: turns (seed, replicate) into a well-mixed 64-bit RNG seed.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// Multiplicities of one replicate: each model's k rows are drawn k times with replacement.
inline void resample_weights(const Dataset& d, std::uint64_t seed, std::vector<double>& w) {
    std::mt19937_64 rng(seed);
    w.assign(static_cast<std::size_t>(d.num_obs()), 0.0);
    for (index_t m = 0; m < d.num_models(); ++m) {
        const index_t begin = d.model_begin[static_cast<std::size_t>(m)], k = d.model_begin[static_cast<std::size_t>(m) + 1] - begin;
        std::uniform_int_distribution<index_t> pick(0, k - 1);
        for (index_t j = 0; j < k; ++j) w[static_cast<std::size_t>(begin + pick(rng))] += 1.0;
    }
}

inline std::pair<std::vector<double>, std::vector<double>> percentile_interval(const Eigen::MatrixXd& samples, double level) {
    std::vector<double> lo(static_cast<std::size_t>(samples.cols())), hi(lo.size());
    std::vector<double> col(static_cast<std::size_t>(samples.rows()));
    for (index_t j = 0; j < samples.cols(); ++j) {
        for (index_t r = 0; r < samples.rows(); ++r) col[static_cast<std::size_t>(r)] = samples(r, j);
        lo[static_cast<std::size_t>(j)] = quantile(col, (1 - level) / 2);
        hi[static_cast<std::size_t>(j)] = quantile(col, 1 - (1 - level) / 2);
    }
    return {lo, hi};
}

inline BootstrapResult bootstrap(const Dataset& data, const FitOptions& opt, const FitResult& full,
                                 const BootstrapOptions& bo = {}) {
    if (bo.replicates < 2) throw value_error("irt::bootstrap: need at least 2 replicates");
    if (!(bo.level > 0 && bo.level < 1)) throw value_error("irt::bootstrap: level must lie in (0, 1)");
    const Problem p = make_problem(data, opt);
    if (full.theta.size() != p.size()) throw shape_error("irt::bootstrap: the full fit does not belong to this data");
    BootstrapResult res;
    const index_t M = p.M, B = p.B, R = bo.replicates;
    res.capability.resize(R, M);
    res.difficulty.resize(R, B);
    res.slope.resize(R, B);
    int not_converged = 0;
#if defined(_OPENMP)
    const int threads = bo.threads > 0 ? bo.threads : omp_get_max_threads();
#pragma omp parallel num_threads(threads) reduction(+ : not_converged)
#endif
    {
        LmSolver solver(p);
        std::vector<double> w;
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 4)
#endif
        for (index_t r = 0; r < R; ++r) {
            resample_weights(data, mix_seed(bo.seed, static_cast<std::uint64_t>(r)), w);
            const FitResult f = solver.solve(opt, &full.theta, w.data());
            not_converged += !f.converged;
            for (index_t m = 0; m < M; ++m) res.capability(r, m) = f.capability[static_cast<std::size_t>(m)];
            for (index_t b = 0; b < B; ++b) {
                res.difficulty(r, b) = f.difficulty[static_cast<std::size_t>(b)];
                res.slope(r, b) = f.slope[static_cast<std::size_t>(b)];
            }
        }
    }
    res.not_converged = not_converged;
    std::tie(res.capability_low, res.capability_high) = percentile_interval(res.capability, bo.level);
    std::tie(res.difficulty_low, res.difficulty_high) = percentile_interval(res.difficulty, bo.level);
    std::tie(res.slope_low, res.slope_high) = percentile_interval(res.slope, bo.level);
    return res;
}

}  // namespace ward::irt
