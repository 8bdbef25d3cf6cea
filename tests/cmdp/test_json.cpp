// CMDPs from JSON: the committed fixtures, a round trip, and malformed input named by file and field.
#include <boost/test/unit_test.hpp>

#include <ward/cmdp/json.hpp>
#include <ward/cmdp/lp.hpp>

#include "error_message.hpp"

#include <filesystem>

using namespace ward::cmdp;
using ward::testing::message_of;

namespace {

const std::string fixtures = (std::filesystem::path(__FILE__).parent_path() / "fixtures").string();

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(cmdp_json)

BOOST_AUTO_TEST_CASE(reads_the_two_state_fixture) {
    const Cmdp m = read_json(fixtures + "/two_state.json");  // its "description" field is ignored
    BOOST_TEST(m.states == 2u);
    BOOST_TEST(m.actions == 2u);
    BOOST_TEST(m.state_name(0) == "start");
    BOOST_TEST(m.action_name(1) == "act");
    BOOST_TEST(m.P[0][1][1] == 1.0);
    BOOST_TEST(m.cost[0][1] == 1.0);
    BOOST_TEST(std::abs(solve_lp(m).value - 5.0 / 3) < 1e-12);  // worked by hand in test_lp.cpp
    const Cmdp counted = read_json(fixtures + "/slack.json");    // states and actions as counts
    BOOST_TEST(counted.state_names.empty());
    BOOST_TEST(counted.state_name(1) == "1");
}

BOOST_AUTO_TEST_CASE(round_trip) {
    const Cmdp m = read_json(fixtures + "/two_state.json");
    const Cmdp back = from_json(nlohmann::json::parse(to_json(m).dump()));
    BOOST_TEST(back.P == m.P);
    BOOST_TEST(back.reward == m.reward);
    BOOST_TEST(back.cost == m.cost);
    BOOST_TEST(back.mu0 == m.mu0);
    BOOST_TEST(back.gamma == m.gamma);
    BOOST_TEST(back.threshold == m.threshold);
    BOOST_TEST(back.state_names == m.state_names);
    const nlohmann::json s = to_json(solve_lp(m));
    BOOST_TEST(std::abs(s["optimal_value"].get<double>() - 5.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(s["lagrange_multiplier"].get<double>() - 2.5) < 1e-12);
    BOOST_TEST(s["policy"].size() == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_files_name_the_file_and_field) {
    const std::string bad = fixtures + "/bad_probabilities.json";
    BOOST_TEST(message_of<ward::value_error>([&] { read_json(bad); }) == bad + ": P[1][0] sums to 0.9, not 1 (tolerance 1e-06)");
    const std::string missing = fixtures + "/missing_field.json";
    BOOST_TEST(message_of<ward::parse_error>([&] { read_json(missing); }) == missing + ": missing field 'gamma'");
    const std::string broken = fixtures + "/not_json.json";
    BOOST_TEST(contains(message_of<ward::parse_error>([&] { read_json(broken); }), broken + ": not valid JSON: "));
    BOOST_TEST(contains(message_of<ward::io_error>([&] { read_json(fixtures + "/no_such_file.json"); }), "cannot open the file"));
}

BOOST_AUTO_TEST_CASE(wrong_types_are_parse_errors) {
    nlohmann::json j = to_json(read_json(fixtures + "/two_state.json"));
    j["gamma"] = "0.5";
    BOOST_TEST(message_of<ward::parse_error>([&] { from_json(j, "f.json"); }) == "f.json: field 'gamma' must be a number, not string");
    j = to_json(read_json(fixtures + "/two_state.json"));
    j["P"][1][0][1] = nullptr;
    BOOST_TEST(message_of<ward::parse_error>([&] { from_json(j, "f.json"); }) == "f.json: field 'P[1][0][1]' must be a number, not null");
    j = to_json(read_json(fixtures + "/two_state.json"));
    j["reward"][0] = 3;
    BOOST_TEST(contains(message_of<ward::parse_error>([&] { from_json(j, "f.json"); }), "field 'reward[0]' must be an array of numbers"));
    j["states"] = 0;
    BOOST_TEST(contains(message_of<ward::parse_error>([&] { from_json(j, "f.json"); }), "field 'states' must be a positive integer"));
    j = to_json(read_json(fixtures + "/two_state.json"));
    j["cost"] = {{0, 1}};  // one state short
    BOOST_TEST(message_of<ward::shape_error>([&] { from_json(j, "f.json"); }) == "f.json: cost has 1 entries, expected 2 (states)");
    BOOST_TEST(contains(message_of<ward::parse_error>([&] { from_json(nlohmann::json::array(), "f.json"); }), "expected a JSON object"));
}

BOOST_AUTO_TEST_SUITE_END()
