// layer_norm_lastdim and rms_norm_lastdim against naive double-precision loops: f32 (oneDNN for
// layer norm), f64, bf16; with and without gamma/beta; mean/rstd outputs; odd widths; batched,
// non-contiguous and in-place views; shape errors naming both shapes.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/strided_buffer.hpp"
#include "ward/backend/cpu/layer_norm.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

using test::Strided;

template <class T>
Strided<T> make(Shape shape, std::vector<int> order = {}, index_t pad = 0, std::uint32_t seed = 1) {
    return test::make_strided<T>(shape, {order, pad, {}}, seed, -2.f, 3.f);  // off-centre: the mean matters
}

template <class T>
std::vector<T> vec(index_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.5f, 1.5f);
    std::vector<T> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = T(u(rng));
    return v;
}

template <class T>
constexpr double tol() {
    if constexpr (std::is_same_v<T, double>) return 1e-12;
    else if constexpr (std::is_same_v<T, float>) return 1e-5;
    else return 2e-2;
}

// Reference for one row; rms = true gives RMS norm.
template <class T>
void check(const StridedView<const T>& x, const T* gamma, const T* beta, double eps, const StridedView<T>& y,
           const compute_t<T>* mean, const compute_t<T>* rstd, bool rms) {
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    for (index_t q = 0; q < rows; ++q) {
        index_t ox = 0, oy = 0, rem = q;
        for (int i = r - 2; i >= 0; --i) {
            ox += (rem % x.shape[i]) * x.strides[i];
            oy += (rem % x.shape[i]) * y.strides[i];
            rem /= x.shape[i];
        }
        auto xv = [&](index_t j) { return element_cast<double>(x.data[ox + j * x.strides[r - 1]]); };
        double m = 0, v = 0;
        for (index_t j = 0; j < D; ++j) m += xv(j);
        m /= static_cast<double>(D);
        for (index_t j = 0; j < D; ++j) v += rms ? xv(j) * xv(j) : (xv(j) - m) * (xv(j) - m);
        v /= static_cast<double>(D);
        const double rs = 1 / std::sqrt(v + eps);
        for (index_t j = 0; j < D; ++j) {
            double ref = ((rms ? xv(j) : xv(j) - m)) * rs;
            if (gamma) ref *= element_cast<double>(gamma[j]);
            if (beta) ref += element_cast<double>(beta[j]);
            const double got = element_cast<double>(y.data[oy + j * y.strides[r - 1]]);
            if (!(std::abs(got - ref) <= tol<T>() * (1 + std::abs(ref))))
                BOOST_REQUIRE_MESSAGE(false, "row " << q << " col " << j << ": got " << got << ", want " << ref);
        }
        if (mean) BOOST_REQUIRE_SMALL(static_cast<double>(mean[q]) - m, tol<T>() * (1 + std::abs(m)));
        if (rstd) BOOST_REQUIRE_SMALL(static_cast<double>(rstd[q]) - rs, tol<T>() * rs);
    }
}

template <class T>
void run_ln(Shape s, bool affine, bool stats, std::vector<int> xo = {}, std::vector<int> yo = {}, index_t pad = 0,
            double eps = 1e-5) {
    const index_t D = s[s.rank - 1], rows = s.numel() / D;
    auto x = make<T>(s, xo, pad, 5);
    auto y = make<T>(s, yo, pad, 6);
    auto g = vec<T>(D, 7), b = vec<T>(D, 8);
    std::vector<compute_t<T>> mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
    cpu::layer_norm_lastdim<T>(x.cview(), affine ? g.data() : nullptr, affine ? b.data() : nullptr, eps, y.view,
                               stats ? mean.data() : nullptr, stats ? rstd.data() : nullptr);
    BOOST_TEST_CONTEXT("layer_norm shape " << s.str() << " affine " << affine << " stats " << stats) {
        check<T>(x.cview(), affine ? g.data() : nullptr, affine ? b.data() : nullptr, eps, y.view,
                 stats ? mean.data() : nullptr, stats ? rstd.data() : nullptr, false);
    }
}

template <class T>
void run_rms(Shape s, bool affine, bool stats, std::vector<int> xo = {}, std::vector<int> yo = {}, index_t pad = 0) {
    const index_t D = s[s.rank - 1], rows = s.numel() / D;
    auto x = make<T>(s, xo, pad, 9);
    auto y = make<T>(s, yo, pad, 10);
    auto g = vec<T>(D, 11);
    std::vector<compute_t<T>> rstd(static_cast<std::size_t>(rows));
    cpu::rms_norm_lastdim<T>(x.cview(), affine ? g.data() : nullptr, 1e-6, y.view, stats ? rstd.data() : nullptr);
    BOOST_TEST_CONTEXT("rms_norm shape " << s.str() << " affine " << affine << " stats " << stats) {
        check<T>(x.cview(), affine ? g.data() : nullptr, nullptr, 1e-6, y.view, nullptr, stats ? rstd.data() : nullptr,
                 true);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_layer_norm)

BOOST_AUTO_TEST_CASE(layer_norm_odd_widths_all_options) {
    for (index_t D : {1, 7, 33, 1025})
        for (bool affine : {false, true})
            for (bool stats : {false, true}) {
                run_ln<float>(Shape{3, D}, affine, stats);
                run_ln<double>(Shape{3, D}, affine, stats);
                run_ln<bf16>(Shape{3, D}, affine, stats);
            }
}

BOOST_AUTO_TEST_CASE(layer_norm_batched_non_contiguous) {
    run_ln<float>(Shape{2, 3, 33}, true, true);
    run_ln<float>(Shape{2, 3, 33}, true, true, {}, {}, 2);       // padded
    run_ln<float>(Shape{5, 33}, true, true, {1, 0}, {});         // strided input
    run_ln<float>(Shape{5, 33}, false, true, {}, {1, 0});        // strided output
    run_ln<double>(Shape{2, 5, 33}, true, true, {2, 1, 0}, {0, 2, 1}, 1);
    run_ln<bf16>(Shape{5, 33}, true, false, {1, 0}, {}, 1);
    run_ln<float>(Shape{4, 64}, true, true, {}, {}, 0, 0.5);     // eps matters
}

BOOST_AUTO_TEST_CASE(layer_norm_in_place) {
    auto x = make<float>(Shape{6, 33});
    auto ref = x;
    ref.view.data = ref.buf.data();
    auto g = vec<float>(33, 1), b = vec<float>(33, 2);
    std::vector<float> mean(6), rstd(6);
    cpu::layer_norm_lastdim<float>(x.cview(), g.data(), b.data(), 1e-5, x.view, mean.data(), rstd.data());
    check<float>(ref.cview(), g.data(), b.data(), 1e-5, x.view, mean.data(), rstd.data(), false);
}

BOOST_AUTO_TEST_CASE(rms_norm_all_options) {
    for (index_t D : {1, 7, 33, 1025})
        for (bool affine : {false, true})
            for (bool stats : {false, true}) {
                run_rms<float>(Shape{3, D}, affine, stats);
                run_rms<double>(Shape{3, D}, affine, stats);
                run_rms<bf16>(Shape{3, D}, affine, stats);
            }
    run_rms<float>(Shape{2, 5, 33}, true, true, {1, 2, 0}, {}, 1);
    run_rms<double>(Shape{5, 33}, true, true, {}, {1, 0});
}

BOOST_AUTO_TEST_CASE(errors) {
    std::vector<float> a(64), b(64);
    try {
        cpu::layer_norm_lastdim<float>({a.data(), Shape{4, 8}, Strides{8, 1}}, nullptr, nullptr, 1e-5,
                                       {b.data(), Shape{2, 16}, Strides{16, 1}}, nullptr, nullptr);
        BOOST_ERROR("no shape_error");
    } catch (const shape_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("(4, 8)") != std::string::npos);
        BOOST_TEST(m.find("(2, 16)") != std::string::npos);
    }
    BOOST_CHECK_THROW(cpu::rms_norm_lastdim<float>({a.data(), Shape{4, 8}, Strides{8, 1}}, nullptr, 1e-5,
                                                   {b.data(), Shape{8, 4}, Strides{4, 1}}, nullptr),
                      shape_error);
    BOOST_CHECK_THROW(cpu::layer_norm_lastdim<float>({a.data(), Shape{4, 8}, Strides{8, 1}}, nullptr, nullptr, -1.0,
                                                     {b.data(), Shape{4, 8}, Strides{8, 1}}, nullptr, nullptr),
                      value_error);
}

BOOST_AUTO_TEST_SUITE_END()
