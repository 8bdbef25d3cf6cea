// The real gnuplot, end to end: a trivial script through gnuplot's quoting and the shell's draws an
// SVG and a PNG. Skipped (CTest reports it) where gnuplot is not on PATH.
#include <boost/test/unit_test.hpp>

#include <ward/io/gnuplot.hpp>

#include <filesystem>
#include <string>

#include "skip.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ward;
using ward_test::read_file;

BOOST_AUTO_TEST_SUITE(io_gnuplot_drawing)

BOOST_AUTO_TEST_CASE(real_gnuplot_draws_svg_and_png) {
    if (io::find_gnuplot().empty()) return ward_test::skip("gnuplot is not on PATH: drawing not checked");
    ward_test::TempDir root("ward-gnuplot");
    const fs::path out = root.path / "it's a $plot";  // gnuplot's quoting and the shell's, end to end
    const std::string data = (out / "squares.dat").string();
    const std::string body = "set title " + io::gnuplot_quote("it's \"squares\" ± 1") + "\nplot " + io::gnuplot_quote(data) +
                             " using 1:2 with linespoints title " + io::gnuplot_quote(io::gnuplot_label("x_squared")) + "\n";
    const auto r = io::run_gnuplot(out, "squares", body, {{"squares.dat", "1\t1\n2\t4\n3\t9\n"}});
    BOOST_TEST_MESSAGE(r.message);
    BOOST_TEST(r.drawn);
    BOOST_TEST(!r.skipped);
    const std::string base = (out / "squares").string();
    BOOST_REQUIRE(r.files.size() == 2u);
    BOOST_TEST(r.files[0] == base + ".svg");
    BOOST_TEST(r.files[1] == base + ".png");
    const std::string svg = read_file(base + ".svg"), png = read_file(base + ".png");
    BOOST_TEST(svg.find("<svg") != std::string::npos);
    BOOST_TEST(svg.find("</svg>") != std::string::npos);
    BOOST_TEST(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0u);
    BOOST_TEST(fs::file_size(base + ".gnuplot.log") == 0u);  // no warnings: the quoting held
    for (const auto& e : fs::directory_iterator(out)) BOOST_TEST(e.path().filename().string().find(".tmp") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
