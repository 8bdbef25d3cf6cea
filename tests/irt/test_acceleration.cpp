// The detection study end to end: a strong planted acceleration is found most of the time, and a
// world without one rarely triggers the detector. Also: simulated worlds are reproducible by seed.
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
    BOOST_TEST_MESSAGE("power " << s.power << ", false-positive rate " << s.false_positive_rate << ", failed " << s.failed);
    BOOST_TEST(s.power >= 0.75);
    BOOST_TEST(s.false_positive_rate <= 0.25);
    BOOST_TEST(s.failed == 0);
    // The median slope ratio is near the planted 3 with, and near 1 without, the acceleration.
    BOOST_TEST(quantile(s.ratio_accelerated, 0.5) > 2.0);
    BOOST_TEST(quantile(s.ratio_null, 0.5) < 1.6);
}

BOOST_AUTO_TEST_SUITE_END()
