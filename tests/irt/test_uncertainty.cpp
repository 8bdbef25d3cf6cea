// Bootstrap and profile intervals: determinism (same seed, any thread count), coverage of the truth on
// simulated data, and the profile's defining property checked by direct evaluation.
#include <boost/test/unit_test.hpp>

#include <ward/irt/bootstrap.hpp>
#include <ward/irt/profile.hpp>
#include <ward/irt/simulate.hpp>

using namespace ward::irt;

namespace {

struct World {
    Simulation sim;
    FitOptions opt;
    FitResult fit;
};

const World& world() {
    static const World w = [] {
        SimulationOptions o;
        o.models_per_year = 16;
        o.benchmarks_per_year = 4;
        o.observed_fraction = 0.4;
        o.noise = 0.03;
        o.seed = 12;
        World x{simulate(o), {}, {}};
        x.opt.anchor = Anchor::on_benchmark("bench_000");
        x.opt.lambda = 0.0;
        x.fit = fit(x.sim.data, x.opt);
        return x;
    }();
    return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_uncertainty)

BOOST_AUTO_TEST_CASE(resampling_keeps_every_model_and_its_row_count) {
    const auto& d = world().sim.data;
    std::vector<double> w;
    resample_weights(d, 99, w);
    for (ward::index_t m = 0; m < d.num_models(); ++m) {
        double total = 0;
        for (auto i = d.model_begin[static_cast<std::size_t>(m)]; i < d.model_begin[static_cast<std::size_t>(m) + 1]; ++i)
            total += w[static_cast<std::size_t>(i)];
        BOOST_TEST(total == static_cast<double>(d.model_begin[static_cast<std::size_t>(m) + 1] - d.model_begin[static_cast<std::size_t>(m)]));
    }
    std::vector<double> w2;
    resample_weights(d, 99, w2);
    BOOST_TEST(w == w2);
    resample_weights(d, 100, w2);
    BOOST_TEST(w != w2);
}

BOOST_AUTO_TEST_CASE(same_seed_same_intervals_for_any_thread_count) {
    const auto& x = world();
    BootstrapOptions one{.replicates = 24, .seed = 5, .level = 0.9, .threads = 1};
    BootstrapOptions two = one;
    two.threads = 2;
    const auto a = bootstrap(x.sim.data, x.opt, x.fit, one);
    const auto b = bootstrap(x.sim.data, x.opt, x.fit, two);
    BOOST_TEST((a.capability - b.capability).lpNorm<Eigen::Infinity>() == 0.0);
    BOOST_TEST(a.capability_low == b.capability_low);
    two.seed = 6;
    const auto c = bootstrap(x.sim.data, x.opt, x.fit, two);
    BOOST_TEST((a.capability - c.capability).lpNorm<Eigen::Infinity>() > 0.0);
    // Every replicate is an anchored fit.
    const auto anchor = static_cast<ward::index_t>(x.sim.data.benchmark_index("bench_000"));
    BOOST_TEST(a.difficulty.col(anchor).lpNorm<Eigen::Infinity>() < 1e-12);
    BOOST_TEST(a.not_converged == 0);
}

BOOST_AUTO_TEST_CASE(bootstrap_intervals_cover_the_truth) {
    const auto& x = world();
    const auto b = bootstrap(x.sim.data, x.opt, x.fit, {.replicates = 100, .seed = 1});
    const double shift = x.sim.difficulty[0];  // truth on the anchored scale
    int covered = 0;
    const auto M = x.sim.data.num_models();
    for (ward::index_t m = 0; m < M; ++m) {
        const auto i = static_cast<std::size_t>(m);
        BOOST_TEST(b.capability_low[i] <= b.capability_high[i]);
        covered += b.capability_low[i] <= x.sim.capability[i] - shift && x.sim.capability[i] - shift <= b.capability_high[i];
    }
    const double coverage = static_cast<double>(covered) / static_cast<double>(M);
    BOOST_TEST_MESSAGE("bootstrap 95% coverage of the true capabilities: " << coverage);
    BOOST_TEST(coverage > 0.8);  // nominal 0.95; percentile intervals of few rows per model run a bit short
}

BOOST_AUTO_TEST_CASE(profile_interval_ends_where_the_error_rises_five_percent) {
    const auto& x = world();
    const auto& d = x.sim.data;
    const ProfileInterval p = profile_intervals(d, x.fit, x.opt);
    for (ward::index_t m = 0; m < d.num_models(); m += 7) {
        const auto i = static_cast<std::size_t>(m);
        const double c = x.fit.capability[i];
        BOOST_TEST(p.low[i] < c);
        BOOST_TEST(p.high[i] > c);
        const double target = 1.05 * model_sse(d, x.fit, m, c) + 1e-9;
        BOOST_TEST(std::abs(model_sse(d, x.fit, m, p.low[i]) - target) < 1e-9 * std::max(1.0, target));
        BOOST_TEST(std::abs(model_sse(d, x.fit, m, p.high[i]) - target) < 1e-9 * std::max(1.0, target));
        // and inside the interval the error stays below the target (checked on a grid)
        for (int k = 1; k < 10; ++k) BOOST_TEST(model_sse(d, x.fit, m, p.low[i] + (p.high[i] - p.low[i]) * k / 10.0) <= target);
    }
    BOOST_TEST(p.hit_bound == 0);
}

BOOST_AUTO_TEST_SUITE_END()
