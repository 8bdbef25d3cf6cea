#pragma once
// Plots drawn by gnuplot at run time (never linked): capability over time (all models, the frontier,
// its trend and the forecast band) and benchmark difficulty against slope. Each plot writes its data
// and script next to the images, so it can be re-drawn by hand. Without gnuplot the plots are skipped
// and the result says so.

#include <ward/irt/dataset.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/report.hpp>
#include <ward/irt/trend.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace ward::irt {

struct PlotResult {
    bool drawn = false;
    std::string message;
    std::vector<std::string> files;
};

/// Path of the gnuplot executable found on $PATH, or "" when there is none.
inline std::string find_gnuplot() {
    namespace fs = std::filesystem;
    const char* path = std::getenv("PATH");
    std::stringstream ss(path ? path : "/usr/bin:/usr/local/bin");
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        const fs::path p = fs::path(dir.empty() ? "." : dir) / "gnuplot";
        std::error_code ec;
        if (fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0) return p.string();
    }
    return "";
}

namespace detail {
inline std::string gp_quote(const std::string& s) {  // a single-quoted gnuplot string
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
}
inline std::string label(const std::string& s) {  // safe inside a double-quoted data column
    std::string out;
    for (char c : s) out += (c == '"' || c == '\t' || c == '\n') ? '\'' : (c == '_' ? ' ' : c);
    return out;
}
/// Writes `script` (with OUTPUT replaced per terminal) and runs gnuplot for SVG and PNG.
inline PlotResult run_gnuplot(const std::string& dir, const std::string& name, const std::string& body) {
    PlotResult r;
    const std::string gp = find_gnuplot();
    if (gp.empty()) { r.message = "gnuplot not found: " + name + " plots skipped"; return r; }
    const std::string base = (std::filesystem::path(dir) / name).string();
    std::string script =
        "set terminal svg size 1000,650 dynamic background rgb 'white'\n"
        "set output " + gp_quote(base + ".svg") + "\n" + body +
        "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 1000,650 } else { set terminal png size 1000,650 }\n"
        "set output " + gp_quote(base + ".png") + "\nreplot\nset output\n";
    write_file_atomic(base + ".gp", script);
    const std::string cmd = gp_quote(gp) + " " + gp_quote(base + ".gp") + " 2>" + gp_quote(base + ".gnuplot.log");
    const int rc = std::system(cmd.c_str());
    if (rc != 0) { r.message = "gnuplot failed for " + name + " (see " + base + ".gnuplot.log)"; return r; }
    r.drawn = true;
    r.files = {base + ".svg", base + ".png"};
    r.message = "wrote " + base + ".svg and .png";
    return r;
}
}  // namespace detail

/// Capability against release date: every model, the frontier (with its intervals when `low`/`high`
/// are given, e.g. the bootstrap's), the trend and its forecast band.
inline PlotResult plot_capabilities(const std::string& dir, const Dataset& d, const FitResult& f, const Trend& t,
                                    const std::vector<ForecastPoint>& band, const std::vector<double>* low = nullptr,
                                    const std::vector<double>* high = nullptr) {
    std::ostringstream all, front, fc;
    for (index_t m = 0; m < d.num_models(); ++m) {
        const auto i = static_cast<std::size_t>(m);
        if (!std::isnan(d.release[i])) all << d.release[i] << '\t' << f.capability[i] << '\n';
    }
    const bool bars = low && high;
    for (std::size_t k = 0; k < t.frontier.models.size(); ++k) {
        const auto m = static_cast<std::size_t>(t.frontier.models[k]);
        const double c = t.frontier.capability[k];
        front << t.frontier.date[k] << '\t' << c << "\t\"" << detail::label(d.models[m]) << "\"\t"
              << (bars ? (*low)[m] : c) << '\t' << (bars ? (*high)[m] : c) << '\n';
    }
    for (const auto& p : band)
        fc << p.date << '\t' << p.mean << '\t' << p.mean_low << '\t' << p.mean_high << '\t' << p.prediction_low << '\t'
           << p.prediction_high << '\n';
    const std::string base = (std::filesystem::path(dir) / "capabilities").string();
    write_file_atomic(base + "_models.dat", all.str());
    write_file_atomic(base + "_frontier.dat", front.str());
    write_file_atomic(base + "_trend.dat", fc.str());
    std::ostringstream body;
    body << "set title 'Model capability over time (frontier slope " << number(t.line.slope, 3) << " per year, 95% CI ["
         << number(t.slope_low, 3) << ", " << number(t.slope_high, 3) << "])'\n"
         << "set xlabel 'release date (year)'\nset ylabel 'capability'\nset grid\nset key top left\n"
         << "plot " << detail::gp_quote(base + "_trend.dat") << " using 1:5:6 with filledcurves lc rgb '#dde6f5' title '95% prediction band', \\\n"
         << "     '' using 1:3:4 with filledcurves lc rgb '#a9bfe6' title '95% CI of the trend', \\\n"
         << "     '' using 1:2 with lines lw 2 lc rgb '#1f4e9e' title 'frontier trend', \\\n"
         << "     " << detail::gp_quote(base + "_models.dat") << " using 1:2 with points pt 7 ps 0.5 lc rgb '#999999' title 'models', \\\n"
         << "     " << detail::gp_quote(base + "_frontier.dat")
         << (bars ? " using 1:2:4:5 with yerrorbars pt 7 ps 1.0 lc rgb '#c0392b' title 'frontier (top-1 at release), 95% CI', \\\n"
                  : " using 1:2 with points pt 7 ps 1.0 lc rgb '#c0392b' title 'frontier (top-1 at release)', \\\n")
         << "     '' using 1:2:3 with labels offset 0.5,0.6 left font ',7' notitle\n";
    return detail::run_gnuplot(dir, "capabilities", body.str());
}

/// Benchmark difficulty against slope, labelled.
inline PlotResult plot_benchmarks(const std::string& dir, const Dataset& d, const FitResult& f) {
    std::ostringstream data;
    for (index_t b = 0; b < d.num_benchmarks(); ++b) {
        const auto i = static_cast<std::size_t>(b);
        data << f.difficulty[i] << '\t' << f.slope[i] << "\t\"" << detail::label(d.benchmarks[i]) << "\"\n";
    }
    const std::string base = (std::filesystem::path(dir) / "benchmarks").string();
    write_file_atomic(base + ".dat", data.str());
    std::ostringstream body;
    body << "set title 'Benchmarks: difficulty and slope'\nset xlabel 'difficulty'\nset ylabel 'slope'\nset logscale y\n"
         << "set grid\nplot " << detail::gp_quote(base + ".dat") << " using 1:2 with points pt 7 lc rgb '#1f4e9e' notitle, \\\n"
         << "     '' using 1:2:3 with labels offset 0.6,0.4 left font ',8' notitle\n";
    return detail::run_gnuplot(dir, "benchmarks", body.str());
}

}  // namespace ward::irt
