// Element-wise expressions against naive f64 loops: every op, broadcasting, strided operands, odd
// sizes, f32 and f64; and fusion: a six-op expression is one pass over memory.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/reference.hpp"

using namespace ward;
using Floats = boost::mpl::list<float, double>;

namespace {

double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

template <class T, class Build, class Ref>
void check_unary(const char* name, Build build, Ref f, double lo = -3, double hi = 3) {
    std::mt19937_64 rng(7);
    for (index_t n : {1, 7, 33, 1025}) {
        ref::Array a = ref::random_array(Shape{n}, rng, lo, hi);
        Tensor<T> x = ref::to_tensor<T>(a);
        a.v = ref::values(x);  // compare against the rounded inputs
        Tensor<T> y = build(x);
        double err = ref::max_rel_error(ref::values(y), ref::unary(a, f).v);
        BOOST_TEST(err <= 4 * ref::tolerance<T>(), name << " n=" << n << " err=" << err);
    }
}

template <class T, class Build, class Ref>
void check_binary(const char* name, Build build, Ref f, const Shape& sa, const Shape& sb, double lo = -3, double hi = 3) {
    std::mt19937_64 rng(11);
    ref::Array a = ref::random_array(sa, rng, lo, hi), b = ref::random_array(sb, rng, lo, hi);
    Tensor<T> x = ref::to_tensor<T>(a), y = ref::to_tensor<T>(b);
    a.v = ref::values(x);
    b.v = ref::values(y);
    Tensor<T> z = build(x, y);
    ref::Array want = ref::binary(a, b, f);
    BOOST_TEST((z.shape() == want.shape), name << ": shape " << z.shape().str() << " vs " << want.shape.str());
    double err = ref::max_rel_error(ref::values(z), want.v);
    BOOST_TEST(err <= 4 * ref::tolerance<T>(), name << " " << sa.str() << " x " << sb.str() << " err=" << err);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tensor_expr)

BOOST_AUTO_TEST_CASE_TEMPLATE(unary_ops_match_reference, T, Floats) {
    check_unary<T>("neg", [](auto& x) { return -x; }, [](double v) { return -v; });
    check_unary<T>("exp", [](auto& x) { return exp(x); }, [](double v) { return std::exp(v); });
    check_unary<T>("log", [](auto& x) { return log(x); }, [](double v) { return std::log(v); }, 0.01, 5);
    check_unary<T>("sqrt", [](auto& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0, 5);
    check_unary<T>("rsqrt", [](auto& x) { return rsqrt(x); }, [](double v) { return 1 / std::sqrt(v); }, 0.1, 5);
    check_unary<T>("tanh", [](auto& x) { return tanh(x); }, [](double v) { return std::tanh(v); });
    check_unary<T>("sigmoid", [](auto& x) { return sigmoid(x); }, [](double v) { return 1 / (1 + std::exp(-v)); }, -40, 40);
    check_unary<T>("relu", [](auto& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0; });
    check_unary<T>("gelu_tanh", [](auto& x) { return gelu_tanh(x); }, gelu_ref);
    check_unary<T>("abs", [](auto& x) { return abs(x); }, [](double v) { return std::abs(v); });
    check_unary<T>("pow 3", [](auto& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; }, 0.1, 3);
    check_unary<T>("pow 0.5", [](auto& x) { return pow(x, 0.5); }, [](double v) { return std::sqrt(v); }, 0, 3);
    check_unary<T>("clamp", [](auto& x) { return clamp(x, -1.0, 0.5); },
                   [](double v) { return std::min(0.5, std::max(-1.0, v)); });
    check_unary<T>("scalar arithmetic", [](auto& x) { return 2.0 * x - 1 + x / 4.0; },
                   [](double v) { return 2 * v - 1 + v / 4; });
}

BOOST_AUTO_TEST_CASE_TEMPLATE(binary_ops_broadcast_like_numpy, T, Floats) {
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {Shape{7}, Shape{7}},          {Shape{33, 1}, Shape{1, 7}}, {Shape{2, 3, 5}, Shape{5}},
        {Shape{1025}, Shape{1}},       {Shape{3, 1, 4}, Shape{2, 1}}, {Shape{}, Shape{2, 2}},
        {Shape{2, 1, 3, 1}, Shape{4, 1, 5}}};
    for (auto& [sa, sb] : shapes) {
        check_binary<T>("add", [](auto& a, auto& b) { return a + b; }, [](double a, double b) { return a + b; }, sa, sb);
        check_binary<T>("sub", [](auto& a, auto& b) { return a - b; }, [](double a, double b) { return a - b; }, sa, sb);
        check_binary<T>("mul", [](auto& a, auto& b) { return a * b; }, [](double a, double b) { return a * b; }, sa, sb);
        check_binary<T>("div", [](auto& a, auto& b) { return a / b; }, [](double a, double b) { return a / b; }, sa, sb, 0.5, 3);
        check_binary<T>("pow", [](auto& a, auto& b) { return pow(a, b); }, [](double a, double b) { return std::pow(a, b); },
                        sa, sb, 0.5, 2);
        check_binary<T>("maximum", [](auto& a, auto& b) { return maximum(a, b); },
                        [](double a, double b) { return std::max(a, b); }, sa, sb);
        check_binary<T>("lt", [](auto& a, auto& b) { return a < b; }, [](double a, double b) { return double(a < b); }, sa, sb);
        check_binary<T>("ge", [](auto& a, auto& b) { return a >= b; }, [](double a, double b) { return double(a >= b); }, sa, sb);
        check_binary<T>("where", [](auto& a, auto& b) { return where(a > b, a * 2, b); },
                        [](double a, double b) { return a > b ? a * 2 : b; }, sa, sb);
    }
}

BOOST_AUTO_TEST_CASE(comparisons_and_where_on_equal_values) {
    auto a = Tensor<float>::from_vector({1, 2, 3, 4}, {4});
    auto b = Tensor<float>::from_vector({1, 0, 3, 5}, {4});
    BOOST_TEST(ref::values(Tensor<float>(eq(a, b))) == (std::vector<double>{1, 0, 1, 0}), boost::test_tools::per_element());
    BOOST_TEST(ref::values(Tensor<float>(ne(a, b))) == (std::vector<double>{0, 1, 0, 1}), boost::test_tools::per_element());
    BOOST_TEST(ref::values(Tensor<float>(le(a, b))) == (std::vector<double>{1, 0, 1, 1}), boost::test_tools::per_element());
    BOOST_TEST(ref::values(Tensor<float>(where(gt(a, b), 1.0f, -1.0f) * 1.0f)) == (std::vector<double>{-1, 1, -1, -1}),
               boost::test_tools::per_element());
    BOOST_TEST(ref::values(Tensor<float>(minimum(a, b))) == (std::vector<double>{1, 0, 3, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(strided_and_broadcast_views_as_operands, T, Floats) {
    std::mt19937_64 rng(3);
    ref::Array a = ref::random_array(Shape{33, 7}, rng);
    Tensor<T> x = ref::to_tensor<T>(a);
    a.v = ref::values(x);
    // transpose (non-contiguous), a strided slice, and an expanded column
    Tensor<T> xt = x.transpose();
    Tensor<T> every_other = x.slice(0, 1, 33, 2);           // (16, 7)
    Tensor<T> col = x.slice(1, 3, 4).expand(Shape{33, 7});  // (33, 7) of column 3
    Tensor<T> y = xt.transpose() * 2 + col;
    Tensor<T> z = every_other - every_other * every_other;
    for (index_t i = 0; i < 33; ++i)
        for (index_t j = 0; j < 7; ++j) {
            double xv = a.v[static_cast<std::size_t>(i * 7 + j)], cv = a.v[static_cast<std::size_t>(i * 7 + 3)];
            BOOST_TEST(std::abs(double(y(i, j)) - (2 * xv + cv)) <= 1e-5);
            if (i % 2 == 1) {
                double e = xv - xv * xv;
                BOOST_TEST(std::abs(double(z((i - 1) / 2, j)) - e) <= 1e-5);
            }
        }
    // writing through a strided view writes exactly the viewed elements
    Tensor<T> w = Tensor<T>::zeros({4, 6});
    w.slice(1, 0, 6, 2).assign(Tensor<T>::ones({4, 3}) * 5);
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 6; ++j) BOOST_TEST(double(w(i, j)) == (j % 2 == 0 ? 5.0 : 0.0));
}

BOOST_AUTO_TEST_CASE(large_expressions_match_on_many_threads) {
    // Above the parallel threshold, with a transposed operand: the threaded split must cover every
    // element exactly once.
    const index_t m = 301, n = 517;
    std::mt19937_64 rng(5);
    ref::Array a = ref::random_array(Shape{m, n}, rng), b = ref::random_array(Shape{n, m}, rng);
    auto x = ref::to_tensor<double>(a), y = ref::to_tensor<double>(b);
    Tensor<double> z = x * y.transpose() + abs(x);
    for (index_t i = 0; i < m; i += 13)
        for (index_t j = 0; j < n; ++j) {
            double xv = a.v[static_cast<std::size_t>(i * n + j)], yv = b.v[static_cast<std::size_t>(j * m + i)];
            BOOST_TEST(z(i, j) == xv * yv + std::abs(xv));
        }
}

BOOST_AUTO_TEST_CASE(six_op_expression_is_one_pass) {
    auto a = Tensor<float>::full({1000}, 1.5f), b = Tensor<float>::full({1000}, 0.5f), c = Tensor<float>::full({1000}, 2.0f);
    auto before = stats::elementwise_passes.load();
    Tensor<float> r = abs(clamp((a * b + c) * 2.0f - a, -10.0, 10.0));  // mul, add, mul, sub, clamp, abs
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);
    BOOST_TEST(r(999) == std::abs((1.5f * 0.5f + 2.0f) * 2.0f - 1.5f));
    // The same ops one at a time make six passes (the benchmark's unfused baseline).
    before = stats::elementwise_passes.load();
    Tensor<float> t1 = a * b, t2 = t1 + c, t3 = t2 * 2.0f, t4 = t3 - a, t5 = clamp(t4, -10.0, 10.0), t6 = abs(t5);
    BOOST_TEST(stats::elementwise_passes.load() - before == 6u);
    BOOST_TEST(t6(3) == r(3));
}

BOOST_AUTO_TEST_CASE(assign_is_safe_when_reading_its_own_memory) {
    // x.assign(f(x.transpose())) reads elements that earlier iterations overwrite: it must go
    // through a temporary. Element-wise self-updates (x = x * 2) may run in place.
    auto x = Tensor<double>::arange(9).reshape({3, 3});
    x.assign(x.transpose() + 0.0);
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 3; ++j) BOOST_TEST(x(i, j) == double(j * 3 + i));
    auto before = stats::elementwise_passes.load();
    x.assign(x * 2.0);
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);
    BOOST_TEST(x(0, 1) == 6.0);
}

BOOST_AUTO_TEST_CASE(bf16_storage_computes_in_f32) {
    auto a = Tensor<float>::from_vector({1.0f, 3.14159f, -2.5f, 1e-3f, 65504.0f, 1.00390625f}, {6});
    Tensor<bf16> h = a;  // f32 -> bf16, round to nearest even
    Tensor<float> back = cast<float>(h) * 1.0f;
    std::vector<float> want = {1.0f, 3.140625f, -2.5f, 0.000999450684f, 65536.0f, 1.0f};
    for (index_t i = 0; i < 6; ++i) BOOST_TEST(back(i) == want[static_cast<std::size_t>(i)]);
    Tensor<bf16> sum2 = h + h;
    BOOST_TEST(float(sum2(2)) == -5.0f);
    // NaN stays NaN through the conversion
    BOOST_TEST(std::isnan(float(bf16(std::nanf("")))));
}

BOOST_AUTO_TEST_CASE(shape_mismatch_names_both_shapes) {
    auto a = Tensor<float>::zeros({2, 3}), b = Tensor<float>::zeros({4});
    try {
        Tensor<float> c = a + b;
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find("(2, 3)") != std::string::npos);
        BOOST_TEST(msg.find("(4,)") != std::string::npos);
    }
    BOOST_CHECK_THROW(a.assign(Tensor<float>::zeros({3, 3}) + 1.0f), shape_error);
}

// Mismatched element types or devices do not compile (no implicit conversions between them).
template <class A, class B>
concept Addable = requires(A a, B b) { a + b; };
static_assert(Addable<Tensor<float>, Tensor<float>>);
static_assert(Addable<Tensor<float>, double>);
static_assert(!Addable<Tensor<float>, Tensor<double>>);
static_assert(!Addable<Tensor<float, cpu>, Tensor<float, cuda>>);

BOOST_AUTO_TEST_SUITE_END()
