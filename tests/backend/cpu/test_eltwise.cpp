// oneDNN's GELU (tanh form) forward and backward against the formula and its derivative in
// double: lengths that are not a multiple of any vector width, small and large |x|, and the
// primitive built once per length.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "ward/backend/cpu/eltwise.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

double gelu(double x) {
    const double k = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double gelu_grad(double x) {
    const double k = std::sqrt(2.0 / M_PI), u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
}

std::vector<float> inputs(index_t n) {
    std::vector<float> x;
    for (index_t i = 0; i < n; ++i) x.push_back(float(12.0 * std::sin(0.7 * double(i)) * std::cos(0.011 * double(i))));
    return x;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_eltwise)

BOOST_AUTO_TEST_CASE(gelu_forward_and_backward_match_the_formula) {
    for (index_t n : {1, 15, 17, 1000, 70001}) {
        const std::size_t size = static_cast<std::size_t>(n);
        std::vector<float> x = inputs(n), y(size), dy(size), dx(size);
        for (index_t i = 0; i < n; ++i) dy[std::size_t(i)] = float(std::cos(0.3 * double(i)));
        BOOST_REQUIRE(cpu::gelu_tanh_forward(x.data(), y.data(), n));
        BOOST_REQUIRE(cpu::gelu_tanh_backward(x.data(), dy.data(), dx.data(), n));
        double fwd = 0, bwd = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double want_y = gelu(x[i]), want_dx = double(dy[i]) * gelu_grad(x[i]);
            fwd = std::max(fwd, std::abs(double(y[i]) - want_y) / std::max(1.0, std::abs(want_y)));
            bwd = std::max(bwd, std::abs(double(dx[i]) - want_dx) / std::max(1.0, std::abs(want_dx)));
        }
        BOOST_TEST(fwd <= 2e-6, "n " << n << ": forward error " << fwd);
        BOOST_TEST(bwd <= 2e-5, "n " << n << ": backward error " << bwd);
    }
}

BOOST_AUTO_TEST_CASE(primitives_are_cached_per_length) {
    std::vector<float> x = inputs(333), y(333);
    BOOST_REQUIRE(cpu::gelu_tanh_forward(x.data(), y.data(), 333));
    auto before = cpu::onednn::cache_stats();
    BOOST_REQUIRE(cpu::gelu_tanh_forward(x.data(), y.data(), 333));
    auto after = cpu::onednn::cache_stats();
    BOOST_TEST(after.created == before.created);
    BOOST_TEST(after.hits == before.hits + 1);
}

BOOST_AUTO_TEST_SUITE_END()
