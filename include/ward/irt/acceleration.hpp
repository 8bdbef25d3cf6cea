#pragma once
// Acceleration detection, measured rather than assumed: simulate benchmark data with a known
// acceleration (and, as the null, the same world without it), push each replicate through the whole
// pipeline (IRT fit, frontier, detection) and count how often each rule of detection.hpp fires. Power is
// the firing rate with an acceleration, the false-positive rate the firing rate without. Both rules run on
// the same worlds: the F-test rule on the top-1 frontier, the paper's on the running-maximum frontier,
// scanned from the acceleration date as the paper does. Replicates run in parallel, each seeded by
// (seed, replicate), so the figures do not depend on the thread count.

#include <ward/irt/bootstrap.hpp>
#include <ward/irt/breakpoint.hpp>
#include <ward/irt/detection.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/simulate.hpp>
#include <ward/irt/trend.hpp>

#include <chrono>
#include <cmath>
#include <vector>

namespace ward::irt {

struct DetectorOptions {
    FTestRule f_test{};
    PaperRule paper{};  // scan_from NaN: the acceleration date of the study
};

struct RuleOutcome {
    double power = 0, false_positive_rate = 0;
    int failed = 0;     // worlds (either kind) the rule could not judge: too few frontier points
};

struct DetectionStudy {
    int replicates = 0;
    RuleOutcome f_test, paper;
    std::vector<double> ratio_accelerated, ratio_null;  // least-squares two-segment fit, per replicate (NaN: failed)
    std::vector<double> paper_breakpoint;               // where the paper's scan fired in the accelerated world (NaN: not)
    std::vector<double> paper_ratio;                    // its slope ratio there (NaN: not detected)
    double seconds = 0;                                 // wall time of the study
};

/// `accelerated` must set acceleration_year; its null twin keeps slope_per_year throughout. Each world's
/// fit is anchored on its first benchmark at that benchmark's true difficulty and slope, which puts the
/// capabilities on the truth's scale (the paper aligns them to the truth by regression instead; neither
/// rule depends on the scale).
inline DetectionStudy detection_study(const SimulationOptions& accelerated, int replicates, std::uint64_t seed = 0,
                                      const DetectorOptions& det = {}, FitOptions fit_opt = {}) {
    if (std::isnan(accelerated.acceleration_year)) throw value_error("detection_study: set acceleration_year");
    if (replicates < 1) throw value_error("detection_study: need at least one replicate");
    const auto t0 = std::chrono::steady_clock::now();
    PaperRule paper = det.paper;
    if (std::isnan(paper.scan_from)) paper.scan_from = accelerated.acceleration_year;
    DetectionStudy s;
    s.replicates = replicates;
    const auto R = static_cast<std::size_t>(replicates);
    s.ratio_accelerated.assign(R, no_value);
    s.ratio_null.assign(R, no_value);
    s.paper_breakpoint.assign(R, no_value);
    s.paper_ratio.assign(R, no_value);
    int hits = 0, false_hits = 0, failed = 0, paper_hits = 0, paper_false_hits = 0, paper_failed = 0;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic) firstprivate(fit_opt) \
    reduction(+ : hits, false_hits, failed, paper_hits, paper_false_hits, paper_failed)
#endif
    for (int r = 0; r < replicates; ++r) {
        const auto i = static_cast<std::size_t>(r);
        for (int null_case = 0; null_case < 2; ++null_case) {
            SimulationOptions o = accelerated;
            o.seed = mix_seed(seed, static_cast<std::uint64_t>(r));  // the same world but for the acceleration
            if (null_case) o.acceleration_year = no_value;
            const Simulation sim = simulate(o);
            fit_opt.anchor = Anchor::on_benchmark(sim.data.benchmarks.front(), sim.difficulty.front(), sim.slope.front());
            const FitResult f = fit(sim.data, fit_opt);
            try {
                const Frontier fr = frontier(sim.data, f.capability);
                const BreakpointFit bp = fit_breakpoint(fr.date, fr.capability, det.f_test.breakpoint);
                (null_case ? s.ratio_null : s.ratio_accelerated)[i] = bp.ratio;
                if (detects(bp, det.f_test)) (null_case ? false_hits : hits) += 1;
            } catch (const value_error&) {
                ++failed;  // too few frontier points for a two-segment fit: counted, not a detection
            }
            const Frontier run = running_max_frontier(sim.data, f.capability);
            const Detection d = scan_for_acceleration(run.date, run.capability, paper);
            if (d.admissible == 0) ++paper_failed;
            if (!d.detected) continue;
            if (null_case) {
                ++paper_false_hits;
            } else {
                ++paper_hits;
                s.paper_breakpoint[i] = d.fit.breakpoint;
                s.paper_ratio[i] = d.fit.ratio;
            }
        }
    }
    const double n = replicates;
    s.f_test = {hits / n, false_hits / n, failed};
    s.paper = {paper_hits / n, paper_false_hits / n, paper_failed};
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
}

}  // namespace ward::irt
