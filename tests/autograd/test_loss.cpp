// The per-token log-likelihood (token_log_probs) and log_sigmoid against naive loops and closed forms,
// in f64 (the generic path) and f32 (the fused CPU rows), and against finite differences; cross
// entropy and token_log_probs in bf16 against f64 with ids beyond bf16's exact integers.
#include <boost/test/unit_test.hpp>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

#include <cmath>
#include <vector>

using namespace ward;
using ag::Var;
using Vars = std::vector<Var<double>>;

namespace {
Tensor<double> rnd(const Shape& s, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
    Generator g(seed);
    return uniform<double>(g, s, lo, hi);
}
/// log softmax(row)[t] by a plain loop.
double naive_log_prob(const std::vector<double>& row, std::int64_t t) {
    double m = row[0];
    for (double v : row) m = std::max(m, v);
    double s = 0;
    for (double v : row) s += std::exp(v - m);
    return row[static_cast<std::size_t>(t)] - m - std::log(s);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_loss)

BOOST_AUTO_TEST_CASE(token_log_probs_match_a_naive_loop_and_skip_ignored_targets) {
    const index_t B = 2, T = 3, V = 5;
    Tensor<double> x = rnd({B, T, V}, 3);
    auto t = Tensor<std::int64_t>::from_vector({0, 4, ag::ignore_index, 2, ag::ignore_index, 1}, {B, T});
    Var<double> lp = ag::token_log_probs(Var<double>(x), t);
    BOOST_TEST((lp.shape() == Shape{B, T}));
    const auto xv = x.to_vector(), out = lp.value().to_vector();
    const auto tv = t.to_vector();
    for (index_t n = 0; n < B * T; ++n) {
        const std::vector<double> row(xv.begin() + n * V, xv.begin() + (n + 1) * V);
        const double want = tv[static_cast<std::size_t>(n)] == ag::ignore_index ? 0.0 : naive_log_prob(row, tv[static_cast<std::size_t>(n)]);
        BOOST_TEST(std::abs(out[static_cast<std::size_t>(n)] - want) < 1e-12);
    }
    // f32 takes the fused rows: the same values to f32 precision, the same gradient.
    Tensor<float> xf = cast<float>(x);
    Var<float> xfv(xf, true);
    Var<float> lpf = ag::token_log_probs(xfv, t);
    const auto of = lpf.value().to_vector();
    for (std::size_t i = 0; i < of.size(); ++i) BOOST_TEST(std::abs(double(of[i]) - out[i]) < 1e-5);
    ag::sum(lpf).backward();
    Var<double> xd(x, true);
    ag::sum(ag::token_log_probs(xd, t)).backward();
    const auto gf = xfv.grad().to_vector();
    const auto gd = xd.grad().to_vector();
    for (std::size_t i = 0; i < gf.size(); ++i) BOOST_TEST(std::abs(double(gf[i]) - gd[i]) < 1e-5);
    // an ignored position has no gradient at all
    for (index_t v = 0; v < V; ++v) BOOST_TEST(gd[static_cast<std::size_t>(2 * V + v)] == 0.0);
}

BOOST_AUTO_TEST_CASE(token_log_probs_gradcheck) {
    auto t = Tensor<std::int64_t>::from_vector({1, ag::ignore_index, 3, 0}, {2, 2});
    auto r = ag::gradcheck([t](const Vars& v) { return ag::token_log_probs(v[0], t); }, {rnd({2, 2, 4}, 5)});
    BOOST_TEST(r.ok, "max abs error " << r.max_abs_error << " at " << r.worst);
}

// bf16 holds integers exactly only up to 256: the target ids, and the log-sum-exps, must not pass
// through it (a vocabulary of 1,000 puts the target one-hot at id 476 for a target of 477).
BOOST_AUTO_TEST_CASE(bf16_losses_pick_targets_beyond_256_exactly) {
    const index_t N = 4, V = 1000;
    Tensor<bf16> xh = cast<bf16>(rnd({N, V}, 21));
    Tensor<double> x = cast<double>(xh);  // the same numbers
    auto t = Tensor<std::int64_t>::from_vector({257, 477, ag::ignore_index, 999}, {N});
    const auto xv = x.to_vector();
    const auto tv = t.to_vector();
    std::vector<double> want_lp(N, 0.0), want_grad(static_cast<std::size_t>(N * V), 0.0);  // of sum(log p)
    for (index_t n = 0; n < N; ++n) {
        const std::int64_t target = tv[static_cast<std::size_t>(n)];
        if (target == ag::ignore_index) continue;
        const std::vector<double> row(xv.begin() + n * V, xv.begin() + (n + 1) * V);
        want_lp[static_cast<std::size_t>(n)] = naive_log_prob(row, target);
        for (index_t v = 0; v < V; ++v)
            want_grad[static_cast<std::size_t>(n * V + v)] = (v == target) - std::exp(naive_log_prob(row, v));
    }
    auto close = [](double got, double want) { return std::abs(got - want) <= 1e-2 * std::abs(want) + 1e-6; };

    Var<bf16> lx(xh, true);
    Var<bf16> lp = ag::token_log_probs(lx, t);
    const auto lpv = lp.value().to_vector();
    for (index_t n = 0; n < N; ++n)
        BOOST_TEST(close(double(float(lpv[static_cast<std::size_t>(n)])), want_lp[static_cast<std::size_t>(n)]), "row " << n);
    ag::sum(lp).backward();
    const auto g = lx.grad().to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(double(float(g[i])), want_grad[i]), "element " << i);

    // cross_entropy is the mean of -log p over the 3 counted rows: gradient -want_grad / 3
    Var<bf16> cx(xh, true);
    Var<bf16> ce = ag::cross_entropy(cx, t);
    BOOST_TEST(close(double(float(ce.value().item())), -(want_lp[0] + want_lp[1] + want_lp[3]) / 3));
    ce.backward();
    const auto gc = cx.grad().to_vector();
    for (std::size_t i = 0; i < gc.size(); ++i) BOOST_TEST(close(double(float(gc[i])), -want_grad[i] / 3), "element " << i);
}

BOOST_AUTO_TEST_CASE(token_log_probs_rejects_bad_targets) {
    Var<double> x(Tensor<double>::zeros({2, 4}));
    BOOST_CHECK_THROW(ag::token_log_probs(x, Tensor<std::int64_t>::from_vector({0, 4}, {2})), index_error);
    BOOST_CHECK_THROW(ag::token_log_probs(x, Tensor<std::int64_t>::from_vector({0, 1, 2}, {3})), shape_error);
}

BOOST_AUTO_TEST_CASE(log_sigmoid_is_finite_far_out_and_matches_its_closed_form) {
    auto x = Tensor<double>::from_vector({-800.0, -3.0, 0.0, 2.5, 800.0}, {5});
    auto y = ag::log_sigmoid(Var<double>(x)).value().to_vector();
    BOOST_TEST(y[0] == -800.0);                                    // log sigmoid(x) -> x as x -> -inf
    BOOST_TEST(std::abs(y[1] - std::log(1 / (1 + std::exp(3.0)))) < 1e-14);
    BOOST_TEST(std::abs(y[2] - std::log(0.5)) < 1e-15);
    BOOST_TEST(std::abs(y[3] - std::log(1 / (1 + std::exp(-2.5)))) < 1e-14);
    BOOST_TEST(y[4] == 0.0);
    auto r = ag::gradcheck([](const Vars& v) { return ag::log_sigmoid(v[0]); }, {rnd({3, 4}, 9, -6, 6)});
    BOOST_TEST(r.ok, "max abs error " << r.max_abs_error << " at " << r.worst);
}

BOOST_AUTO_TEST_SUITE_END()
