// Reductions against naive loops: every axis of a rank-3 tensor, keepdim, strided inputs, fused
// expressions as inputs, NaN propagation, odd and large sizes, and thread-count independence.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <omp.h>

#include <cmath>
#include <limits>

#include "tensor/reference.hpp"

using namespace ward;
using Floats = boost::mpl::list<float, double>;

namespace {

/// Reduces a over axis with f(values of the fibre) -> double, in row-major order of the rest.
std::vector<double> reduce_ref(const ref::Array& a, int axis, const std::function<double(const std::vector<double>&)>& f) {
    const Shape& s = a.shape;
    index_t len = s[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= s[d];
    for (int d = axis + 1; d < s.rank; ++d) inner *= s[d];
    std::vector<double> out;
    for (index_t o = 0; o < outer; ++o)
        for (index_t i = 0; i < inner; ++i) {
            std::vector<double> fibre;
            for (index_t k = 0; k < len; ++k) fibre.push_back(a.v[static_cast<std::size_t>((o * len + k) * inner + i)]);
            out.push_back(f(fibre));
        }
    return out;
}

double ref_sum(const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s; }
double ref_max(const std::vector<double>& v) { double m = -INFINITY; for (double x : v) m = std::max(m, x); return m; }
double ref_argmax(const std::vector<double>& v) { return double(std::max_element(v.begin(), v.end()) - v.begin()); }
double ref_argmin(const std::vector<double>& v) { return double(std::min_element(v.begin(), v.end()) - v.begin()); }
double ref_lse(const std::vector<double>& v) {
    double m = ref_max(v), s = 0;
    for (double x : v) s += std::exp(x - m);
    return m + std::log(s);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tensor_reduce)

BOOST_AUTO_TEST_CASE_TEMPLATE(every_axis_matches_reference, T, Floats) {
    std::mt19937_64 rng(17);
    for (Shape s : {Shape{7, 33, 5}, Shape{1, 1025, 3}, Shape{4, 1, 9}}) {
        ref::Array a = ref::random_array(s, rng);
        Tensor<T> x = ref::to_tensor<T>(a);
        a.v = ref::values(x);
        for (int axis = 0; axis < 3; ++axis) {
            double tol = 8 * ref::tolerance<T>() * std::sqrt(double(s[axis]));
            BOOST_TEST(ref::max_rel_error(ref::values(sum(x, axis)), reduce_ref(a, axis, ref_sum)) <= tol);
            BOOST_TEST(ref::max_rel_error(ref::values(mean(x, axis)),
                                          reduce_ref(a, axis, [&](auto& v) { return ref_sum(v) / double(v.size()); })) <= tol);
            BOOST_TEST(ref::max_rel_error(ref::values(max(x, axis)), reduce_ref(a, axis, ref_max)) == 0.0);
            BOOST_TEST(ref::max_rel_error(ref::values(min(x, axis)),
                                          reduce_ref(a, axis, [](auto& v) { return *std::min_element(v.begin(), v.end()); })) == 0.0);
            BOOST_TEST(ref::max_rel_error(ref::values(argmax(x, axis)), reduce_ref(a, axis, ref_argmax)) == 0.0);
            BOOST_TEST(ref::max_rel_error(ref::values(argmin(x, axis)), reduce_ref(a, axis, ref_argmin)) == 0.0);
            BOOST_TEST(ref::max_rel_error(ref::values(logsumexp(x, axis)), reduce_ref(a, axis, ref_lse)) <= tol);
        }
        double total = ref_sum(a.v);
        BOOST_TEST(std::abs(double(sum(x).item()) - total) <= 1e-5 * std::max(1.0, std::abs(total)) * s.numel());
        BOOST_TEST(double(max(x).item()) == ref_max(a.v));
        BOOST_TEST(double(argmax(x).item()) == ref_argmax(a.v));
    }
}

BOOST_AUTO_TEST_CASE(keepdim_and_negative_axes) {
    auto x = Tensor<double>::arange(24).reshape({2, 3, 4});
    auto k = sum(x, -1, true);
    BOOST_TEST((k.shape() == Shape{2, 3, 1}));
    BOOST_TEST(k(1, 2, 0) == 20.0 + 21 + 22 + 23);
    auto all = sum(x);
    BOOST_TEST(all.rank() == 0);
    BOOST_TEST(all.item() == 276.0);
    // keepdim output broadcasts back: x - max(x) along the last axis
    Tensor<double> shifted = x - max(x, -1, true);
    BOOST_TEST(shifted(1, 1, 3) == 0.0);
    BOOST_TEST(shifted(1, 1, 0) == -3.0);
    BOOST_CHECK_THROW(sum(x, 3), index_error);
}

BOOST_AUTO_TEST_CASE(reductions_read_fused_strided_expressions) {
    std::mt19937_64 rng(2);
    ref::Array a = ref::random_array(Shape{33, 65}, rng);
    auto x = ref::to_tensor<double>(a);
    auto before = stats::elementwise_passes.load();
    auto s = sum(exp(x.transpose()) * 2.0, 1);  // (65): sums over the original rows
    BOOST_TEST(stats::elementwise_passes.load() == before);  // nothing materialised
    for (index_t j = 0; j < 65; ++j) {
        double want = 0;
        for (index_t i = 0; i < 33; ++i) want += 2 * std::exp(a.v[static_cast<std::size_t>(i * 65 + j)]);
        BOOST_TEST(std::abs(s(j) - want) <= 1e-12 * want);
    }
    auto total = sum(exp(x.transpose()) * 2.0);
    double want_total = 0;
    for (double v : a.v) want_total += 2 * std::exp(v);
    BOOST_TEST(std::abs(total.item() - want_total) <= 1e-12 * want_total);
}

BOOST_AUTO_TEST_CASE(nan_and_infinity) {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    auto x = Tensor<float>::from_vector({1, nan, 3, 2}, {4});
    BOOST_TEST(std::isnan(max(x).item()));
    BOOST_TEST(argmax(x).item() == 1);
    BOOST_TEST(std::isnan(sum(x).item()));
    auto y = Tensor<float>::from_vector({-inf, -inf}, {2});
    BOOST_TEST(logsumexp(y).item() == -inf);
    auto z = Tensor<float>::from_vector({1000, 1000}, {2});
    BOOST_TEST(std::abs(logsumexp(z).item() - (1000 + std::log(2.0f))) <= 1e-3f);  // no overflow
}

BOOST_AUTO_TEST_CASE(whole_tensor_sum_is_independent_of_thread_count) {
    std::mt19937_64 rng(9);
    ref::Array a = ref::random_array(Shape{1 << 20}, rng);
    auto x = ref::to_tensor<float>(a);
    omp_set_num_threads(1);
    float one = sum(x * 1.5f).item();
    omp_set_num_threads(2);
    float two = sum(x * 1.5f).item();
    BOOST_TEST(one == two);
    double want = 0;
    for (double v : ref::values(x)) want += 1.5 * v;
    BOOST_TEST(std::abs(double(one) - want) <= 1e-6 * std::abs(want) + 1e-3);
}

BOOST_AUTO_TEST_SUITE_END()
