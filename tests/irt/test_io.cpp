// Readers: the CSV grammar, the clean-up rules (clip, keep the maximum, count), and clear errors that
// name file, line and column for malformed input.
#include <boost/test/unit_test.hpp>

#include <ward/irt/csv.hpp>
#include <ward/irt/date.hpp>
#include <ward/irt/long_csv.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace ward::irt;

namespace {

std::string temp_file(const std::string& name, const std::string& content) {
    const auto dir = std::filesystem::temp_directory_path() / ("ward_irt_io_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto p = (dir / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
}

/// Runs f, expects a parse_error whose message contains every one of `parts`.
template <class F>
void expect_parse_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        BOOST_ERROR("no exception thrown");
    } catch (const ward::parse_error& e) {
        const std::string msg = e.what();
        for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_io)

BOOST_AUTO_TEST_CASE(csv_grammar) {
    // BOM, quoted comma, doubled quote, newline inside quotes, CRLF, blank line, short row padded.
    const std::string text = "\xEF\xBB\xBFid,name,notes\r\n1,\"a, b\",\"say \"\"hi\"\"\"\r\n\r\n2,c,\"two\nlines\"\n3,d\n";
    const CsvTable t = parse_csv(text, "mem.csv");
    BOOST_TEST(t.header.size() == 3u);
    BOOST_TEST(t.header[0] == "id");  // BOM stripped
    BOOST_TEST(t.size() == 3);
    BOOST_TEST(t.cell(0, 1) == "a, b");
    BOOST_TEST(t.cell(0, 2) == "say \"hi\"");
    BOOST_TEST(t.cell(1, 2) == "two\nlines");
    BOOST_TEST(t.row_line[1] == 4);  // the row after the blank line
    BOOST_TEST(t.row_line[2] == 6);  // line numbers count the newline inside quotes
    BOOST_TEST(t.cell(2, 2) == "");
    expect_parse_error([] { parse_csv("a,b\n1,2,3\n", "wide.csv"); }, {"wide.csv:2", "3 fields"});
    expect_parse_error([] { parse_csv("a,b\n1,\"open\n", "q.csv"); }, {"q.csv:2", "unterminated"});
}

BOOST_AUTO_TEST_CASE(numbers_and_dates) {
    const CellLocation at{"f.csv", 7, 3};
    BOOST_TEST(parse_number(" 0.25 ", at) == 0.25);
    BOOST_TEST(parse_number("83.5%", at, true) == 83.5);
    expect_parse_error([&] { parse_number("83.5%", at); }, {"f.csv:7:3", "83.5%"});
    expect_parse_error([&] { parse_number("n/a", at); }, {"f.csv:7:3"});
    Date d;
    BOOST_TEST(try_parse_date("2024-03-01", d));
    BOOST_TEST(d.year == 2024);
    BOOST_TEST(try_parse_date("2024/12/21", d));
    BOOST_TEST(d.month == 12);
    BOOST_TEST(try_parse_date("24/1/2025", d));  // day first, as in os_world.csv
    BOOST_TEST((d.year == 2025 && d.month == 1 && d.day == 24));
    BOOST_TEST(!try_parse_date("2023-02-29", d));
    BOOST_TEST(!try_parse_date("", d));
    // decimal years: 2024 is a leap year, 1 July is day 182 of 366
    BOOST_TEST(std::abs(decimal_year({2024, 7, 1}) - (2024 + 182.0 / 366)) < 1e-12);
    BOOST_TEST(format_decimal_year(decimal_year({2023, 11, 30})) == "2023-11-30");
    BOOST_TEST(days_from_civil({1970, 1, 1}) == 0);
    BOOST_TEST(days_from_civil({2000, 3, 1}) == 11017);
}

BOOST_AUTO_TEST_CASE(long_csv_cleanup_is_counted) {
    const auto p = temp_file("scores.csv",
                             "model,benchmark,score,release_date,compute\n"
                             "A,X,0.5,2024-01-01,1e24\n"
                             "A,X,0.7,2024-01-01,\n"   // duplicate: the maximum is kept
                             "A,Y,1.2,,\n"             // out of [0, 1]: clipped to 0.999
                             "B,X,,2024-06-01,\n"      // empty score: skipped, counted
                             "B,Y,0.0,2024-06-01,\n"); // clipped to 0.001
    const Dataset d = read_long_csv(p);
    BOOST_TEST(d.num_obs() == 3);
    BOOST_TEST(d.num_models() == 2);
    const auto a = d.model_index("A"), x = d.benchmark_index("X"), y = d.benchmark_index("Y");
    for (const auto& o : d.obs) {
        if (o.model == a && o.benchmark == x) BOOST_TEST(o.score == 0.7);
        if (o.model == a && o.benchmark == y) BOOST_TEST(o.score == 0.999);
        if (o.model != a) BOOST_TEST(o.score == 0.001);
    }
    BOOST_TEST(d.report.get("duplicate (model, benchmark) rows merged (kept maximum)") == 1);
    BOOST_TEST(d.report.get("rows with an empty score (skipped)") == 1);
    BOOST_TEST(d.report.get("scores outside [0, 1]") == 1);
    BOOST_TEST(d.report.get("scores clipped into [0.001, 0.999]") == 2);
    BOOST_TEST(std::abs(d.release[static_cast<std::size_t>(a)] - 2024.0) < 1e-12);
    BOOST_TEST(d.compute[static_cast<std::size_t>(a)] == 1e24);
    BOOST_TEST(std::isnan(d.compute[static_cast<std::size_t>(d.model_index("B"))]));
}

BOOST_AUTO_TEST_CASE(bad_csvs_give_clear_errors) {
    const auto missing = temp_file("missing.csv", "model,bench,score\nA,X,0.5\n");
    expect_parse_error([&] { read_long_csv(missing); }, {"missing.csv:1", "missing column 'benchmark'", "'bench'"});

    const auto text = temp_file("text.csv", "model,benchmark,score\nA,X,0.5\nA,Y,high\n");
    expect_parse_error([&] { read_long_csv(text); }, {"text.csv:3:3", "expected a number", "'high'"});

    const auto date = temp_file("date.csv", "model,benchmark,score,release_date\nA,X,0.5,March 2024\n");
    expect_parse_error([&] { read_long_csv(date); }, {"date.csv:2:4", "March 2024"});

    const auto conflict = temp_file("conflict.csv", "model,benchmark,score,release_date\nA,X,0.5,2024-01-01\nA,Y,0.5,2024-02-01\n");
    expect_parse_error([&] { read_long_csv(conflict); }, {"conflict.csv:3:4", "conflicting release dates"});

    const auto scores = temp_file("ok.csv", "model,benchmark,score\nA,X,0.5\nB,X,0.6\n");
    Dataset d = read_long_csv(scores);
    const auto meta = temp_file("meta.csv", "model,release_date\nA,2024-01-01\nGhost,2024-02-02\n");
    expect_parse_error([&] { join_model_metadata(d, meta); }, {"meta.csv:3:1", "unknown model 'Ghost'"});
    // The lenient policy skips it and says so.
    MetadataJoinOptions lenient;
    lenient.unknown = UnknownModel::skip_and_count;
    join_model_metadata(d, meta, lenient);
    BOOST_TEST(d.report.get("metadata rows for unknown models (skipped): " + meta) == 1);
    BOOST_TEST(std::abs(d.release[static_cast<std::size_t>(d.model_index("A"))] - 2024.0) < 1e-12);

    BOOST_CHECK_THROW(read_long_csv("/nonexistent/scores.csv"), ward::io_error);
}

BOOST_AUTO_TEST_CASE(a_benchmark_column_without_a_name_is_a_parse_error) {
    // Its name would become the benchmark's: the file is at fault, and the message says where.
    const auto p = temp_file("unnamed.csv", "Model,MMLU,\na,0.5,0.25\n");
    WideCsvOptions o;
    o.benchmark_columns = {"MMLU", ""};
    expect_parse_error([&] { read_wide_csv(p, o); }, {"unnamed.csv:1:3", "a benchmark column without a name"});
}

BOOST_AUTO_TEST_CASE(wide_csv_and_filters) {
    const auto p = temp_file("wide.csv",
                             "Model,Family,FLOPs,MMLU,GSM8K\n"
                             "a-7b,a,1.5,0.4,0.1\n"
                             "a-70b,a,15,0.6,\n"
                             "b-1b,b,0.2,0.3,0.05\n");
    WideCsvOptions o;
    o.benchmark_columns = {"MMLU", "GSM8K"};
    o.family_column = "Family";
    o.compute_column = "FLOPs";
    o.compute_scale = 1e21;
    Dataset d = read_wide_csv(p, o);
    BOOST_TEST(d.num_obs() == 5);
    BOOST_TEST(d.report.get("empty score cells (skipped)") == 1);
    BOOST_TEST(d.compute[static_cast<std::size_t>(d.model_index("a-70b"))] == 15e21);
    BOOST_TEST(d.family[static_cast<std::size_t>(d.model_index("b-1b"))] == "b");
    filter_min_benchmarks(d, 1);  // keep models with more than one benchmark
    BOOST_TEST(d.num_models() == 2);
    BOOST_TEST(d.report.get("rows dropped: model has 1 or fewer benchmarks") == 1);
    BOOST_TEST(d.model_begin.back() == d.num_obs());
    d.validate();
}

BOOST_AUTO_TEST_SUITE_END()
