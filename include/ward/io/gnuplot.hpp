#pragma once
// Plots drawn by gnuplot at run time (never linked): find the executable on $PATH, quote strings for a
// gnuplot script, and run a script body for an SVG and a PNG, with its data files and the script
// itself written (atomically) next to the images, so a plot can be re-drawn by hand. Without gnuplot
// the plot is skipped and the result says so. Needs core only (no tensors), so irt/ and eval/ both
// use it.

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "ward/io/atomic_file.hpp"

namespace ward::io {

/// What one plot did: drawn (and the image files), or skipped (no gnuplot) or failed, with the reason.
struct PlotResult {
    bool drawn = false;
    std::string message;
    std::vector<std::string> files;
    bool skipped = false;  // gnuplot was not found (not drawn, and not a failure)
};

/// Path of the gnuplot executable found in `search_path` (colon-separated folders, an empty entry
/// meaning "."), or "" when there is none.
inline std::string find_gnuplot(std::string_view search_path) {
    namespace fs = std::filesystem;
    std::stringstream ss{std::string(search_path)};
    std::string dir;
    while (std::getline(ss, dir, ':')) {
        const fs::path p = fs::path(dir.empty() ? "." : dir) / "gnuplot";
        std::error_code ec;
        if (fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0) return p.string();
    }
    return "";
}

/// Path of the gnuplot executable found on $PATH (/usr/bin:/usr/local/bin when PATH is unset), or "".
inline std::string find_gnuplot() {
    const char* path = std::getenv("PATH");
    return find_gnuplot(path ? path : "/usr/bin:/usr/local/bin");
}

/// `s` as a single-quoted gnuplot string (a quote inside is doubled; nothing else is special).
inline std::string gnuplot_quote(std::string_view s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
}

/// `s` made safe inside a double-quoted data column (a label): double quotes, tabs and newlines
/// become single quotes, underscores spaces (gnuplot's enhanced text would subscript them).
inline std::string gnuplot_label(std::string_view s) {
    std::string out;
    for (char c : s) out += (c == '"' || c == '\t' || c == '\n') ? '\'' : (c == '_' ? ' ' : c);
    return out;
}

namespace detail {
/// `s` as one single-quoted word for /bin/sh (a quote inside becomes '\'').
inline std::string shell_quote(std::string_view s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}
}  // namespace detail

/// A data file for a plot: written as `<dir>/<name>` before gnuplot runs (whether or not it is found).
struct GnuplotData {
    std::string name;
    std::string content;
};

struct GnuplotOptions {
    /// Folders searched for gnuplot in place of $PATH (colon-separated); unset: $PATH.
    std::optional<std::string> search_path;
};

/// Draws `<dir>/<name>.svg` and `.png`: writes `data` into `dir` (created if needed), then (when gnuplot
/// is found) the script `<dir>/<name>.gp` (the SVG terminal, `body`, then the PNG terminal and a
/// replot) and runs it, gnuplot's messages going to `<dir>/<name>.gnuplot.log`. Every file is written
/// atomically. Throws io_error when a file cannot be written; a missing gnuplot or a failing script
/// is reported in the result.
inline PlotResult run_gnuplot(const std::filesystem::path& dir, const std::string& name, const std::string& body,
                              const std::vector<GnuplotData>& data = {}, const GnuplotOptions& opt = {}) {
    std::filesystem::create_directories(dir);
    for (const auto& d : data) write_atomically(dir / d.name, d.content);
    PlotResult r;
    const std::string gp = opt.search_path ? find_gnuplot(*opt.search_path) : find_gnuplot();
    if (gp.empty()) {
        r.skipped = true;
        r.message = "gnuplot not found: " + name + " plots skipped";
        return r;
    }
    const std::string base = (dir / name).string();
    const std::string script =
        "set terminal svg size 1000,650 dynamic background rgb 'white'\n"
        "set output " + gnuplot_quote(base + ".svg") + "\n" + body +
        "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 1000,650 } else { set terminal png size 1000,650 }\n"
        "set output " + gnuplot_quote(base + ".png") + "\nreplot\nset output\n";
    write_atomically(base + ".gp", script);
    // The shell's quoting, not gnuplot's: a path with a quote in it must reach gnuplot intact.
    const std::string cmd = detail::shell_quote(gp) + " " + detail::shell_quote(base + ".gp") + " 2>" +
                            detail::shell_quote(base + ".gnuplot.log");
    const int rc = std::system(cmd.c_str());
    if (rc != 0) {
        r.message = "gnuplot failed for " + name + " (see " + base + ".gnuplot.log)";
        return r;
    }
    r.drawn = true;
    r.files = {base + ".svg", base + ".png"};
    r.message = "wrote " + base + ".svg and .png";
    return r;
}

}  // namespace ward::io
