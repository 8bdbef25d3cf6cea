// softmax_lastdim / log-softmax against a naive double-precision loop: f32 (oneDNN), f64 (loop),
// bf16; odd row lengths; batched, non-contiguous inputs and outputs; large logits; in place;
// shape errors naming both shapes.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/strided_buffer.hpp"
#include "ward/backend/cpu/softmax.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

using test::Strided;

template <class T>
Strided<T> make(Shape shape, std::vector<int> order = {}, index_t pad = 0, std::uint32_t seed = 1, float scale = 4.f) {
    return test::make_strided<T>(shape, {order, pad, {}}, seed, -scale, scale);
}

template <class T>
void check(const StridedView<const T>& x, const StridedView<T>& y, bool log, double tol) {
    const int r = x.shape.rank;
    const index_t D = x.shape[r - 1], rows = x.numel() / D;
    std::vector<double> row(static_cast<std::size_t>(D));
    for (index_t q = 0; q < rows; ++q) {
        index_t ox = 0, oy = 0, rem = q;
        for (int i = r - 2; i >= 0; --i) {
            ox += (rem % x.shape[i]) * x.strides[i];
            oy += (rem % x.shape[i]) * y.strides[i];
            rem /= x.shape[i];
        }
        double mx = -INFINITY;
        for (index_t j = 0; j < D; ++j) {
            row[static_cast<std::size_t>(j)] = element_cast<double>(x.data[ox + j * x.strides[r - 1]]);
            mx = std::max(mx, row[static_cast<std::size_t>(j)]);
        }
        double sum = 0;
        for (double v : row) sum += std::exp(v - mx);
        for (index_t j = 0; j < D; ++j) {
            const double v = row[static_cast<std::size_t>(j)] - mx;
            const double ref = log ? v - std::log(sum) : std::exp(v) / sum;
            const double got = element_cast<double>(y.data[oy + j * y.strides[r - 1]]);
            if (!(std::abs(got - ref) <= tol * (1 + std::abs(ref))))
                BOOST_REQUIRE_MESSAGE(false, "row " << q << " col " << j << ": got " << got << ", want " << ref);
        }
    }
}

template <class T>
constexpr double tol() {
    if constexpr (std::is_same_v<T, double>) return 1e-13;
    else if constexpr (std::is_same_v<T, float>) return 1e-5;  // oneDNN's vector exp/log: a few ulp
    else return 1e-2;
}

template <class T>
void run(Shape s, std::vector<int> xo = {}, std::vector<int> yo = {}, index_t pad = 0) {
    for (bool log : {false, true}) {
        auto x = make<T>(s, xo, pad, 3);
        auto y = make<T>(s, yo, pad, 4);
        cpu::softmax_lastdim<T>(x.cview(), y.view, log);
        BOOST_TEST_CONTEXT("shape " << s.str() << " log " << log) { check<T>(x.cview(), y.view, log, tol<T>()); }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_softmax)

BOOST_AUTO_TEST_CASE(odd_row_lengths) {
    for (index_t D : {1, 7, 33, 1025}) {
        run<float>(Shape{3, D});
        run<double>(Shape{3, D});
        run<bf16>(Shape{3, D});
    }
    run<float>(Shape{7});
    run<double>(Shape{1, 1});
}

BOOST_AUTO_TEST_CASE(batched_and_non_contiguous) {
    run<float>(Shape{2, 3, 5, 33});
    run<double>(Shape{2, 3, 5, 33});
    run<float>(Shape{4, 33}, {}, {}, 3);             // padded rows in and out
    run<float>(Shape{4, 33}, {1, 0}, {});           // softmax along a strided axis
    run<float>(Shape{4, 33}, {}, {1, 0});           // strided output
    run<double>(Shape{4, 33}, {1, 0}, {1, 0}, 1);
    run<bf16>(Shape{2, 4, 33}, {2, 0, 1}, {}, 1);
}

BOOST_AUTO_TEST_CASE(large_logits_are_stable) {
    std::vector<float> x = {1000.f, 1001.f, 999.f, -1000.f}, y(4);
    cpu::softmax_lastdim<float>({x.data(), Shape{1, 4}, Strides{4, 1}}, {y.data(), Shape{1, 4}, Strides{4, 1}}, false);
    const double s = std::exp(-1.0) + 1 + std::exp(-2.0);
    BOOST_TEST(y[1] == 1 / s, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(y[3] == 0.f);
    std::vector<double> xd = {1000, 1001, 999, -1000}, yd(4);
    cpu::softmax_lastdim<double>({xd.data(), Shape{4}, Strides{1}}, {yd.data(), Shape{4}, Strides{1}}, true);
    BOOST_TEST(yd[1] == -std::log(s), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(std::isfinite(yd[3]));
}

BOOST_AUTO_TEST_CASE(in_place) {
    auto x = make<float>(Shape{5, 33});
    auto ref = x;
    cpu::softmax_lastdim<float>(x.cview(), x.view, false);
    ref.view.data = ref.buf.data();
    check<float>(ref.cview(), x.view, false, 1e-5);
    auto xd = make<double>(Shape{5, 33}, {1, 0});
    auto refd = xd;
    refd.view.data = refd.buf.data();
    cpu::softmax_lastdim<double>(xd.cview(), xd.view, true);
    check<double>(refd.cview(), xd.view, true, 1e-13);
}

BOOST_AUTO_TEST_CASE(shape_errors_name_both_shapes) {
    std::vector<float> a(64), b(64);
    try {
        cpu::softmax_lastdim<float>({a.data(), Shape{4, 8}, Strides{8, 1}}, {b.data(), Shape{8, 4}, Strides{4, 1}}, false);
        BOOST_ERROR("no shape_error");
    } catch (const shape_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("(4, 8)") != std::string::npos);
        BOOST_TEST(m.find("(8, 4)") != std::string::npos);
    }
    BOOST_CHECK_THROW(cpu::softmax_lastdim<double>({nullptr, Shape{}, Strides{}}, {nullptr, Shape{}, Strides{}}, false),
                      shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
