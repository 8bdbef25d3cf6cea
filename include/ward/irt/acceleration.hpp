#pragma once
// Acceleration detection, measured rather than assumed: simulate benchmark data with a known
// acceleration (and, as the null, without), push each replicate through the whole pipeline (IRT fit,
// frontier, two-segment fit) and count how often the detector fires. Power is the firing rate with an
// acceleration, the false-positive rate the firing rate without. Replicates run in parallel, each
// seeded by (seed, replicate), so the figures do not depend on the thread count.

#include <ward/irt/bootstrap.hpp>
#include <ward/irt/breakpoint.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/simulate.hpp>
#include <ward/irt/trend.hpp>

#include <cmath>
#include <vector>

namespace ward::irt {

struct DetectorOptions {
    double min_ratio = 1.5;   // slope after / slope before
    double max_p = 0.05;      // nominal F-test p-value
    BreakpointOptions breakpoint{};
};

inline bool detects(const BreakpointFit& f, const DetectorOptions& d) {
    return f.slope_before > 0 && f.ratio >= d.min_ratio && f.p_value < d.max_p;
}

struct DetectionStudy {
    int replicates = 0;
    double power = 0, false_positive_rate = 0;
    std::vector<double> ratio_accelerated, ratio_null;  // per replicate (NaN where the fit failed)
    int failed = 0;                                     // replicates with too few frontier points
};

/// `accelerated` must set acceleration_year; its null twin keeps slope_per_year throughout.
inline DetectionStudy detection_study(const SimulationOptions& accelerated, int replicates, std::uint64_t seed = 0,
                                      const DetectorOptions& det = {}, FitOptions fit_opt = {}) {
    if (std::isnan(accelerated.acceleration_year)) throw value_error("detection_study: set acceleration_year");
    fit_opt.anchor = Anchor::on_benchmark("bench_000");
    DetectionStudy s;
    s.replicates = replicates;
    s.ratio_accelerated.assign(static_cast<std::size_t>(replicates), no_value);
    s.ratio_null.assign(static_cast<std::size_t>(replicates), no_value);
    int hits = 0, false_hits = 0, failed = 0;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) reduction(+ : hits, false_hits, failed)
#endif
    for (int r = 0; r < replicates; ++r) {
        for (int null_case = 0; null_case < 2; ++null_case) {
            SimulationOptions o = accelerated;
            o.seed = mix_seed(seed, static_cast<std::uint64_t>(r));  // the same world but for the acceleration
            if (null_case) o.acceleration_year = no_value;
            try {
                const Simulation sim = simulate(o);
                const FitResult f = fit(sim.data, fit_opt);
                const Frontier fr = frontier(sim.data, f.capability);
                const BreakpointFit bp = fit_breakpoint(fr.date, fr.capability, det.breakpoint);
                (null_case ? s.ratio_null : s.ratio_accelerated)[static_cast<std::size_t>(r)] = bp.ratio;
                if (detects(bp, det)) (null_case ? false_hits : hits) += 1;
            } catch (const value_error&) {
                ++failed;  // too few frontier points for a two-segment fit: counted, not a detection
            }
        }
    }
    s.power = static_cast<double>(hits) / replicates;
    s.false_positive_rate = static_cast<double>(false_hits) / replicates;
    s.failed = failed;
    return s;
}

}  // namespace ward::irt
