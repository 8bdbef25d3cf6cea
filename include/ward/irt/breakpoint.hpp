#pragma once
// A continuous two-segment line: y = c + s1 * min(x - tau, 0) + s2 * max(x - tau, 0). For each candidate
// breakpoint tau (a grid between the points that leave `min_points` on each side) the three
// coefficients are an ordinary least-squares fit; the tau with the least squared error wins. Reports
// the slopes, their ratio, R^2 of both models and a nominal F test of the extra two parameters
// (nominal: tau was chosen by the scan, which is why detection power is measured by simulation).

#include <ward/irt/stats.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ward::irt {

struct BreakpointOptions {
    index_t min_points = 3;  // on each side of the breakpoint
    int grid = 400;          // candidates between the admissible extremes (data points are tried too)
};

struct BreakpointFit {
    double breakpoint = 0;
    double level = 0;                        // fitted value at the breakpoint
    double slope_before = 0, slope_after = 0;
    double ratio = 0;                        // slope_after / slope_before
    double sse = 0, r2 = 0;
    double sse_linear = 0, r2_linear = 0, slope_linear = 0;
    double f_statistic = 0, p_value = 1;     // two-segment vs one line (nominal, see above)
    index_t n = 0, points_before = 0, points_after = 0;
};

inline BreakpointFit fit_breakpoint(const std::vector<double>& x, const std::vector<double>& y, const BreakpointOptions& opt = {}) {
    if (x.size() != y.size()) throw shape_error("fit_breakpoint: x and y differ in length");
    const auto n = static_cast<index_t>(x.size());
    if (n < 2 * opt.min_points || n < 5)
        throw value_error("fit_breakpoint: need at least " + std::to_string(std::max<index_t>(5, 2 * opt.min_points)) +
                          " points, got " + std::to_string(n));
    std::vector<double> xs = x;
    std::sort(xs.begin(), xs.end());
    const double lo = xs[static_cast<std::size_t>(opt.min_points - 1)], hi = xs[static_cast<std::size_t>(n - opt.min_points)];
    if (!(hi > lo)) throw value_error("fit_breakpoint: too few distinct x values");

    auto fit_at = [&](double tau, Eigen::Vector3d& beta) {
        Eigen::Matrix3d A = Eigen::Matrix3d::Zero();
        Eigen::Vector3d rhs = Eigen::Vector3d::Zero();
        for (index_t i = 0; i < n; ++i) {
            const Eigen::Vector3d row(1.0, std::min(x[static_cast<std::size_t>(i)] - tau, 0.0), std::max(x[static_cast<std::size_t>(i)] - tau, 0.0));
            A += row * row.transpose();
            rhs += row * y[static_cast<std::size_t>(i)];
        }
        beta = A.ldlt().solve(rhs);
        double sse = 0;
        for (index_t i = 0; i < n; ++i) {
            const double xi = x[static_cast<std::size_t>(i)];
            const double r = y[static_cast<std::size_t>(i)] - (beta[0] + beta[1] * std::min(xi - tau, 0.0) + beta[2] * std::max(xi - tau, 0.0));
            sse += r * r;
        }
        return sse;
    };
    std::vector<double> candidates;
    for (int g = 0; g <= opt.grid; ++g) candidates.push_back(lo + (hi - lo) * g / opt.grid);
    for (double v : xs) if (v >= lo && v <= hi) candidates.push_back(v);

    BreakpointFit f;
    f.n = n;
    f.sse = std::numeric_limits<double>::infinity();
    Eigen::Vector3d beta, best = Eigen::Vector3d::Zero();
    for (double tau : candidates) {
        const double sse = fit_at(tau, beta);
        if (sse < f.sse) { f.sse = sse; f.breakpoint = tau; best = beta; }
    }
    f.level = best[0];
    f.slope_before = best[1];
    f.slope_after = best[2];
    f.ratio = f.slope_after / f.slope_before;
    for (double v : x) (v < f.breakpoint ? f.points_before : f.points_after) += 1;

    const LineFit line = fit_line(x, y);
    f.sse_linear = line.sse;
    f.r2_linear = line.r2;
    f.slope_linear = line.slope;
    const double syy = line.r2 < 1 ? line.sse / (1 - line.r2) : 0.0;
    f.r2 = syy > 0 ? 1.0 - f.sse / syy : 1.0;
    const double dof = static_cast<double>(n - 4);
    if (dof > 0 && f.sse > 0) {
        f.f_statistic = std::max(0.0, (f.sse_linear - f.sse) / 2.0) / (f.sse / dof);
        f.p_value = f_survival(f.f_statistic, 2.0, dof);
    } else if (dof > 0 && f.sse_linear > 0) {  // two segments fit exactly where one line does not
        f.f_statistic = std::numeric_limits<double>::infinity();
        f.p_value = 0.0;
    }
    return f;
}

}  // namespace ward::irt
