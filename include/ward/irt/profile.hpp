#pragma once
// The profile-style interval of one capability: hold every benchmark at its fitted difficulty and slope,
// move C_m down and up until the model's own squared error rises by 5% (of its value at the fit), and
// report the two crossings. Crossings beyond the parameter bounds are reported as the bound and counted.

#include <ward/irt/fit.hpp>

#include <cmath>
#include <vector>

namespace ward::irt {

struct ProfileOptions {
    double rise = 0.05;            // relative rise of the model's squared error that ends the interval
    double absolute_floor = 1e-9;  // added to the threshold, so a perfectly fitted model gets an interval
};

struct ProfileInterval {
    std::vector<double> low, high;  // per model, on the anchored scale
    index_t hit_bound = 0;          // ends that reached the bound instead of a crossing
};

/// Squared error of model m's rows at capability c (anchored scale).
inline double model_sse(const Dataset& d, const FitResult& f, index_t m, double c) {
    double e = 0.0;
    for (index_t i = d.model_begin[static_cast<std::size_t>(m)]; i < d.model_begin[static_cast<std::size_t>(m) + 1]; ++i) {
        const auto& o = d.obs[static_cast<std::size_t>(i)];
        const auto b = static_cast<std::size_t>(o.benchmark);
        const double r = f.floor[b] + f.span[b] * sigmoid(f.slope[b] * (c - f.difficulty[b])) - o.score;
        e += r * r;
    }
    return e;
}

inline ProfileInterval profile_intervals(const Dataset& d, const FitResult& f, const FitOptions& opt = {},
                                         const ProfileOptions& po = {}) {
    ProfileInterval out;
    const auto M = d.num_models();
    out.low.resize(static_cast<std::size_t>(M));
    out.high.resize(static_cast<std::size_t>(M));
    const double lo_bound = opt.bounds.capability_low - f.shift, hi_bound = opt.bounds.capability_high - f.shift;
    for (index_t m = 0; m < M; ++m) {
        const double c0 = f.capability[static_cast<std::size_t>(m)];
        const double target = (1.0 + po.rise) * model_sse(d, f, m, c0) + po.absolute_floor;
        auto crossing = [&](double dir, double bound) {
            // Walk out in growing steps until the error exceeds the target, then bisect.
            double inside = c0, step = 0.01;
            while (true) {
                const double c = std::clamp(inside + dir * step, std::min(bound, c0), std::max(bound, c0));
                if (model_sse(d, f, m, c) >= target) {
                    double a = inside, b = c;
                    for (int k = 0; k < 60; ++k) {
                        const double mid = 0.5 * (a + b);
                        (model_sse(d, f, m, mid) >= target ? b : a) = mid;
                    }
                    return 0.5 * (a + b);
                }
                if (c == bound) { ++out.hit_bound; return bound; }
                inside = c;
                step *= 2.0;
            }
        };
        out.low[static_cast<std::size_t>(m)] = crossing(-1.0, lo_bound);
        out.high[static_cast<std::size_t>(m)] = crossing(+1.0, hi_bound);
    }
    return out;
}

}  // namespace ward::irt
