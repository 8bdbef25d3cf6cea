#pragma once
// Two rules that call a change in the frontier's growth an acceleration.
//
// The F-test rule (FTestRule): the least-squares two-segment fit of breakpoint.hpp on the top-1 frontier,
// a slope ratio of at least 1.5 and a nominal F-test p below 0.05.
//
// The paper's rule (PaperRule), as "A Rosetta Stone for AI Benchmarks" (Ho et al., 2025) runs it on the
// running-maximum frontier: at a fixed breakpoint tau, the line through the points with x <= tau (OLS),
// and from (tau, its value there) a second line with the OLS slope of the points with x > tau, so that the
// two meet at tau; R^2 of that joined line over all points. A breakpoint counts when the slope before is
// positive, the slope ratio is at least 2, R^2 at least 0.6, and at least 3 points lie after it. The scan
// tries `candidates` evenly spaced breakpoints from scan_from to scan_to and reports the first that counts
// (the paper scans from the date an acceleration would begin; by default here, from the first point).

#include <ward/irt/breakpoint.hpp>
#include <ward/irt/dataset.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace ward::irt {

struct FTestRule {
    double min_ratio = 1.5;   // slope after / slope before
    double max_p = 0.05;      // nominal F-test p-value
    BreakpointOptions breakpoint{};
};

inline bool detects(const BreakpointFit& f, const FTestRule& r) {
    return f.slope_before > 0 && f.ratio >= r.min_ratio && f.p_value < r.max_p;
}

struct PaperRule {
    double min_ratio = 2.0;
    double min_r2 = 0.6;
    index_t min_points_after = 3;
    int candidates = 50;                // breakpoints tried, evenly spaced, ends included
    double scan_from = no_value;        // NaN: the first x
    double scan_to = no_value;          // NaN: the last x
};

/// Two segments joined at a fixed breakpoint, fitted as the paper does (see above).
struct SegmentFit {
    bool valid = false;                 // false: fewer than two distinct x on a side
    double breakpoint = 0;
    double slope_before = 0, intercept_before = 0, slope_after = 0;
    double ratio = 0, r2 = 0;
    index_t points_before = 0, points_after = 0;
};

namespace detail {
/// OLS slope and intercept of (x, y) over the indices where keep(x) holds; false without two distinct x.
template <class Keep>
bool ols_where(const std::vector<double>& x, const std::vector<double>& y, Keep keep, double& slope, double& intercept,
               index_t& n) {
    double sx = 0, sy = 0;
    n = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (keep(x[i])) { sx += x[i]; sy += y[i]; ++n; }
    if (n < 2) return false;
    const double mx = sx / static_cast<double>(n), my = sy / static_cast<double>(n);
    double sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (keep(x[i])) { sxx += (x[i] - mx) * (x[i] - mx); sxy += (x[i] - mx) * (y[i] - my); }
    if (!(sxx > 0)) return false;
    slope = sxy / sxx;
    intercept = my - slope * mx;
    return true;
}
}  // namespace detail

inline SegmentFit fit_segments_at(const std::vector<double>& x, const std::vector<double>& y, double tau) {
    if (x.size() != y.size()) throw shape_error("fit_segments_at: x and y differ in length");
    SegmentFit s;
    s.breakpoint = tau;
    double intercept_after = 0;
    if (!detail::ols_where(x, y, [&](double v) { return v <= tau; }, s.slope_before, s.intercept_before, s.points_before) ||
        !detail::ols_where(x, y, [&](double v) { return v > tau; }, s.slope_after, intercept_after, s.points_after))
        return s;
    s.valid = true;
    s.ratio = s.slope_after / s.slope_before;
    const double at_tau = s.intercept_before + s.slope_before * tau;
    double my = 0;
    for (double v : y) my += v;
    my /= static_cast<double>(y.size());
    double sse = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double pred = x[i] <= tau ? s.intercept_before + s.slope_before * x[i] : at_tau + s.slope_after * (x[i] - tau);
        sse += (y[i] - pred) * (y[i] - pred);
        syy += (y[i] - my) * (y[i] - my);
    }
    s.r2 = syy > 0 ? 1.0 - sse / syy : 1.0;
    return s;
}

/// The paper's thresholds applied to a fit at one breakpoint.
inline bool meets(const SegmentFit& s, const PaperRule& r) {
    return s.valid && s.slope_before > 0 && s.ratio >= r.min_ratio && s.r2 >= r.min_r2 && s.points_after >= r.min_points_after;
}

/// The paper's thresholds applied to the least-squares two-segment fit (breakpoint.hpp).
inline bool meets(const BreakpointFit& f, const PaperRule& r) {
    return f.slope_before > 0 && f.ratio >= r.min_ratio && f.r2 >= r.min_r2 && f.points_after >= r.min_points_after;
}

struct Detection {
    bool detected = false;
    SegmentFit fit;           // at the first breakpoint that counts (when detected)
    int admissible = 0;       // candidates with enough points on both sides to be judged
};

/// The paper's scan: the first candidate breakpoint, in time, that meets the rule.
inline Detection scan_for_acceleration(const std::vector<double>& x, const std::vector<double>& y, const PaperRule& r = {}) {
    if (x.size() != y.size()) throw shape_error("scan_for_acceleration: x and y differ in length");
    if (r.candidates < 1) throw value_error("scan_for_acceleration: need at least one candidate breakpoint");
    Detection d;
    if (x.empty()) return d;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double v : x) { lo = std::min(lo, v); hi = std::max(hi, v); }
    const double from = std::isnan(r.scan_from) ? lo : r.scan_from, to = std::isnan(r.scan_to) ? hi : r.scan_to;
    if (r.candidates > 1 && !(to > from)) return d;  // nothing to scan (e.g. no data after scan_from)
    for (int k = 0; k < r.candidates; ++k) {
        const double tau = r.candidates == 1 ? from : from + (to - from) * k / (r.candidates - 1);
        const SegmentFit s = fit_segments_at(x, y, tau);
        if (!s.valid || s.points_after < r.min_points_after) continue;
        ++d.admissible;
        if (meets(s, r)) {
            d.detected = true;
            d.fit = s;
            return d;
        }
    }
    return d;
}

}  // namespace ward::irt
