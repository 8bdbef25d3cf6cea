#pragma once
// Capability over time: the frontier (models that are top-1 at their release, or the running maximum the
// paper's acceleration detection reads), a straight-line trend of frontier capability on date with its
// 95% interval, forecasts with confidence and prediction bands, and the paper's backtest: the trend of the
// frontier up to a cutoff date, scored on the frontier models released after it.

#include <ward/irt/dataset.hpp>
#include <ward/irt/stats.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace ward::irt {

struct Frontier {
    std::vector<index_t> models;     // indices into the dataset, in release order
    std::vector<double> date, capability;
    index_t models_without_date = 0; // could not be placed in time (counted, not used)
};

/// Models whose capability exceeds that of every model released before them; of several released on
/// one day only the best can qualify.
namespace detail {
/// The models with a release date (those without are counted in f), after checking `capability`'s size.
inline std::vector<index_t> dated_models(const Dataset& d, const std::vector<double>& capability, Frontier& f,
                                         const char* who) {
    if (static_cast<index_t>(capability.size()) != d.num_models())
        throw shape_error(std::string(who) + ": one capability per model expected");
    std::vector<index_t> order;
    for (index_t m = 0; m < d.num_models(); ++m) {
        if (std::isnan(d.release[static_cast<std::size_t>(m)])) { ++f.models_without_date; continue; }
        order.push_back(m);
    }
    return order;
}
}  // namespace detail

inline Frontier frontier(const Dataset& d, const std::vector<double>& capability) {
    Frontier f;
    std::vector<index_t> order = detail::dated_models(d, capability, f, "irt::frontier");
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        const double ta = d.release[static_cast<std::size_t>(a)], tb = d.release[static_cast<std::size_t>(b)];
        if (ta != tb) return ta < tb;
        return capability[static_cast<std::size_t>(a)] > capability[static_cast<std::size_t>(b)];
    });
    double best = -std::numeric_limits<double>::infinity();
    for (index_t m : order) {
        const double c = capability[static_cast<std::size_t>(m)];
        if (c > best) {
            best = c;
            f.models.push_back(m);
            f.date.push_back(d.release[static_cast<std::size_t>(m)]);
            f.capability.push_back(c);
        }
    }
    return f;
}

/// The running maximum, the frontier the paper's acceleration detection reads: every dated model at its
/// release date, with the best capability released on or before that date (so models released on one day
/// share one value). models[i] is the model released at date[i], not necessarily the one holding the maximum.
inline Frontier running_max_frontier(const Dataset& d, const std::vector<double>& capability) {
    Frontier f;
    std::vector<index_t> order = detail::dated_models(d, capability, f, "irt::running_max_frontier");
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return d.release[static_cast<std::size_t>(a)] < d.release[static_cast<std::size_t>(b)];
    });
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < order.size(); ++i) {
        const double t = d.release[static_cast<std::size_t>(order[i])];
        if (i == 0 || t != f.date.back())  // a new date: take in everything released on it first
            for (std::size_t k = i; k < order.size() && d.release[static_cast<std::size_t>(order[k])] == t; ++k)
                best = std::max(best, capability[static_cast<std::size_t>(order[k])]);
        f.models.push_back(order[i]);
        f.date.push_back(t);
        f.capability.push_back(best);
    }
    return f;
}

enum class FrontierKind { top1_at_release, running_max };

inline Frontier frontier(const Dataset& d, const std::vector<double>& capability, FrontierKind kind) {
    return kind == FrontierKind::running_max ? running_max_frontier(d, capability) : frontier(d, capability);
}

struct Trend {
    Frontier frontier;
    LineFit line;                    // capability = intercept + slope * (decimal year)
    double slope_low = 0, slope_high = 0;  // 95% interval of the growth per year
};

/// The frontier and its OLS line. Points before `since` (decimal year) are left out of the line.
inline Trend frontier_trend(const Dataset& d, const std::vector<double>& capability, double level = 0.95,
                            double since = -std::numeric_limits<double>::infinity()) {
    Trend t;
    t.frontier = frontier(d, capability);
    std::vector<double> x, y;
    for (std::size_t i = 0; i < t.frontier.date.size(); ++i)
        if (t.frontier.date[i] >= since) { x.push_back(t.frontier.date[i]); y.push_back(t.frontier.capability[i]); }
    t.line = fit_line(x, y);
    std::tie(t.slope_low, t.slope_high) = t.line.slope_ci(level);
    return t;
}

struct ForecastPoint {
    double date, mean, mean_low, mean_high, prediction_low, prediction_high;
};

/// The trend at each date, with the interval of the mean and the (wider) prediction interval.
inline std::vector<ForecastPoint> forecast(const LineFit& line, const std::vector<double>& dates, double level = 0.95) {
    std::vector<ForecastPoint> out;
    for (double t : dates) {
        const double mean = line.predict(t), hm = line.half_width(t, level), hp = line.half_width(t, level, true);
        out.push_back({t, mean, mean - hm, mean + hm, mean - hp, mean + hp});
    }
    return out;
}

struct Backtest {
    double cutoff = 0;
    index_t train_points = 0, test_points = 0;
    double mae = 0;            // trend fitted before the cutoff, scored on frontier models after it
    double mae_last_value = 0; // baseline: the last frontier value up to the cutoff, held flat
    double coverage = 0;       // fraction of test points inside the 95% prediction interval
};

/// The paper's backtest: the line through the top-1 frontier released up to `cutoff` (inclusive),
/// scored by its mean absolute error on the frontier models released after it.
inline Backtest backtest(const Dataset& d, const std::vector<double>& capability, double cutoff, double level = 0.95) {
    const Frontier f = frontier(d, capability);
    std::vector<double> x, y;
    for (std::size_t i = 0; i < f.date.size(); ++i)
        if (f.date[i] <= cutoff) { x.push_back(f.date[i]); y.push_back(f.capability[i]); }
    Backtest b;
    b.cutoff = cutoff;
    b.train_points = static_cast<index_t>(x.size());
    const LineFit line = fit_line(x, y);
    const double last = y.back();
    index_t inside = 0;
    for (std::size_t i = 0; i < f.date.size(); ++i) {
        if (f.date[i] <= cutoff) continue;
        const double pred = line.predict(f.date[i]), hw = line.half_width(f.date[i], level, true);
        b.mae += std::abs(pred - f.capability[i]);
        b.mae_last_value += std::abs(last - f.capability[i]);
        inside += std::abs(pred - f.capability[i]) <= hw;
        ++b.test_points;
    }
    if (b.test_points == 0) throw value_error("irt::backtest: no frontier model after the cutoff");
    b.mae /= static_cast<double>(b.test_points);
    b.mae_last_value /= static_cast<double>(b.test_points);
    b.coverage = static_cast<double>(inside) / static_cast<double>(b.test_points);
    return b;
}

}  // namespace ward::irt
