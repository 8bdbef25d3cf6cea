// The solver against independent references: finite differences of the objective and residuals,
// a dense solve of the same normal equations, truth recovered from simulated data, and invariances.
#include <boost/test/unit_test.hpp>

#include <ward/irt/fit.hpp>
#include <ward/irt/simulate.hpp>

#include <cmath>
#include <numeric>

using namespace ward::irt;

namespace {

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

// (operator+ on a literal and to_string trips a false -Wrestrict in GCC 12)
std::string name(const char* prefix, int i) {
    std::string s = prefix;
    s += std::to_string(i);
    return s;
}

Simulation small_sim(std::uint64_t seed, double noise = 0.01) {
    SimulationOptions o;
    o.models_per_year = 16;
    o.benchmarks_per_year = 3;
    o.observed_fraction = 0.5;
    o.noise = noise;
    o.seed = seed;
    return simulate(o);
}

FitOptions anchored_on_sim() {
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("bench_000");
    return opt;
}

Eigen::VectorXd interior_point(const Problem& p, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Eigen::VectorXd th(p.size());
    for (ward::index_t j = 0; j < p.size(); ++j)
        th[j] = j >= p.M + p.B ? 1.0 + 0.5 * u(rng) : 2.0 * u(rng);
    for (ward::index_t j = 0; j < p.size(); ++j)
        if (p.fixed[static_cast<std::size_t>(j)]) th[j] = p.start[static_cast<std::size_t>(j)];
    return th;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_fit)

BOOST_AUTO_TEST_CASE(jacobian_matches_finite_differences) {
    const auto sim = small_sim(3);
    FitOptions opt = anchored_on_sim();
    opt.floor["bench_001"] = 0.25;  // exercise floor and ceiling too
    opt.ceiling["bench_002"] = 0.9;
    const Problem p = make_problem(sim.data, opt);
    const Eigen::VectorXd th = interior_point(p, 7);
    const Eigen::MatrixXd J = Eigen::MatrixXd(jacobian(p, th));
    const double h = 1e-6;
    double worst = 0;
    for (ward::index_t j = 0; j < p.size(); ++j) {
        Eigen::VectorXd tp = th, tm = th;
        tp[j] += h;
        tm[j] -= h;
        Eigen::VectorXd fd = (residuals(p, tp) - residuals(p, tm)) / (2 * h);
        if (p.fixed[static_cast<std::size_t>(j)]) fd.setZero();  // fixed columns are not parameters
        worst = std::max(worst, (fd - J.col(j)).lpNorm<Eigen::Infinity>());
    }
    BOOST_TEST(worst < 1e-7);
    // The residuals reproduce the objective, and J^T r its gradient.
    const Eigen::VectorXd r = residuals(p, th);
    BOOST_TEST(std::abs(r.squaredNorm() - objective(p, th)) < 1e-10 * objective(p, th));
    BOOST_TEST((2.0 * Eigen::MatrixXd(J).transpose() * r - gradient(p, th)).lpNorm<Eigen::Infinity>() < 1e-10);
}

BOOST_AUTO_TEST_CASE(gradient_matches_finite_differences_for_both_losses) {
    for (Loss loss : {Loss::least_squares, Loss::binomial}) {
        const auto sim = small_sim(5);
        FitOptions opt = anchored_on_sim();
        opt.loss = loss;
        const Problem p = make_problem(sim.data, opt);
        const Eigen::VectorXd th = interior_point(p, 11);
        std::vector<double> w(static_cast<std::size_t>(sim.data.num_obs()));
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<double>(i % 3);  // bootstrap-like weights
        const Eigen::VectorXd g = gradient(p, th, w.data());
        const double h = 1e-6;
        double worst = 0, scale = g.lpNorm<Eigen::Infinity>();
        for (ward::index_t j = 0; j < p.size(); ++j) {
            if (p.fixed[static_cast<std::size_t>(j)]) { BOOST_TEST(g[j] == 0.0); continue; }
            Eigen::VectorXd tp = th, tm = th;
            tp[j] += h;
            tm[j] -= h;
            const double fd = (objective(p, tp, w.data()) - objective(p, tm, w.data())) / (2 * h);
            worst = std::max(worst, std::abs(fd - g[j]));
        }
        BOOST_TEST(worst < 1e-6 * std::max(1.0, scale));
    }
}

BOOST_AUTO_TEST_CASE(schur_step_equals_dense_step) {
    const auto sim = small_sim(9, 0.03);
    FitOptions opt = anchored_on_sim();
    FitResult a = fit(sim.data, opt);
    opt.solver = LinearSolver::dense;
    FitResult b = fit(sim.data, opt);
    BOOST_TEST(a.converged);
    BOOST_TEST(b.converged);
    BOOST_TEST((a.theta - b.theta).lpNorm<Eigen::Infinity>() < 1e-7);
    BOOST_TEST(std::abs(a.objective - b.objective) < 1e-12);
}

BOOST_AUTO_TEST_CASE(recovers_simulated_capabilities) {
    const auto sim = small_sim(21, 0.005);
    FitOptions opt = anchored_on_sim();
    opt.lambda = 0.0;  // no shrinkage: the truth is the optimum up to noise
    const FitResult r = fit(sim.data, opt);
    BOOST_TEST(r.converged);
    BOOST_TEST(r.projected_gradient < 1e-8);
    // The truth on the anchored scale: anchor slope is 1 already; shift so its difficulty is 0.
    std::vector<double> c_true = sim.capability, d_true = sim.difficulty;
    for (auto& c : c_true) c -= sim.difficulty[0];
    for (auto& d : d_true) d -= sim.difficulty[0];
    BOOST_TEST(correlation(r.capability, c_true) >= 0.99);
    BOOST_TEST(correlation(r.difficulty, d_true) >= 0.99);
    double mae = 0;
    for (std::size_t m = 0; m < c_true.size(); ++m) mae += std::abs(r.capability[m] - c_true[m]);
    BOOST_TEST(mae / static_cast<double>(c_true.size()) < 0.1);
    BOOST_TEST(std::abs(r.difficulty[0]) < 1e-12);  // anchor holds
    BOOST_TEST(r.slope[0] == 1.0);
}

BOOST_AUTO_TEST_CASE(anchor_shift_and_model_anchor_invariances) {
    const auto sim = small_sim(4, 0.02);
    FitOptions opt = anchored_on_sim();
    const FitResult base = fit(sim.data, opt);
    // Anchoring the difficulty at 1.5 instead of 0 moves every C and D by +1.5 and nothing else.
    opt.anchor.difficulty = 1.5;
    const FitResult moved = fit(sim.data, opt);
    for (std::size_t m = 0; m < base.capability.size(); ++m)
        BOOST_TEST(std::abs(moved.capability[m] - base.capability[m] - 1.5) < 1e-9);
    BOOST_TEST(std::abs(moved.difficulty[0] - 1.5) < 1e-12);
    // Predictions are invariant under the shift.
    BOOST_TEST(std::abs(moved.predict(3, 2) - base.predict(3, 2)) < 1e-12);
    BOOST_TEST(std::abs(moved.sse - base.sse) < 1e-12);

    // Without a penalty, the model is invariant under C -> s C + t (with alpha -> alpha / s), so anchoring
    // two models at their benchmark-anchored values reproduces the benchmark-anchored fit.
    FitOptions free_opt = anchored_on_sim();
    free_opt.lambda = 0.0;
    const FitResult f1 = fit(sim.data, free_opt);
    FitOptions two = free_opt;
    two.anchor = Anchor::on_models(sim.data.models[0], f1.capability[0], sim.data.models[5], f1.capability[5]);
    const FitResult f2 = fit(sim.data, two);
    BOOST_TEST(f2.converged);
    BOOST_TEST(f2.capability[0] == f1.capability[0]);
    double worst = 0;
    for (std::size_t m = 0; m < f1.capability.size(); ++m) worst = std::max(worst, std::abs(f2.capability[m] - f1.capability[m]));
    BOOST_TEST(worst < 1e-4);
    BOOST_TEST(std::abs(f2.sse - f1.sse) < 1e-8);
}

BOOST_AUTO_TEST_CASE(bounds_are_respected) {
    // A model that saturates every benchmark wants an infinite capability; the bound stops it.
    DatasetBuilder builder;
    for (int b = 0; b < 4; ++b) {
        const std::string bn = name("b", b);
        builder.add("top", bn, 1.0);
        for (int m = 0; m < 6; ++m) builder.add(name("m", m), bn, 0.1 + 0.12 * m + 0.03 * b);
    }
    const Dataset d = builder.build();
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("b0");
    opt.lambda = 0.0;
    opt.bounds.capability_high = 3.0;
    opt.bounds.slope_high = 2.0;
    const FitResult r = fit(d, opt);
    const Problem p = make_problem(d, opt);
    for (ward::index_t j = 0; j < p.size(); ++j) {
        BOOST_TEST(r.theta[j] >= p.lo[static_cast<std::size_t>(j)]);
        BOOST_TEST(r.theta[j] <= p.hi[static_cast<std::size_t>(j)]);
    }
    BOOST_TEST(r.theta[d.model_index("top")] == 3.0);  // pinned at its bound
    BOOST_TEST(r.at_bounds >= 1);
    BOOST_TEST(r.converged);
}

BOOST_AUTO_TEST_CASE(binomial_2pl_recovers_item_parameters) {
    // Item-level 0/1 data: 300 test takers, 25 items, every answer observed.
    std::mt19937_64 rng(17);
    std::normal_distribution<double> z(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int M = 300, I = 25;
    std::vector<double> theta(M), diff(I), disc(I);
    for (auto& t : theta) t = z(rng);
    for (int i = 0; i < I; ++i) { diff[i] = -1.5 + 3.0 * i / (I - 1); disc[i] = i == 0 ? 1.0 : std::exp(0.3 * z(rng)); }
    BuildOptions bo;
    bo.clip = false;
    DatasetBuilder builder(bo);
    for (int m = 0; m < M; ++m)
        for (int i = 0; i < I; ++i)
            builder.add(name("p", m), name("item", i),
                        u(rng) < sigmoid(disc[i] * (theta[m] - diff[i])) ? 1.0 : 0.0);
    const Dataset d = builder.build();
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("item0", diff[0]);
    opt.loss = Loss::binomial;
    opt.lambda = 0.0;
    const FitResult r = fit(d, opt);
    BOOST_TEST(r.converged);
    std::vector<double> dfit(I), dtrue(I);
    for (int i = 0; i < I; ++i) {
        dfit[i] = r.difficulty[static_cast<std::size_t>(d.benchmark_index(name("item", i)))];
        dtrue[i] = diff[i];
    }
    BOOST_TEST(correlation(dfit, dtrue) > 0.97);
    // Persons who answered every item right (or wrong) have an infinite MLE and end on the bound;
    // the others are recovered as well as 25 binary items allow.
    std::vector<double> tfit, ttrue;
    for (int m = 0; m < M; ++m) {
        const double c = r.capability[static_cast<std::size_t>(d.model_index(name("p", m)))];
        if (std::abs(r.theta[d.model_index(name("p", m))]) < 10.0) { tfit.push_back(c); ttrue.push_back(theta[m]); }
    }
    BOOST_TEST(tfit.size() > 250u);
    BOOST_TEST(correlation(tfit, ttrue) > 0.85);
    BOOST_TEST(r.projected_gradient < 1e-4);  // (objective ~3e3) a KKT point of the bounded likelihood
}

BOOST_AUTO_TEST_CASE(bad_options_throw) {
    const auto sim = small_sim(2);
    FitOptions opt;
    opt.anchor = Anchor::on_benchmark("no such benchmark");
    BOOST_CHECK_THROW(fit(sim.data, opt), ward::value_error);
    opt = anchored_on_sim();
    opt.floor["nope"] = 0.25;
    BOOST_CHECK_THROW(fit(sim.data, opt), ward::value_error);
    opt = anchored_on_sim();
    opt.lambda = -1;
    BOOST_CHECK_THROW(fit(sim.data, opt), ward::value_error);
    opt = anchored_on_sim();
    Eigen::VectorXd wrong = Eigen::VectorXd::Zero(3);
    BOOST_CHECK_THROW(fit(sim.data, opt, &wrong), ward::shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
