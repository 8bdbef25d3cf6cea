// The defence x attack report: JSON round trip (NaN as null, extra metrics, probes, metadata); the
// summary's means, standard deviations and ranges against hand computation; CSV and table contents;
// write_report's files, with plots when gnuplot is on PATH.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <ward/eval/report.hpp>

using namespace ward;
namespace fs = std::filesystem;

namespace {

eval::Report example() {
    eval::Report r;
    // none: harm_after 0.6, 0.7, 0.8 at lr 3e-5; 0.9, 1.0 at lr 8e-5 (two seeds). repnoise: 0.1, 0.3 at 3e-5.
    auto add = [&](std::string d, double lr, std::uint64_t seed, double before, double after, double loss) {
        r.records.push_back({d, lr, 1000, 1, seed, before, after, loss, {{"refusal_rate", 1 - after}}});
    };
    add("none", 3e-5, 1, 0.1, 0.6, 2.0);
    add("none", 3e-5, 2, 0.2, 0.7, 2.2);
    add("none", 3e-5, 3, 0.3, 0.8, 2.4);
    add("none", 8e-5, 1, 0.1, 0.9, 2.1);
    add("none", 8e-5, 2, 0.1, 1.0, eval::not_measured);
    add("repnoise", 3e-5, 1, 0.05, 0.1, 2.5);
    add("repnoise", 3e-5, 2, 0.05, 0.3, 2.7);
    r.probes.push_back({"none", 1, {0.9, 0.95, 1.0}, {1.0, 1.0, 1.0}});
    r.probes.push_back({"none", 2, {0.8, 0.85, 1.0}, {}});
    r.probes.push_back({"repnoise", 1, {0.6, 0.55, 0.5}, {0.7, 0.6, 0.5}});
    r.metadata = {{"model", "gpt2"}, {"judge", "classifier(gpt2)"}};
    return r;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eval_report)

BOOST_AUTO_TEST_CASE(json_round_trip) {
    const eval::Report r = example();
    const eval::Report back = eval::report_from_json(nlohmann::json::parse(eval::to_json(r).dump()));
    BOOST_REQUIRE_EQUAL(back.records.size(), r.records.size());
    for (std::size_t i = 0; i < r.records.size(); ++i) {
        const auto &a = r.records[i], &b = back.records[i];
        BOOST_TEST(a.defence == b.defence);
        BOOST_TEST(a.attack_lr == b.attack_lr);
        BOOST_TEST(a.attack_samples == b.attack_samples);
        BOOST_TEST(a.attack_epochs == b.attack_epochs);
        BOOST_TEST(a.seed == b.seed);
        BOOST_TEST(a.harm_before == b.harm_before);
        BOOST_TEST(a.harm_after == b.harm_after);
        BOOST_TEST((a.harmless_loss == b.harmless_loss || (std::isnan(a.harmless_loss) && std::isnan(b.harmless_loss))));
        BOOST_TEST(a.metrics == b.metrics);
    }
    BOOST_TEST(std::isnan(back.records[4].harmless_loss));
    BOOST_TEST(eval::to_json(r)["records"][4]["harmless_loss"].is_null());
    BOOST_REQUIRE_EQUAL(back.probes.size(), 3u);
    BOOST_TEST(back.probes[0].accuracy == r.probes[0].accuracy, boost::test_tools::per_element());
    BOOST_TEST(back.probes[1].train_accuracy.empty());
    BOOST_TEST(back.metadata == r.metadata);

    BOOST_CHECK_THROW(eval::report_from_json(nlohmann::json::object()), ward::parse_error);
    auto bad = eval::to_json(r);
    bad["records"][0]["harm_after"] = "high";
    BOOST_CHECK_THROW(eval::report_from_json(bad), ward::parse_error);
}

BOOST_AUTO_TEST_CASE(summary_against_hand_computation) {
    const auto rows = eval::summarize(example());
    BOOST_REQUIRE_EQUAL(rows.size(), 3u);
    // Order: defences as they first appear, then by lr.
    BOOST_TEST(rows[0].defence == "none");
    BOOST_TEST(rows[0].attack_lr == 3e-5);
    BOOST_TEST(rows[1].attack_lr == 8e-5);
    BOOST_TEST(rows[2].defence == "repnoise");
    const auto tol = boost::test_tools::tolerance(1e-12);
    // none @ 3e-5: harm_after 0.6, 0.7, 0.8: mean 0.7, sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1.
    BOOST_TEST(rows[0].seeds == 3u);
    BOOST_TEST(rows[0].harm_after.mean == 0.7, tol);
    BOOST_TEST(rows[0].harm_after.std == 0.1, tol);
    BOOST_TEST(rows[0].harm_after.min == 0.6);
    BOOST_TEST(rows[0].harm_after.max == 0.8);
    BOOST_TEST(rows[0].harm_before.mean == 0.2, tol);
    BOOST_TEST(rows[0].harmless_loss.mean == 2.2, tol);
    BOOST_TEST(rows[0].harmless_loss.std == 0.2, tol);
    // none @ 8e-5: harm_after 0.9, 1.0: std sqrt(0.005) ; harmless loss measured once.
    BOOST_TEST(rows[1].harm_after.mean == 0.95, tol);
    BOOST_TEST(rows[1].harm_after.std == std::sqrt(0.005), tol);
    BOOST_TEST(rows[1].harmless_loss.n == 1u);
    BOOST_TEST(rows[1].harmless_loss.mean == 2.1, tol);
    BOOST_TEST(rows[1].harmless_loss.std == 0.0);
    // repnoise: 0.1, 0.3.
    BOOST_TEST(rows[2].harm_after.mean == 0.2, tol);
    BOOST_TEST(rows[2].harm_after.std == std::sqrt(0.02), tol);

    const std::string table = eval::format_table(rows);
    BOOST_TEST(table.find("0.700 ± 0.100 [0.600, 0.800]") != std::string::npos);
    BOOST_TEST(table.find("repnoise") != std::string::npos);
    std::size_t lines = 0;
    for (char c : table) lines += c == '\n';
    BOOST_TEST(lines == 5u);  // header, rule, three rows

    const std::string csv = eval::summary_csv(rows);
    BOOST_TEST(csv.find("none,3e-05,1000,1,3,0.2,") == 0u + csv.find('\n') + 1);
}

BOOST_AUTO_TEST_CASE(records_csv_columns) {
    const std::string csv = eval::records_csv(example());
    std::istringstream in(csv);
    std::string header, first;
    std::getline(in, header);
    std::getline(in, first);
    BOOST_TEST(header ==
               "defence,attack_lr,attack_samples,attack_epochs,seed,harm_before,harm_after,harmless_loss,"
               "attack,attack_batch,attack_optimizer,attack_lora_rank,attack_warmup,refusal_rate");
    BOOST_TEST(first == "none,3e-05,1000,1,1,0.1,0.6,2,grid,0,adamw,0,0,0.4");
    BOOST_TEST(csv.find("none,8e-05,1000,1,2,0.1,1,,grid,0,adamw,0,0,0\n") != std::string::npos);  // NaN is empty
}

namespace {
// Two defences, two seeds; each seed has the grid's two attacks and two searched ones, with a
// second held-out set (harm_unseen_after). Worst cases by hand:
//   none, seed 1: grid 0.6, 0.9; search 0.95 (lora), 0.5      -> 0.95; unseen 0.2, 0.3, 0.8, 0.1 -> 0.8
//   none, seed 2: grid 0.7, 1.0; search 0.4, 0.3              -> 1.0 (grid, lr 8e-5); unseen -> 0.6
//   repnoise, seed 1: grid 0.1, 0.2; search 0.6 (sgd), 0.3    -> 0.6; unseen -> 0.5
//   repnoise, seed 2: grid 0.3, 0.1; search 0.2, 0.4          -> 0.4; unseen -> 0.35
eval::Report searched() {
    eval::Report r;
    auto add = [&](std::string d, std::uint64_t seed, const char* source, double lr, std::int64_t samples, std::int64_t epochs,
                   double after, double unseen, const char* optimizer, std::int64_t lora) {
        eval::AttackRecord a{d, lr, samples, epochs, seed, 0.05, after, 2.0 + double(seed), {{"harm_unseen_after", unseen}}};
        a.attack = source;
        a.attack_batch = 4;
        a.attack_optimizer = optimizer;
        a.attack_lora_rank = lora;
        r.records.push_back(a);
    };
    for (const char* d : {"none", "repnoise"})
        for (std::uint64_t seed : {1u, 2u}) {
            const bool none = std::string(d) == "none";
            const double g[2][2][2] = {{{0.6, 0.9}, {0.7, 1.0}}, {{0.1, 0.2}, {0.3, 0.1}}};
            const double s[2][2][2] = {{{0.95, 0.5}, {0.4, 0.3}}, {{0.6, 0.3}, {0.2, 0.4}}};
            const double u[2][2][4] = {{{0.2, 0.3, 0.8, 0.1}, {0.6, 0.5, 0.2, 0.1}}, {{0.1, 0.1, 0.5, 0.2}, {0.35, 0.1, 0.1, 0.3}}};
            const int i = none ? 0 : 1, k = int(seed) - 1;
            add(d, seed, "grid", 3e-5, 1000, 1, g[i][k][0], u[i][k][0], "adamw", 0);
            add(d, seed, "grid", 8e-5, 1000, 1, g[i][k][1], u[i][k][1], "adamw", 0);
            add(d, seed, "search", 1e-3, 400, 3, s[i][k][0], u[i][k][2], none ? "adam" : "sgd", none ? 8 : 0);
            add(d, seed, "search", 2e-4, 200, 2, s[i][k][1], u[i][k][3], "adamw", 0);
        }
    return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(worst_case_is_the_largest_harm_over_every_attack) {
    const auto cases = eval::worst_cases(searched());
    BOOST_REQUIRE_EQUAL(cases.size(), 4u);
    const double harm[] = {0.95, 1.0, 0.6, 0.4}, unseen[] = {0.8, 0.6, 0.5, 0.35};
    const char* defence[] = {"none", "none", "repnoise", "repnoise"};
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST(cases[i].defence == defence[i]);
        BOOST_TEST(cases[i].seed == 1u + i % 2);
        BOOST_TEST(cases[i].harm == harm[i]);
        BOOST_TEST(cases[i].held_out.at("unseen") == unseen[i]);
        BOOST_TEST(cases[i].attacks == 4u);
        BOOST_TEST(cases[i].examples == 1000.0 + 1000.0 + 1200.0 + 400.0);  // samples x epochs: the budget spent
    }
    BOOST_TEST(cases[0].attack == "lr 1e-03 x3 ep 400 ex b4 adam lora8");
    BOOST_TEST(cases[1].attack == "lr 8e-05 x1 ep 1000 ex b4 adamw");
    BOOST_TEST(cases[2].attack == "lr 1e-03 x3 ep 400 ex b4 sgd");

    const auto rows = eval::summarize_worst_cases(cases);
    BOOST_REQUIRE_EQUAL(rows.size(), 2u);
    const auto tol = boost::test_tools::tolerance(1e-12);
    BOOST_TEST(rows[0].harm.mean == 0.975, tol);
    BOOST_TEST(rows[0].harm.std == std::sqrt(2 * 0.025 * 0.025), tol);
    BOOST_TEST(rows[0].attack == "lr 8e-05 x1 ep 1000 ex b4 adamw");  // seed 2's, the larger worst case
    BOOST_TEST(rows[1].harm.mean == 0.5, tol);
    BOOST_TEST(rows[1].held_out.at("unseen").mean == 0.425, tol);
    BOOST_TEST(rows[1].harmless_loss.mean == 3.5, tol);
    BOOST_TEST(rows[1].attacks == 4.0);

    // The grid summary leaves the searched attacks out; held-out sets get their own columns.
    const auto grid = eval::summarize(searched());
    BOOST_TEST(grid.size() == 4u);
    BOOST_TEST(grid[0].harm_after.mean == 0.65, tol);
    BOOST_TEST(grid[0].held_out.at("unseen").mean == 0.4, tol);
    BOOST_TEST(eval::format_table(grid).find("harm after (unseen)") != std::string::npos);
    const std::string table = eval::format_worst_case_table(rows);
    BOOST_TEST(table.find("0.975 ± 0.035 [0.950, 1.000]") != std::string::npos, table);
    BOOST_TEST(table.find("worst case (unseen)") != std::string::npos);
    const auto json = eval::report_json(searched());
    BOOST_TEST(json["worst_case"][1]["defence"] == "repnoise");
    BOOST_TEST(json["worst_case"][1]["harm"]["max"] == 0.6);
    BOOST_TEST(json["worst_case"][1]["seeds"][0]["attack"] == "lr 1e-03 x3 ep 400 ex b4 sgd");
    BOOST_TEST(json["records"][2]["attack"] == "search");
    BOOST_TEST(json["records"][2]["attack_lora_rank"] == 8);
    // A version 1 report (no attack fields) reads as the grid's full fine-tuning with AdamW.
    auto v1 = eval::to_json(searched());
    for (auto& rec : v1["records"])
        for (const char* k : {"attack", "attack_batch", "attack_optimizer", "attack_lora_rank", "attack_warmup"}) rec.erase(k);
    const auto old = eval::report_from_json(v1);
    BOOST_TEST(old.records[2].attack == "grid");
    BOOST_TEST(old.records[2].attack_optimizer == "adamw");
}

BOOST_AUTO_TEST_CASE(write_report_files) {
    const fs::path dir = fs::temp_directory_path() / "ward_test_eval_report";
    fs::remove_all(dir);
    const auto files = eval::write_report(dir, example());
    for (const char* f : {"report.json", "records.csv", "summary.csv", "summary.txt"}) BOOST_TEST(fs::exists(dir / f));
    const eval::Report back = eval::read_report(dir / "report.json");
    BOOST_TEST(back.records.size() == 7u);
    BOOST_TEST(slurp(dir / "summary.txt") == files.table);
    if (io::find_gnuplot().empty()) {
        BOOST_TEST(files.messages.at(0).find("gnuplot not found") != std::string::npos);
    } else {
        for (const auto& m : files.messages) BOOST_TEST_MESSAGE(m);
        BOOST_TEST(fs::file_size(dir / "harm_after_attack.svg") > 0u);
        BOOST_TEST(fs::file_size(dir / "probe_accuracy.svg") > 0u);
        BOOST_TEST(fs::exists(dir / "harm_after_attack.png"));
    }
    // No temporary files are left behind.
    for (const auto& e : fs::directory_iterator(dir)) BOOST_TEST(e.path().filename().string().find(".tmp") == std::string::npos);
    BOOST_CHECK_THROW(eval::read_report(dir / "missing.json"), ward::io_error);
}

BOOST_AUTO_TEST_SUITE_END()
