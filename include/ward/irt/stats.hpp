#pragma once
// The statistics the trend, efficiency and breakpoint analyses need: ordinary least squares for a line
// with standard errors, Student-t and F distribution functions (through the regularized incomplete beta
// function), sample quantiles and correlation.

#include <ward/core/config.hpp>
#include <ward/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace ward::irt {

/// Regularized incomplete beta I_x(a, b) (continued fraction, modified Lentz; Numerical Recipes 6.4).
inline double incomplete_beta(double a, double b, double x) {
    if (x <= 0) return 0.0;
    if (x >= 1) return 1.0;
    auto cf = [](double a_, double b_, double x_) {
        const double tiny = 1e-300;
        double c = 1.0, d = 1.0 - (a_ + b_) * x_ / (a_ + 1.0);
        d = 1.0 / (std::abs(d) < tiny ? tiny : d);
        double h = d;
        for (int m = 1; m <= 300; ++m) {
            const double m2 = 2.0 * m;
            double aa = m * (b_ - m) * x_ / ((a_ - 1 + m2) * (a_ + m2));
            d = 1.0 + aa * d; d = 1.0 / (std::abs(d) < tiny ? tiny : d);
            c = 1.0 + aa / c; c = std::abs(c) < tiny ? tiny : c;
            h *= d * c;
            aa = -(a_ + m) * (a_ + b_ + m) * x_ / ((a_ + m2) * (a_ + 1 + m2));
            d = 1.0 + aa * d; d = 1.0 / (std::abs(d) < tiny ? tiny : d);
            c = 1.0 + aa / c; c = std::abs(c) < tiny ? tiny : c;
            const double del = d * c;
            h *= del;
            if (std::abs(del - 1.0) < 1e-15) break;
        }
        return h;
    };
    const double lbeta = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
    const double front = std::exp(lbeta + a * std::log(x) + b * std::log1p(-x));
    return x < (a + 1) / (a + b + 2) ? front * cf(a, b, x) / a : 1.0 - front * cf(b, a, 1 - x) / b;
}

/// P(T <= t) for Student's t with `dof` degrees of freedom.
inline double student_t_cdf(double t, double dof) {
    const double tail = 0.5 * incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
    return t >= 0 ? 1.0 - tail : tail;
}

/// The p-quantile of Student's t (bisection on the CDF; monotone and plenty fast here).
inline double student_t_quantile(double p, double dof) {
    if (!(p > 0 && p < 1) || !(dof > 0)) throw value_error("student_t_quantile: need 0 < p < 1 and dof > 0");
    double lo = -1e3, hi = 1e3;
    for (int i = 0; i < 200 && hi - lo > 1e-13 * std::max(1.0, std::abs(hi)); ++i) {
        const double mid = 0.5 * (lo + hi);
        (student_t_cdf(mid, dof) < p ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

/// P(F > f) for the F distribution with (d1, d2) degrees of freedom.
inline double f_survival(double f, double d1, double d2) {
    if (f <= 0) return 1.0;
    return incomplete_beta(d2 / 2, d1 / 2, d2 / (d2 + d1 * f));
}

inline double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

inline double normal_quantile(double p) {
    if (!(p > 0 && p < 1)) throw value_error("normal_quantile: need 0 < p < 1");
    double lo = -40, hi = 40;
    for (int i = 0; i < 200 && hi - lo > 1e-14; ++i) {
        const double mid = 0.5 * (lo + hi);
        (normal_cdf(mid) < p ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

/// Sample quantile with linear interpolation between order statistics (R type 7, numpy's default).
inline double quantile(std::vector<double> v, double q) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const double h = (static_cast<double>(v.size()) - 1) * q;
    const auto i = static_cast<std::size_t>(std::floor(h));
    return i + 1 < v.size() ? v[i] + (h - static_cast<double>(i)) * (v[i + 1] - v[i]) : v.back();
}

inline double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

/// y = intercept + slope * x by ordinary least squares, with the classical standard errors.
struct LineFit {
    double intercept = 0, slope = 0;
    double se_intercept = 0, se_slope = 0;
    double sigma = 0;       // residual standard deviation (n - 2 dof)
    double r2 = 0;
    double sse = 0;
    index_t n = 0;
    double x_mean = 0, sxx = 0;

    double dof() const { return static_cast<double>(n - 2); }
    double predict(double x) const { return intercept + slope * x; }
    /// Half-width of the (1 - alpha) interval of the mean at x (prediction=false) or of a new point.
    double half_width(double x, double level = 0.95, bool prediction = false) const {
        const double t = student_t_quantile(0.5 + level / 2, dof());
        const double v = 1.0 / static_cast<double>(n) + (x - x_mean) * (x - x_mean) / sxx + (prediction ? 1.0 : 0.0);
        return t * sigma * std::sqrt(v);
    }
    /// (1 - alpha) confidence interval of the slope.
    std::pair<double, double> slope_ci(double level = 0.95) const {
        const double t = student_t_quantile(0.5 + level / 2, dof());
        return {slope - t * se_slope, slope + t * se_slope};
    }
};

inline LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) throw shape_error("fit_line: x and y differ in length");
    if (x.size() < 3) throw value_error("fit_line: need at least 3 points, got " + std::to_string(x.size()));
    LineFit f;
    f.n = static_cast<index_t>(x.size());
    const double n = static_cast<double>(x.size());
    f.x_mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
    const double ym = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        f.sxx += (x[i] - f.x_mean) * (x[i] - f.x_mean);
        sxy += (x[i] - f.x_mean) * (y[i] - ym);
        syy += (y[i] - ym) * (y[i] - ym);
    }
    if (!(f.sxx > 0)) throw value_error("fit_line: all x are equal");
    f.slope = sxy / f.sxx;
    f.intercept = ym - f.slope * f.x_mean;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double r = y[i] - f.predict(x[i]);
        f.sse += r * r;
    }
    f.sigma = std::sqrt(f.sse / (n - 2));
    f.se_slope = f.sigma / std::sqrt(f.sxx);
    f.se_intercept = f.sigma * std::sqrt(1.0 / n + f.x_mean * f.x_mean / f.sxx);
    f.r2 = syy > 0 ? 1.0 - f.sse / syy : 1.0;
    return f;
}

}  // namespace ward::irt
