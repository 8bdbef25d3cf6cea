// The gnuplot runner: quoting of awkward strings against literals written by hand; finding the
// executable in a given search path (an empty folder, a non-executable file, a stand-in script); a
// missing gnuplot skips the plot but still writes its data; a failing gnuplot is reported; paths with
// quotes, spaces and $ reach it intact. test_gnuplot_drawing.cpp runs the real gnuplot.
#include <boost/test/unit_test.hpp>

#include <ward/io/gnuplot.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using namespace ward;

namespace {

/// A fresh directory under the system's temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ward_test_gnuplot_XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& content, bool executable) {
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), executable ? 0755 : 0644);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_gnuplot)

BOOST_AUTO_TEST_CASE(quote_awkward_strings) {
    BOOST_TEST(io::gnuplot_quote("") == "''");
    BOOST_TEST(io::gnuplot_quote("plain") == "'plain'");
    BOOST_TEST(io::gnuplot_quote("it's") == "'it''s'");
    BOOST_TEST(io::gnuplot_quote("''") == "''''''");
    // Inside single quotes gnuplot treats backslashes, double quotes, $ and ± literally.
    BOOST_TEST(io::gnuplot_quote("a\"b\\n $HOME ± x") == "'a\"b\\n $HOME ± x'");
    BOOST_TEST(io::gnuplot_quote("/tmp/o'brien/plot.svg") == "'/tmp/o''brien/plot.svg'");
    // The command line around it uses the shell's rule instead: close, an escaped quote, reopen.
    BOOST_TEST(io::detail::shell_quote("") == "''");
    BOOST_TEST(io::detail::shell_quote("/tmp/o'brien/a b $x") == "'/tmp/o'\\''brien/a b $x'");
}

BOOST_AUTO_TEST_CASE(label_awkward_strings) {
    BOOST_TEST(io::gnuplot_label("") == "");
    BOOST_TEST(io::gnuplot_label("repnoise") == "repnoise");
    BOOST_TEST(io::gnuplot_label("say \"hi\"") == "say 'hi'");
    BOOST_TEST(io::gnuplot_label("a\tb\nc") == "a'b'c");
    BOOST_TEST(io::gnuplot_label("gpt_4o_mini") == "gpt 4o mini");
    BOOST_TEST(io::gnuplot_label("it's ± 1") == "it's ± 1");
}

BOOST_AUTO_TEST_CASE(find_in_a_search_path) {
    TempDir empty, plain, fake;
    BOOST_TEST(io::find_gnuplot(empty.path.string()) == "");
    write_file(plain.path / "gnuplot", "not a program\n", false);
    BOOST_TEST(io::find_gnuplot(plain.path.string()) == "");  // not executable
    write_file(fake.path / "gnuplot", "#!/bin/sh\nexit 0\n", true);
    BOOST_TEST(io::find_gnuplot(fake.path.string()) == (fake.path / "gnuplot").string());
    // The first folder that has one wins; missing folders are passed over.
    const std::string path = (empty.path / "missing").string() + ":" + plain.path.string() + ":" + fake.path.string();
    BOOST_TEST(io::find_gnuplot(path) == (fake.path / "gnuplot").string());
}

BOOST_AUTO_TEST_CASE(missing_gnuplot_skips_but_writes_the_data) {
    TempDir empty, out;
    const fs::path dir = out.path / "new" / "folder";  // created by run_gnuplot
    const auto r = io::run_gnuplot(dir, "squares", "plot 'squares.dat' using 1:2\n", {{"squares.dat", "1\t1\n2\t4\n"}},
                                   {.search_path = empty.path.string()});
    BOOST_TEST(!r.drawn);
    BOOST_TEST(r.skipped);
    BOOST_TEST(r.files.empty());
    BOOST_TEST(r.message == "gnuplot not found: squares plots skipped");
    BOOST_TEST(slurp(dir / "squares.dat") == "1\t1\n2\t4\n");
    BOOST_TEST(!fs::exists(dir / "squares.gp"));
    BOOST_TEST(!fs::exists(dir / "squares.svg"));
}

BOOST_AUTO_TEST_CASE(failing_gnuplot_is_reported) {
    TempDir bin, out;
    write_file(bin.path / "gnuplot", "#!/bin/sh\necho 'line 1: broken' >&2\nexit 1\n", true);
    const auto r = io::run_gnuplot(out.path, "broken", "plot x\n", {}, {.search_path = bin.path.string()});
    BOOST_TEST(!r.drawn);
    BOOST_TEST(!r.skipped);
    BOOST_TEST(r.files.empty());
    const std::string base = (out.path / "broken").string();
    BOOST_TEST(r.message == "gnuplot failed for broken (see " + base + ".gnuplot.log)");
    BOOST_TEST(slurp(base + ".gnuplot.log") == "line 1: broken\n");
    // The script is there to re-run by hand: the SVG terminal, the body, then the PNG pass.
    const std::string gp = slurp(base + ".gp");
    BOOST_TEST(gp.rfind("set terminal svg size 1000,650 dynamic background rgb 'white'\nset output '" + base + ".svg'\nplot x\n", 0) == 0u);
    BOOST_TEST(gp.find("set output '" + base + ".png'\nreplot\nset output\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(awkward_paths_reach_gnuplot_intact) {
    // A stand-in gnuplot that succeeds only when handed the script that was written, and says so
    // on stderr (which must land in the log next to it). Folders with a quote, a space and a $.
    TempDir root;
    const fs::path bin = root.path / "o'bin $x", out = root.path / "it's a \"plot\" $HOME";
    fs::create_directories(bin);
    write_file(bin / "gnuplot", "#!/bin/sh\n[ -f \"$1\" ] || exit 3\necho \"ran $1\" >&2\n", true);
    const auto r = io::run_gnuplot(out, "p", "plot x\n", {}, {.search_path = bin.string()});
    BOOST_TEST_MESSAGE(r.message);
    BOOST_TEST(r.drawn);
    const std::string base = (out / "p").string();
    BOOST_TEST(slurp(base + ".gnuplot.log") == "ran " + base + ".gp\n");
}

BOOST_AUTO_TEST_SUITE_END()
