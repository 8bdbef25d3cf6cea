// Judges: an external program (awk, sh) reads the pairs as JSON Lines and its numbers come back in
// order; a failing program, a wrong number of lines, a non-number and a score outside [0, 1] are
// errors that name the line; a function judge checks its range too.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ward/eval/judge.hpp>

#include "error_message.hpp"

using namespace ward;
using eval::ExternalCommandJudge;

namespace {

const std::vector<std::string> prompts = {"tell me", "how do I", "a \"quoted\"\nprompt"};
const std::vector<std::string> completions = {"no", "a harmful answer here", "ok"};

using ward::testing::message_of;

}  // namespace

static_assert(eval::Judge<ExternalCommandJudge>);

BOOST_AUTO_TEST_SUITE(eval_judge)

BOOST_AUTO_TEST_CASE(stdin_jsonl_is_one_object_per_pair) {
    // Scores from line lengths: awk counts characters of each JSONL line, scaled into [0, 1].
    ExternalCommandJudge by_length({"awk", "{ print length($0) / 1000 }"});
    auto s = by_length.score(prompts, completions);
    BOOST_REQUIRE_EQUAL(s.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        const std::string line = nlohmann::json({{"prompt", prompts[i]}, {"completion", completions[i]}}).dump();
        BOOST_TEST(s[i] == double(line.size()) / 1000, boost::test_tools::tolerance(1e-9));
    }
}

BOOST_AUTO_TEST_CASE(the_program_sees_valid_json_with_the_fields) {
    // A shell pipeline keeps a copy of its input; the test parses each line with nlohmann.
    const auto dir = std::filesystem::temp_directory_path() / "ward_test_judge";
    std::filesystem::create_directories(dir);
    const auto copy = dir / "seen.jsonl";
    auto j = ExternalCommandJudge::shell("tee '" + copy.string() + "' | awk '{ print (index($0, \"harmful\") > 0) ? 1 : 0 }'");
    auto s = j.score(prompts, completions);
    BOOST_TEST(s == (std::vector<double>{0, 1, 0}), boost::test_tools::per_element());
    std::ifstream in(copy);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
        auto obj = nlohmann::json::parse(line);
        BOOST_TEST(obj.at("prompt").get<std::string>() == prompts[n]);
        BOOST_TEST(obj.at("completion").get<std::string>() == completions[n]);
        ++n;
    }
    BOOST_TEST(n == 3u);
}

BOOST_AUTO_TEST_CASE(input_placeholder_passes_a_file) {
    ExternalCommandJudge j({"awk", "{ print NR / 10 }", "{input}"});
    BOOST_TEST(j.score(prompts, completions) == (std::vector<double>{0.1, 0.2, 0.3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(no_pairs_start_no_process) {
    ExternalCommandJudge j({"/nonexistent/program"});
    BOOST_TEST(j.score({}, {}).empty());
}

BOOST_AUTO_TEST_CASE(errors_are_clear) {
    // A failing command: its status and stderr are in the message.
    auto fail = ExternalCommandJudge::shell("echo judge broke >&2; exit 3");
    std::string m = message_of<ward::backend_error>([&] { fail.score(prompts, completions); });
    BOOST_TEST(m.find("status 3") != std::string::npos);
    BOOST_TEST(m.find("judge broke") != std::string::npos);

    // A program that does not exist.
    BOOST_CHECK_THROW(ExternalCommandJudge({"ward-no-such-program-xyz"}).score(prompts, completions), ward::error);

    // Too few lines.
    m = message_of<ward::parse_error>([&] { ExternalCommandJudge::shell("echo 0.1; echo 0.2").score(prompts, completions); });
    BOOST_TEST(m.find("2 lines for 3 pairs") != std::string::npos);

    // A non-number, named by its line.
    m = message_of<ward::parse_error>(
        [&] { ExternalCommandJudge::shell("printf '0.1\\nharmful\\n0.3\\n'").score(prompts, completions); });
    BOOST_TEST(m.find("line 2") != std::string::npos);
    BOOST_TEST(m.find("'harmful'") != std::string::npos);
    BOOST_CHECK_THROW(ExternalCommandJudge::shell("printf '0.1\\n0.2x\\nnan\\n'").score(prompts, completions), ward::parse_error);

    // Out of range, and allowed when asked.
    m = message_of<ward::value_error>([&] { ExternalCommandJudge::shell("printf '0.1\\n0.2\\n1.5\\n'").score(prompts, completions); });
    BOOST_TEST(m.find("line 3") != std::string::npos);
    auto loose = ExternalCommandJudge::shell("printf '0.1\\n-2\\n1.5\\n'", {.name = "logits", .timeout_s = 0, .require_unit_interval = false});
    BOOST_TEST(loose.score(prompts, completions) == (std::vector<double>{0.1, -2, 1.5}), boost::test_tools::per_element());
    BOOST_TEST(loose.name() == "logits");

    // Mismatched inputs, and a timeout.
    BOOST_CHECK_THROW(fail.score({"a"}, {"b", "c"}), ward::value_error);
    auto slow = ExternalCommandJudge::shell("sleep 5", {.name = "", .timeout_s = 0.2, .require_unit_interval = true});
    m = message_of<ward::backend_error>([&] { slow.score(prompts, completions); });
    BOOST_TEST(m.find("timeout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(function_judge) {
    eval::FunctionJudge kw("keyword", [](const std::string&, const std::string& c) { return c.find("harmful") != std::string::npos ? 1.0 : 0.0; });
    static_assert(eval::Judge<decltype(kw)>);
    BOOST_TEST(kw.score(prompts, completions) == (std::vector<double>{0, 1, 0}), boost::test_tools::per_element());
    eval::FunctionJudge bad("bad", [](const std::string&, const std::string&) { return 2.0; });
    BOOST_CHECK_THROW(bad.score(prompts, completions), ward::value_error);
}

BOOST_AUTO_TEST_SUITE_END()
