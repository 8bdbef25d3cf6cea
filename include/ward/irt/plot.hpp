#pragma once
// Plots drawn by gnuplot at run time (never linked): capability over time (all models, the frontier,
// its trend and the forecast band, with the ECI on the right-hand axis when a scale is given) and
// benchmark difficulty against slope. Each plot writes its data
// and script next to the images, so it can be re-drawn by hand. Without gnuplot the plots are skipped
// and the result says so. The runner itself is io/gnuplot.hpp.

#include <ward/io/gnuplot.hpp>  // core only: the gnuplot runner shared with eval/
#include <ward/irt/dataset.hpp>
#include <ward/irt/eci.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/report.hpp>
#include <ward/irt/trend.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace ward::irt {

// The gnuplot pieces live in io/gnuplot.hpp (core only, no tensors); these names stay for irt's users.
using PlotResult = io::PlotResult;
using io::find_gnuplot;

/// Capability against release date: every model, the frontier (with its intervals when `low`/`high`
/// are given, e.g. the bootstrap's), the trend and its forecast band; with `eci`, the right-hand axis
/// reads the same heights in ECI.
inline PlotResult plot_capabilities(const std::string& dir, const Dataset& d, const FitResult& f, const Trend& t,
                                    const std::vector<ForecastPoint>& band, const std::vector<double>* low = nullptr,
                                    const std::vector<double>* high = nullptr, const EciScale* eci = nullptr) {
    std::ostringstream all, front, fc;
    for (index_t m = 0; m < d.num_models(); ++m) {
        const auto i = static_cast<std::size_t>(m);
        if (!std::isnan(d.release[i])) all << d.release[i] << '\t' << f.capability[i] << '\n';
    }
    const bool bars = low && high;
    for (std::size_t k = 0; k < t.frontier.models.size(); ++k) {
        const auto m = static_cast<std::size_t>(t.frontier.models[k]);
        const double c = t.frontier.capability[k];
        front << t.frontier.date[k] << '\t' << c << "\t\"" << io::gnuplot_label(d.models[m]) << "\"\t"
              << (bars ? (*low)[m] : c) << '\t' << (bars ? (*high)[m] : c) << '\n';
    }
    for (const auto& p : band)
        fc << p.date << '\t' << p.mean << '\t' << p.mean_low << '\t' << p.mean_high << '\t' << p.prediction_low << '\t'
           << p.prediction_high << '\n';
    const std::string base = (std::filesystem::path(dir) / "capabilities").string();
    std::ostringstream body;
    body << "set title 'Model capability over time (frontier slope " << number(t.line.slope, 3) << " per year, 95% CI ["
         << number(t.slope_low, 3) << ", " << number(t.slope_high, 3) << "]";
    if (eci) body << "; " << number(t.line.slope * eci->per_capability(), 3) << " ECI per year";
    body << ")'\nset xlabel 'release date (year)'\nset ylabel 'capability'\nset grid\nset key top left\n";
    if (eci) {  // ECI = eci_a + k (C - C_a): the right-hand axis, linked to the left one, ticks at round steps
        const double k = eci->per_capability(), c0 = eci->capability_a, e0 = eci->reference.eci_a;
        double lo = t.frontier.capability.front(), hi = lo;
        for (const auto& p : band) { lo = std::min(lo, p.prediction_low); hi = std::max(hi, p.prediction_high); }
        for (double c : f.capability) { lo = std::min(lo, c); hi = std::max(hi, c); }
        const double raw = std::abs(k) * (hi - lo) / 8, decade = std::pow(10.0, std::floor(std::log10(raw)));
        const double step = raw <= decade ? decade : raw <= 2 * decade ? 2 * decade : raw <= 5 * decade ? 5 * decade : 10 * decade;
        body << "set y2label "
             << io::gnuplot_quote("ECI (" + io::gnuplot_label(eci->reference.model_a) + " = " + number(e0) + ", " +
                                  io::gnuplot_label(eci->reference.model_b) + " = " + number(eci->reference.eci_b) + ")")
             << "\nset ytics nomirror\nset y2tics " << number(step) << "\nset link y2 via " << number(e0, 17) << " + " << number(k, 17) << " * (y - " << number(c0, 17)
             << ") inverse " << number(c0, 17) << " + (y - " << number(e0, 17) << ") / " << number(k, 17) << "\n";
    }
    body << "plot " << io::gnuplot_quote(base + "_trend.dat") << " using 1:5:6 with filledcurves lc rgb '#dde6f5' title '95% prediction band', \\\n"
         << "     '' using 1:3:4 with filledcurves lc rgb '#a9bfe6' title '95% CI of the trend', \\\n"
         << "     '' using 1:2 with lines lw 2 lc rgb '#1f4e9e' title 'frontier trend', \\\n"
         << "     " << io::gnuplot_quote(base + "_models.dat") << " using 1:2 with points pt 7 ps 0.5 lc rgb '#999999' title 'models', \\\n"
         << "     " << io::gnuplot_quote(base + "_frontier.dat")
         << (bars ? " using 1:2:4:5 with yerrorbars pt 7 ps 1.0 lc rgb '#c0392b' title 'frontier (top-1 at release), 95% CI', \\\n"
                  : " using 1:2 with points pt 7 ps 1.0 lc rgb '#c0392b' title 'frontier (top-1 at release)', \\\n")
         << "     '' using 1:2:3 with labels offset 0.5,0.6 left font ',7' notitle\n";
    return io::run_gnuplot(dir, "capabilities", body.str(),
                           {{"capabilities_models.dat", all.str()},
                            {"capabilities_frontier.dat", front.str()},
                            {"capabilities_trend.dat", fc.str()}});
}

/// Benchmark difficulty against slope, labelled.
inline PlotResult plot_benchmarks(const std::string& dir, const Dataset& d, const FitResult& f) {
    std::ostringstream data;
    for (index_t b = 0; b < d.num_benchmarks(); ++b) {
        const auto i = static_cast<std::size_t>(b);
        data << f.difficulty[i] << '\t' << f.slope[i] << "\t\"" << io::gnuplot_label(d.benchmarks[i]) << "\"\n";
    }
    const std::string base = (std::filesystem::path(dir) / "benchmarks").string();
    std::ostringstream body;
    body << "set title 'Benchmarks: difficulty and slope'\nset xlabel 'difficulty'\nset ylabel 'slope'\nset logscale y\n"
         << "set grid\nplot " << io::gnuplot_quote(base + ".dat") << " using 1:2 with points pt 7 lc rgb '#1f4e9e' notitle, \\\n"
         << "     '' using 1:2:3 with labels offset 0.6,0.4 left font ',8' notitle\n";
    return io::run_gnuplot(dir, "benchmarks", body.str(), {{"benchmarks.dat", data.str()}});
}

}  // namespace ward::irt
