// The oneDNN shim: engine and per-thread streams, status checks, and the primitive cache (a second
// call with the same shapes creates no primitive; different layouts do; eviction; concurrent use).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "ward/backend/cpu/layer_norm.hpp"
#include "ward/backend/cpu/matmul.hpp"
#include "ward/backend/cpu/onednn.hpp"
#include "ward/backend/cpu/softmax.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;
namespace dnn = ward::backend::cpu::onednn;

namespace {

// c = a @ b for (M, K) x (K, N) with a[i][k] = i + k, b[k][j] = k - j; checks against the loop.
struct Gemm {
    index_t M, K, N;
    std::vector<float> a, b, c;
    Gemm(index_t m, index_t k, index_t n) : M(m), K(k), N(n), a(m * k), b(k * n), c(m * n) {
        for (index_t i = 0; i < M; ++i)
            for (index_t p = 0; p < K; ++p) a[static_cast<std::size_t>(i * K + p)] = static_cast<float>(i + p) / 16;
        for (index_t p = 0; p < K; ++p)
            for (index_t j = 0; j < N; ++j) b[static_cast<std::size_t>(p * N + j)] = static_cast<float>(p - j) / 16;
    }
    std::vector<float> zeros = std::vector<float>(static_cast<std::size_t>(N), 0.f);
    void run(bool transposed_c = false, bool bias = false) {
        cpu::matmul<float>({a.data(), Shape{M, K}, Strides{K, 1}}, {b.data(), Shape{K, N}, Strides{N, 1}},
                           bias ? zeros.data() : nullptr,
                           cpu::Epilogue::none,
                           {c.data(), Shape{M, N}, transposed_c ? Strides{1, M} : Strides{N, 1}});
    }
    bool correct(bool transposed_c = false) const {
        for (index_t i = 0; i < M; ++i)
            for (index_t j = 0; j < N; ++j) {
                double s = 0;
                for (index_t p = 0; p < K; ++p)
                    s += double(a[static_cast<std::size_t>(i * K + p)]) * double(b[static_cast<std::size_t>(p * N + j)]);
                const float got = c[static_cast<std::size_t>(transposed_c ? j * M + i : i * N + j)];
                if (std::abs(got - s) > 1e-4 * (1 + std::abs(s))) return false;
            }
        return true;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_onednn_cache)

BOOST_AUTO_TEST_CASE(engine_and_streams) {
    BOOST_TEST(dnn::engine() != nullptr);
    BOOST_TEST(dnn::engine() == dnn::engine());
    dnnl_stream_t here = dnn::stream(), there = nullptr;
    BOOST_TEST(here == dnn::stream());
    std::thread t([&] { there = dnn::stream(); });
    t.join();
    BOOST_TEST(there != nullptr);
    BOOST_TEST(there != here);
}

BOOST_AUTO_TEST_CASE(check_names_the_call) {
    BOOST_CHECK_NO_THROW(dnn::check(dnnl_success, "dnnl_nothing"));
    try {
        dnn::check(dnnl_invalid_arguments, "dnnl_example_call");
        BOOST_ERROR("no backend_error");
    } catch (const backend_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("dnnl_example_call") != std::string::npos, m);
        BOOST_TEST(m.find("invalid arguments") != std::string::npos, m);
    }
}

BOOST_AUTO_TEST_CASE(second_matmul_call_creates_no_primitive) {
    Gemm g(13, 17, 19);
    const auto s0 = dnn::cache_stats();
    g.run();
    const auto s1 = dnn::cache_stats();
    BOOST_TEST(s1.created == s0.created + 1);
    BOOST_TEST(g.correct());
    g.run();
    g.run();
    const auto s2 = dnn::cache_stats();
    BOOST_TEST(s2.created == s1.created);
    BOOST_TEST(s2.hits == s1.hits + 2);
    BOOST_TEST(s2.layout_copies == s0.layout_copies);  // dense operands: nothing copied

    // Another layout is another primitive. A transposed (column-major) output has only oneDNN's
    // reference kernel: without a bias ward computes c^T = b^T a^T (strides only, no copy) ...
    g.run(true);
    const auto s3 = dnn::cache_stats();
    BOOST_TEST(s3.created == s2.created + 1);
    BOOST_TEST(s3.layout_copies == s2.layout_copies);
    BOOST_TEST(g.correct(true));
    g.run(true);
    BOOST_TEST(dnn::cache_stats().created == s3.created);
    // ... with a bias it computes into a dense buffer and copies it out.
    g.run(true, true);
    const auto s4 = dnn::cache_stats();
    BOOST_TEST(s4.created == s3.created + 1);
    BOOST_TEST(s4.layout_copies == s3.layout_copies + 1);
    BOOST_TEST(g.correct(true));
}

BOOST_AUTO_TEST_CASE(softmax_and_layer_norm_are_cached) {
    std::vector<float> x(6 * 29, 0.25f), y(6 * 29), mean(6), rstd(6);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
    StridedView<const float> xv{x.data(), Shape{6, 29}, Strides{29, 1}};
    StridedView<float> yv{y.data(), Shape{6, 29}, Strides{29, 1}};
    const auto s0 = dnn::cache_stats();
    cpu::softmax_lastdim<float>(xv, yv, false);
    cpu::softmax_lastdim<float>(xv, yv, false);
    cpu::layer_norm_lastdim<float>(xv, nullptr, nullptr, 1e-5, yv, mean.data(), rstd.data());
    cpu::layer_norm_lastdim<float>(xv, nullptr, nullptr, 1e-5, yv, mean.data(), rstd.data());
    const auto s1 = dnn::cache_stats();
    BOOST_TEST(s1.created == s0.created + 2);
    BOOST_TEST(s1.hits == s0.hits + 2);
    BOOST_TEST(s1.loop_fallbacks == s0.loop_fallbacks);  // oneDNN always has f32 softmax and layer norm
    // (2, 3, 29) has the same rows as (6, 29): softmax works on (rows, D), so it is the same primitive.
    cpu::softmax_lastdim<float>({x.data(), Shape{2, 3, 29}, Strides{87, 29, 1}}, {y.data(), Shape{2, 3, 29}, Strides{87, 29, 1}}, false);
    BOOST_TEST(dnn::cache_stats().created == s1.created);
}

BOOST_AUTO_TEST_CASE(eviction_keeps_results_right) {
    const auto s0 = dnn::cache_stats();
    dnn::set_cache_capacity(2);
    for (index_t n = 1; n <= 5; ++n) {
        Gemm g(n, 3, 2);
        g.run();
        BOOST_TEST(g.correct());
    }
    const auto s1 = dnn::cache_stats();
    BOOST_TEST(s1.size <= 2u);
    BOOST_TEST(s1.evicted >= s0.evicted + 3);
    Gemm g(1, 3, 2);  // evicted long ago: built again, still right
    g.run();
    BOOST_TEST(g.correct());
    dnn::set_cache_capacity(4096);
}

BOOST_AUTO_TEST_CASE(concurrent_calls_share_a_primitive) {
    Gemm probe(31, 37, 41);
    probe.run();
    const auto s0 = dnn::cache_stats();
    std::vector<Gemm> gs(6, Gemm(31, 37, 41));
    std::vector<std::thread> ts;
    for (auto& g : gs)
        ts.emplace_back([&g] {
            for (int i = 0; i < 50; ++i) g.run();
        });
    for (auto& t : ts) t.join();
    for (const auto& g : gs) BOOST_TEST(g.correct());
    BOOST_TEST(dnn::cache_stats().created == s0.created);
}

BOOST_AUTO_TEST_SUITE_END()
