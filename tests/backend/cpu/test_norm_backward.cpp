// The fused layer-norm / RMS-norm backward kernel against naive double-precision loops, with and
// without gamma, for row counts that leave a partial block, and the same bits on any thread count.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "ward/backend/cpu/norm_backward.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

struct Result {
    std::vector<float> dx, dgamma, dbeta;
};

struct Problem {
    index_t N, C;
    std::vector<float> x, g, gamma, mean, rstd;
    Problem(index_t n, index_t c, bool centered, std::uint32_t seed) : N(n), C(c) {
        std::mt19937 gen(seed);
        std::uniform_real_distribution<float> u(-2.f, 2.f);
        for (index_t i = 0; i < N * C; ++i) x.push_back(u(gen) + 0.5f), g.push_back(u(gen));
        for (index_t i = 0; i < C; ++i) gamma.push_back(u(gen));
        for (index_t r = 0; r < N; ++r) {  // the statistics the forward would have produced
            double m = 0, ss = 0;
            for (index_t c2 = 0; c2 < C; ++c2) m += x[std::size_t(r * C + c2)];
            m = centered ? m / double(C) : 0.0;
            for (index_t c2 = 0; c2 < C; ++c2) ss += (x[std::size_t(r * C + c2)] - m) * (x[std::size_t(r * C + c2)] - m);
            mean.push_back(float(m));
            rstd.push_back(float(1 / std::sqrt(ss / double(C) + 1e-5)));
        }
    }
    template <bool Centered>
    Result run(bool with_gamma) const {
        Result r{std::vector<float>(x.size()), std::vector<float>(std::size_t(C)), std::vector<float>(std::size_t(C))};
        cpu::norm_backward<Centered>(x.data(), g.data(), Centered ? mean.data() : nullptr, rstd.data(),
                                     with_gamma ? gamma.data() : nullptr, N, C, r.dx.data(), r.dgamma.data(),
                                     Centered ? r.dbeta.data() : nullptr);
        return r;
    }
    void check(bool centered, bool with_gamma, const Result& got) const {
        std::vector<double> dg(static_cast<std::size_t>(C), 0.0), db(static_cast<std::size_t>(C), 0.0);
        for (index_t r = 0; r < N; ++r) {
            std::vector<double> gp(static_cast<std::size_t>(C)), xh(static_cast<std::size_t>(C));
            double s1 = 0, s2 = 0;
            for (index_t c = 0; c < C; ++c) {
                const std::size_t i = std::size_t(r * C + c);
                xh[std::size_t(c)] = (double(x[i]) - mean[std::size_t(r)]) * rstd[std::size_t(r)];
                gp[std::size_t(c)] = double(g[i]) * (with_gamma ? gamma[std::size_t(c)] : 1.0);
                s1 += gp[std::size_t(c)];
                s2 += gp[std::size_t(c)] * xh[std::size_t(c)];
                dg[std::size_t(c)] += double(g[i]) * xh[std::size_t(c)];
                db[std::size_t(c)] += g[i];
            }
            for (index_t c = 0; c < C; ++c) {
                const double want = rstd[std::size_t(r)] * (gp[std::size_t(c)] - (centered ? s1 / double(C) : 0.0) -
                                                             xh[std::size_t(c)] * s2 / double(C));
                const float have = got.dx[std::size_t(r * C + c)];
                if (!(std::abs(have - want) <= 1e-5 * (1 + std::abs(want)))) {
                    BOOST_ERROR("dx row " << r << " column " << c << ": " << have << " vs " << want);
                    return;
                }
            }
        }
        for (index_t c = 0; c < C; ++c) {
            BOOST_TEST(std::abs(got.dgamma[std::size_t(c)] - dg[std::size_t(c)]) <= 1e-4 * (1 + std::abs(dg[std::size_t(c)])));
            if (centered) BOOST_TEST(std::abs(got.dbeta[std::size_t(c)] - db[std::size_t(c)]) <= 1e-4 * (1 + std::abs(db[std::size_t(c)])));
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_norm_backward)

BOOST_AUTO_TEST_CASE(layer_norm_backward_matches_naive_loops) {
    for (auto [n, c] : {std::pair<index_t, index_t>{1, 1}, {5, 7}, {37, 64}, {130, 257}}) {
        Problem p(n, c, true, std::uint32_t(n * 31 + c));
        p.check(true, true, p.run<true>(true));
        p.check(true, false, p.run<true>(false));
    }
}

BOOST_AUTO_TEST_CASE(rms_norm_backward_matches_naive_loops) {
    for (auto [n, c] : {std::pair<index_t, index_t>{3, 5}, {33, 128}, {70, 300}}) {
        Problem p(n, c, false, std::uint32_t(n * 17 + c));
        p.check(false, true, p.run<false>(true));
        p.check(false, false, p.run<false>(false));
    }
}

BOOST_AUTO_TEST_CASE(norm_backward_does_not_depend_on_thread_count) {
    Problem p(300, 256, true, 9);
    const int before = cpu::max_threads();
#if defined(_OPENMP)
    omp_set_num_threads(1);
#endif
    Result one = p.run<true>(true);
#if defined(_OPENMP)
    omp_set_num_threads(std::max(2, before));
#endif
    Result many = p.run<true>(true);
#if defined(_OPENMP)
    omp_set_num_threads(before);
#endif
    BOOST_TEST(one.dx == many.dx);
    BOOST_TEST(one.dgamma == many.dgamma);
    BOOST_TEST(one.dbeta == many.dbeta);
}

BOOST_AUTO_TEST_SUITE_END()
