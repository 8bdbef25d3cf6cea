// The fused cross-entropy row kernels against naive double-precision loops: odd and long rows,
// padded row strides, ignored rows, large and -inf logits, NaN propagation, and the same bits on
// one thread as on several.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "ward/backend/cpu/cross_entropy.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

struct Problem {
    index_t N, V, ld;
    std::vector<float> x;
    std::vector<std::int64_t> t;
};

Problem make(index_t N, index_t V, index_t pad, float scale, std::uint32_t seed) {
    Problem p{N, V, V + pad, {}, {}};
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    p.x.resize(static_cast<std::size_t>(N * p.ld), 1e9f);  // padding that must never be read
    for (index_t n = 0; n < N; ++n)
        for (index_t v = 0; v < V; ++v) p.x[static_cast<std::size_t>(n * p.ld + v)] = u(gen);
    for (index_t n = 0; n < N; ++n) p.t.push_back(n % 5 == 3 ? -100 : std::int64_t(gen() % std::uint32_t(V)));
    return p;
}

double naive_lse(const float* r, index_t V) {
    double m = -INFINITY;
    for (index_t v = 0; v < V; ++v) m = std::max(m, double(r[v]));
    double s = 0;
    for (index_t v = 0; v < V; ++v) s += std::exp(double(r[v]) - m);
    return m + std::log(s);
}

void check(const Problem& p) {
    std::vector<float> lse(static_cast<std::size_t>(p.N)), picked(lse.size()), coef(lse.size());
    cpu::cross_entropy_forward(p.x.data(), p.N, p.V, p.ld, p.t.data(), lse.data(), picked.data());
    for (index_t n = 0; n < p.N; ++n) coef[static_cast<std::size_t>(n)] = p.t[static_cast<std::size_t>(n)] < 0 ? 0.f : 0.5f + float(n % 3);
    std::vector<float> dx(static_cast<std::size_t>(p.N * p.ld), 7.f);
    cpu::cross_entropy_backward(p.x.data(), p.N, p.V, p.ld, p.t.data(), lse.data(), coef.data(), dx.data(), p.ld);
    for (index_t n = 0; n < p.N; ++n) {
        const float* r = p.x.data() + n * p.ld;
        const std::size_t i = static_cast<std::size_t>(n);
        const double l = naive_lse(r, p.V);
        BOOST_TEST(std::abs(lse[i] - l) <= 1e-5 * std::max(1.0, std::abs(l)), "row " << n << ": lse " << lse[i] << " vs " << l);
        const std::int64_t t = p.t[i];
        BOOST_TEST(picked[i] == (t >= 0 ? r[t] : 0.f));
        for (index_t v = 0; v < p.V; ++v) {
            const double want = (std::exp(double(r[v]) - l) - (v == t ? 1.0 : 0.0)) * coef[i];
            const float got = dx[static_cast<std::size_t>(n * p.ld + v)];
            if (!(std::abs(got - want) <= 1e-6 * std::max(1.0, double(coef[i])) + 1e-5 * std::abs(want))) {
                BOOST_ERROR("row " << n << " column " << v << ": " << got << " vs " << want);
                return;
            }
        }
        for (index_t v = p.V; v < p.ld; ++v) BOOST_TEST(dx[static_cast<std::size_t>(n * p.ld + v)] == 7.f);  // padding untouched
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_cross_entropy)

BOOST_AUTO_TEST_CASE(cross_entropy_rows_match_naive_loops) {
    check(make(7, 1, 0, 3.f, 1));
    check(make(9, 13, 3, 3.f, 2));
    check(make(33, 1025, 0, 8.f, 3));   // a partial last block of 1024
    check(make(5, 50257, 7, 20.f, 4));  // GPT-2's vocabulary
    check(make(4, 300, 0, 80.f, 5));    // logits whose exp overflows f32 without the max shift
}

BOOST_AUTO_TEST_CASE(cross_entropy_rows_edge_values) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = {-inf, -inf, -inf,  // all -inf: lse -inf
                            0.f, -inf, 1.f,    // -inf terms add nothing
                            0.f, NAN, 1.f};    // NaN propagates
    std::vector<std::int64_t> t = {0, 2, 1};
    std::vector<float> lse(3), picked(3);
    cpu::cross_entropy_forward(x.data(), 3, 3, 3, t.data(), lse.data(), picked.data());
    BOOST_TEST(lse[0] == -inf);
    BOOST_TEST(std::abs(lse[1] - std::log(1.0 + std::exp(1.0))) < 1e-6);
    BOOST_TEST(std::isnan(lse[2]));
    BOOST_TEST(picked[1] == 1.f);
}

BOOST_AUTO_TEST_CASE(cross_entropy_rows_do_not_depend_on_thread_count) {
    Problem p = make(64, 4099, 0, 6.f, 6);
    auto run = [&](int threads) {
#if defined(_OPENMP)
        omp_set_num_threads(threads);
#endif
        (void)threads;
        std::vector<float> lse(64), picked(64), coef(64, 0.25f), dx(static_cast<std::size_t>(64 * 4099));
        cpu::cross_entropy_forward(p.x.data(), 64, 4099, 4099, p.t.data(), lse.data(), picked.data());
        cpu::cross_entropy_backward(p.x.data(), 64, 4099, 4099, p.t.data(), lse.data(), coef.data(), dx.data(), 4099);
        lse.insert(lse.end(), dx.begin(), dx.end());
        return lse;
    };
    const int before = cpu::max_threads();
    std::vector<float> one = run(1), many = run(std::max(2, before));
#if defined(_OPENMP)
    omp_set_num_threads(before);
#endif
    BOOST_TEST(one == many);
}

BOOST_AUTO_TEST_SUITE_END()
