// The detection study end to end: a strong planted acceleration is found most of the time, and a
// world without one triggers the detectors less often; the paper's simulated world is what it says
// (slopes, saturation, noise, observed fraction, the truth indexed like the data). Also: simulated
// worlds are reproducible by seed.
#include <boost/test/unit_test.hpp>

#include <ward/irt/acceleration.hpp>

using namespace ward::irt;

BOOST_AUTO_TEST_SUITE(irt_acceleration)

BOOST_AUTO_TEST_CASE(simulation_is_seeded) {
    SimulationOptions o;
    o.seed = 4;
    const Simulation a = simulate(o), b = simulate(o);
    BOOST_TEST(a.data.num_obs() == b.data.num_obs());
    BOOST_TEST(a.capability == b.capability);
    o.seed = 5;
    BOOST_TEST(simulate(o).capability != a.capability);
    // Observation fraction as asked (plus the few forced pairs).
    const double frac = static_cast<double>(a.data.num_obs()) / static_cast<double>(a.data.num_models() * a.data.num_benchmarks());
    BOOST_TEST(std::abs(frac - 0.3) < 0.03);
}

BOOST_AUTO_TEST_CASE(power_and_false_positive_rate) {
    SimulationOptions o;
    o.start_year = 2020;
    o.end_year = 2026;
    o.models_per_year = 30;
    o.slope_per_year = 0.5;
    o.acceleration_year = 2023.5;
    o.slope_after = 1.5;  // a tripling of the growth rate
    o.model_spread = 0.3;
    const DetectionStudy s = detection_study(o, 16, /*seed=*/3);
    BOOST_TEST_MESSAGE("F-test rule: power " << s.f_test.power << ", false-positive rate " << s.f_test.false_positive_rate
                       << ", failed " << s.f_test.failed << "; paper's rule: power " << s.paper.power
                       << ", false-positive rate " << s.paper.false_positive_rate);
    BOOST_TEST(s.f_test.power >= 0.75);
    BOOST_TEST(s.f_test.false_positive_rate <= 0.25);
    BOOST_TEST(s.f_test.failed == 0);
    // The median slope ratio is near the planted 3 with, and near 1 without, the acceleration.
    BOOST_TEST(quantile(s.ratio_accelerated, 0.5) > 2.0);
    BOOST_TEST(quantile(s.ratio_null, 0.5) < 1.6);
}

BOOST_AUTO_TEST_CASE(the_papers_world) {
    const SimulationOptions o = paper_detection_world(4.0, 5);
    const Simulation sim = simulate(o);
    const Dataset& d = sim.data;
    BOOST_TEST(d.num_models() <= 180);  // 30 a year for 6 years, less those with no unsaturated pair drawn
    BOOST_TEST(d.num_models() >= 120);
    BOOST_TEST(sim.capability.size() == d.models.size());
    BOOST_TEST(sim.slope.size() == d.benchmarks.size());
    for (double a : sim.slope) BOOST_TEST_REQUIRE((a >= 3.0 && a <= 10.0));
    // The truth lines up with the data after the unobserved are left out: every score is its pair's true
    // score plus noise of sd 0.025 (clipped at 0.95), and only pairs with true scores in [0.05, 0.95] are seen.
    double sq = 0;
    for (const auto& ob : d.obs) {
        const auto b = static_cast<std::size_t>(ob.benchmark);
        const double p = sigmoid(sim.slope[b] * (sim.capability[static_cast<std::size_t>(ob.model)] - sim.difficulty[b]));
        BOOST_TEST_REQUIRE((p >= 0.05 && p <= 0.95));
        BOOST_TEST_REQUIRE(ob.score <= 0.95);
        sq += (ob.score - p) * (ob.score - p);
    }
    const double rms = std::sqrt(sq / static_cast<double>(d.num_obs()));
    BOOST_TEST(rms > 0.018);
    BOOST_TEST(rms < 0.03);
    // A quarter of the unsaturated pairs is observed (a little more among the models kept, which all have one).
    std::size_t eligible = 0;
    for (std::size_t m = 0; m < d.models.size(); ++m)
        for (std::size_t b = 0; b < d.benchmarks.size(); ++b) {
            const double p = sigmoid(sim.slope[b] * (sim.capability[m] - sim.difficulty[b]));
            eligible += p >= 0.05 && p <= 0.95;
        }
    const double frac = static_cast<double>(d.num_obs()) / static_cast<double>(eligible);
    BOOST_TEST(frac > 0.22);
    BOOST_TEST(frac < 0.33);
}

BOOST_AUTO_TEST_CASE(the_papers_study_recovers_a_known_acceleration) {
    // Growth 3.5/6 per year, four times faster after 2028: both rules find it in nearly every world; the
    // least-squares slope ratio recovers the planted 4, and stays near 1 in the same worlds without it.
    const DetectionStudy s = detection_study(paper_detection_world(4.0), 24, /*seed=*/11);
    BOOST_TEST_MESSAGE("paper's rule: power " << s.paper.power << ", false-positive rate " << s.paper.false_positive_rate
                       << "; F-test rule: power " << s.f_test.power << ", false-positive rate " << s.f_test.false_positive_rate
                       << "; median ratio " << quantile(s.ratio_accelerated, 0.5) << " (planted 4), "
                       << quantile(s.ratio_null, 0.5) << " without; median first hit " << quantile(s.paper_breakpoint, 0.5)
                       << "; " << s.seconds << " s");
    BOOST_TEST(s.paper.power >= 0.9);
    BOOST_TEST(s.f_test.power >= 0.9);
    BOOST_TEST(s.paper.failed == 0);
    BOOST_TEST(s.f_test.failed == 0);
    BOOST_TEST(std::abs(quantile(s.ratio_accelerated, 0.5) - 4.0) < 1.0);
    BOOST_TEST(quantile(s.ratio_null, 0.5) < 1.6);
    // The scan starts at the acceleration (2028); the first hit comes within a year of it.
    const double first_hit = quantile(s.paper_breakpoint, 0.5);
    BOOST_TEST(first_hit >= 2028.0);
    BOOST_TEST(first_hit < 2029.0);
    for (std::size_t r = 0; r < s.paper_ratio.size(); ++r)
        if (!std::isnan(s.paper_ratio[r])) BOOST_TEST_REQUIRE(s.paper_ratio[r] >= 2.0);
    // The null worlds fire less often than the accelerated ones, under either rule.
    BOOST_TEST(s.paper.false_positive_rate < s.paper.power);
    BOOST_TEST(s.f_test.false_positive_rate < s.f_test.power);
    // Seeded by (seed, world): a shorter study with the same seed repeats the first worlds exactly.
    const DetectionStudy again = detection_study(paper_detection_world(4.0), 8, /*seed=*/11);
    for (std::size_t r = 0; r < again.paper_breakpoint.size(); ++r) {
        BOOST_TEST_REQUIRE((again.paper_breakpoint[r] == s.paper_breakpoint[r] ||
                            (std::isnan(again.paper_breakpoint[r]) && std::isnan(s.paper_breakpoint[r]))));
        BOOST_TEST_REQUIRE(again.ratio_accelerated[r] == s.ratio_accelerated[r]);
        BOOST_TEST_REQUIRE(again.ratio_null[r] == s.ratio_null[r]);
    }
}

BOOST_AUTO_TEST_SUITE_END()
