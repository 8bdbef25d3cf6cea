// On the real data shipped in data/: the Epoch table as the
// paper builds it, the fit against scipy.optimize.least_squares on the same objective (fixture made by
// fixtures/make_epoch_reference.py), the anchor, and the ordering of well-known models.
#include <boost/test/unit_test.hpp>

#include <ward/irt/csv.hpp>
#include <ward/irt/eci.hpp>
#include <ward/irt/efficiency.hpp>
#include <ward/irt/epoch.hpp>
#include <ward/irt/fit.hpp>
#include <ward/irt/long_csv.hpp>
#include <ward/irt/trend.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <unistd.h>

using namespace ward::irt;

namespace {

const std::string data_dir = std::string(WARD_DATA_DIR) + "/benchmark-stitching";
const std::string obsscaling = std::string(WARD_DATA_DIR) + "/obsscaling/base_llm_benchmark_eval.csv";
const std::string fixture = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/')) + "/fixtures/epoch_reference.csv";

const Dataset& epoch() {
    static const Dataset d = read_epoch(data_dir);
    return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_real_data)

BOOST_AUTO_TEST_CASE(epoch_table_has_the_papers_counts) {
    // "A Rosetta Stone for AI Benchmarks" fits 1,324 scores of 179 models on 38 benchmarks; CSQA2, BoolQ,
    // MCBench and METR are not loaded.
    const Dataset& d = epoch();
    BOOST_TEST(d.num_obs() == 1324);
    BOOST_TEST(d.num_models() == 179);
    BOOST_TEST(d.num_benchmarks() == 38);
    for (const char* absent : {"CSQA2", "BoolQ", "MCBench", "METR"}) BOOST_TEST(d.benchmark_index(absent) == -1);
    for (const auto& o : d.obs) BOOST_TEST_REQUIRE((o.score >= 0.001 && o.score <= 0.999));
    // The anchor holds on the paper's table: Winogrande's difficulty is 0 and its slope 1, exactly.
    const FitResult f = fit(d);
    const auto w = static_cast<std::size_t>(d.benchmark_index("Winogrande"));
    BOOST_TEST(f.difficulty[w] == 0.0);
    BOOST_TEST(f.slope[w] == 1.0);
}

BOOST_AUTO_TEST_CASE(eci_of_the_reference_models) {
    // Epoch's scale: Claude 3.5 Sonnet (Oct 2024) = 130, GPT-5 (high) = 150, exactly, on the paper's table.
    const Dataset& d = epoch();
    const FitResult f = fit(d);
    const EciScale eci = eci_scale(d, f.capability);
    const auto claude = static_cast<std::size_t>(d.model_index("claude-3-5-sonnet-20241022"));
    const auto gpt5 = static_cast<std::size_t>(d.model_index("gpt-5-2025-08-07_high"));
    BOOST_TEST(eci(f.capability[claude]) == 130.0);
    BOOST_TEST(eci(f.capability[gpt5]) == 150.0);
    // GPT-5 (high) is above Claude 3.5 Sonnet on C, so the map is increasing and keeps every ranking.
    BOOST_TEST(eci.per_capability() > 0.0);
    const auto o3 = static_cast<std::size_t>(d.model_index("o3-2025-04-16_high"));
    BOOST_TEST(eci(f.capability[o3]) > 130.0);
    BOOST_TEST(eci(f.capability[o3]) < 150.0);
    BOOST_TEST_MESSAGE("ECI points per unit of C: " << eci.per_capability());
}

BOOST_AUTO_TEST_CASE(epoch_fit_matches_scipy_reference) {
    const Dataset& d = epoch();
    const FitResult f = fit(d);
    BOOST_TEST(f.converged);
    const CsvTable ref = read_csv(fixture);
    double worst = 0;
    std::string worst_name;
    for (ward::index_t r = 0; r < ref.size(); ++r) {
        const auto& kind = ref.cell(r, 0);
        const auto& name = ref.cell(r, 1);
        const double v = parse_number(ref.cell(r, 2), ref.where(r, 2));
        if (kind == "meta") {
            if (name == "observations") BOOST_TEST(d.num_obs() == static_cast<ward::index_t>(v));
            if (name == "models") BOOST_TEST(d.num_models() == static_cast<ward::index_t>(v));
            if (name == "benchmarks") BOOST_TEST(d.num_benchmarks() == static_cast<ward::index_t>(v));
            if (name == "objective") BOOST_TEST(f.objective <= v + 1e-9);  // scipy's optimum, or better
            continue;
        }
        const bool is_model = kind == "capability";
        const auto i = is_model ? d.model_index(name) : d.benchmark_index(name);
        BOOST_TEST_REQUIRE(i >= 0, "unknown name in fixture: " << name);
        const auto u = static_cast<std::size_t>(i);
        const double mine = is_model ? f.capability[u] : kind == "difficulty" ? f.difficulty[u] : f.slope[u];
        if (std::abs(mine - v) > worst) { worst = std::abs(mine - v); worst_name = kind + " " + name; }
    }
    BOOST_TEST_MESSAGE("largest difference to scipy: " << worst << " (" << worst_name << ")");
    BOOST_TEST(worst < 1e-5);  // scipy reaches first-order optimality ~1e-7 (dense trust-region steps)
}

BOOST_AUTO_TEST_CASE(epoch_anchor_and_ordering) {
    const Dataset& d = epoch();
    const FitResult f = fit(d);
    const auto w = static_cast<std::size_t>(d.benchmark_index("Winogrande"));
    BOOST_TEST(std::abs(f.difficulty[w]) < 1e-12);
    BOOST_TEST(f.slope[w] == 1.0);
    auto C = [&](const char* m) {
        const auto i = d.model_index(m);
        BOOST_TEST_REQUIRE(i >= 0, m << " not in the data");
        return f.capability[static_cast<std::size_t>(i)];
    };
    // Generations within one lab, and sizes within one family.
    BOOST_TEST(C("gpt-5-2025-08-07_medium") > C("o3-2025-04-16_medium"));
    BOOST_TEST(C("o3-2025-04-16_medium") > C("o1-2024-12-17_medium"));
    BOOST_TEST(C("o1-2024-12-17_medium") > C("gpt-4o-2024-05-13"));
    BOOST_TEST(C("gpt-4o-2024-05-13") > C("gpt-3.5-turbo-0613"));
    BOOST_TEST(C("claude-3-5-sonnet-20241022") > C("claude-3-opus-20240229"));
    BOOST_TEST(C("claude-3-opus-20240229") > C("claude-3-haiku-20240307"));
    BOOST_TEST(C("Llama-2-70b-hf") > C("Llama-2-13b"));
    BOOST_TEST(C("Llama-2-13b") > C("Llama-2-7b"));
    // Capability grows along the frontier.
    const Trend t = frontier_trend(d, f.capability);
    BOOST_TEST(t.slope_low > 0.0);
    BOOST_TEST_MESSAGE("frontier growth " << t.line.slope << " per year [" << t.slope_low << ", " << t.slope_high << "]");
}

BOOST_AUTO_TEST_CASE(obsscaling_compute_within_families) {
    WideCsvOptions o;
    o.benchmark_columns = {"MMLU", "ARC-C", "HellaSwag", "Winograd", "TruthfulQA", "GSM8K", "XWinograd", "HumanEval"};
    o.family_column = "Model Family";
    o.compute_column = "FLOPs (1E21)";
    o.compute_scale = 1e21;
    const Dataset d = read_wide_csv(obsscaling, o);
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("Winograd");
    const FitResult f = fit(d, opt);
    BOOST_TEST(f.converged);
    // No release dates in this table: the within-family compute slope k is what it can give. Bigger
    // models of one family are more capable, so k > 0, and compute explains most of the within-family
    // spread.
    EfficiencyResult e;
    BOOST_CHECK_THROW(e = algorithmic_efficiency(d, f.capability), ward::value_error);  // needs dates for db/dt
    const auto l7 = d.model_index("meta-llama/Llama-2-7b-hf"), l70 = d.model_index("meta-llama/Llama-2-70b-hf");
    BOOST_TEST(f.capability[static_cast<std::size_t>(l70)] > f.capability[static_cast<std::size_t>(l7)]);
    std::map<std::string, std::vector<std::size_t>> fam;
    for (std::size_t m = 0; m < d.models.size(); ++m)
        if (d.compute[m] > 0 && !d.family[m].empty()) fam[d.family[m]].push_back(m);
    double sxy = 0, sxx = 0;
    for (const auto& [name, ms] : fam) {
        if (ms.size() < 2) continue;
        double mx = 0, my = 0;
        for (auto m : ms) { mx += std::log(d.compute[m]); my += f.capability[m]; }
        mx /= static_cast<double>(ms.size()); my /= static_cast<double>(ms.size());
        for (auto m : ms) { sxy += (std::log(d.compute[m]) - mx) * (f.capability[m] - my); sxx += std::pow(std::log(d.compute[m]) - mx, 2); }
    }
    BOOST_TEST(sxy / sxx > 0.05);
    BOOST_TEST_MESSAGE("ObsScaling within-family k = " << sxy / sxx << " per e-fold of training compute");
}

BOOST_AUTO_TEST_CASE(unknown_model_in_the_epoch_join) {
    // A copy of the layout with one extra model, scored on four tasks but absent from model_versions.csv.
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("ward_irt_epoch_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(data_dir))
        fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
    fs::permissions(dir / "benchmarks_runs.csv", fs::perms::owner_write, fs::perm_options::add);
    {
        std::ofstream out(dir / "benchmarks_runs.csv", std::ios::app);
        out << "\n";  // the file may not end with a newline (a blank line is skipped)
        for (const char* task : {"GPQA diamond", "MATH level 5", "OTIS Mock AIME 2024-2025", "SWE-Bench verified"})
            out << "x," << task << ",ghost-model,0.5,,,,,,Success,,1\n";
    }
    EpochOptions strict;
    strict.unknown_model = UnknownModel::error;
    try {
        read_epoch(dir.string(), strict);
        BOOST_ERROR("no error for a model missing from model_versions.csv");
    } catch (const ward::parse_error& e) {
        const std::string msg = e.what();
        BOOST_TEST(msg.find("model_versions.csv") != std::string::npos);
        BOOST_TEST(msg.find("'ghost-model'") != std::string::npos);
    }
    const Dataset lenient = read_epoch(dir.string());  // the paper's inner join: dropped and counted
    BOOST_TEST(lenient.model_index("ghost-model") == -1);
    BOOST_TEST(lenient.report.get("models dropped: model not in model_versions.csv") == 1);
    BOOST_TEST(lenient.report.get("rows dropped: model not in model_versions.csv") == 4);
    BOOST_TEST(lenient.num_obs() == epoch().num_obs());
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
