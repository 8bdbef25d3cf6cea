// The heavy-op front ends (tensor/ops.hpp): output shapes, broadcast batch axes, views as operands,
// fused tails, statistics, and the errors for bad shapes — checked against naive loops.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/reference.hpp"

using namespace ward;

namespace {
double gelu(double x) { return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
}  // namespace

BOOST_AUTO_TEST_SUITE(tensor_ops)

BOOST_AUTO_TEST_CASE(matmul_broadcasts_batch_axes) {
    Generator g(1);
    Tensor<double> a = normal<double>(g, {2, 1, 3, 4}), b = normal<double>(g, {5, 4, 6});
    Tensor<double> c = matmul(a, b);
    BOOST_TEST((c.shape() == Shape{2, 5, 3, 6}));
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 5; ++j)
            for (index_t m = 0; m < 3; ++m)
                for (index_t n = 0; n < 6; ++n) {
                    double s = 0;
                    for (index_t k = 0; k < 4; ++k) s += a(i, 0, m, k) * b(j, k, n);
                    BOOST_TEST(std::abs(c(i, j, m, n) - s) <= 1e-12);
                }
}

BOOST_AUTO_TEST_CASE(matmul_takes_views_and_expressions_with_fused_tail) {
    Generator g(2);
    const index_t M = 33, K = 17, N = 7;
    Tensor<float> at = normal<float>(g, {K, M}), b = normal<float>(g, {K, N}), bias = normal<float>(g, {N});
    Tensor<float> c = matmul(at.transpose(), b * 0.5f, bias, Activation::gelu_tanh);
    BOOST_TEST((c.shape() == Shape{M, N}));
    double worst = 0;
    for (index_t m = 0; m < M; ++m)
        for (index_t n = 0; n < N; ++n) {
            double s = bias(n);
            for (index_t k = 0; k < K; ++k) s += double(at(k, m)) * 0.5 * double(b(k, n));
            worst = std::max(worst, std::abs(double(c(m, n)) - gelu(s)));
        }
    BOOST_TEST(worst <= 1e-4);
    Tensor<float> r = matmul(at.transpose(), b, bias, Activation::relu);
    BOOST_TEST(min(r).item() >= 0.0f);
}

BOOST_AUTO_TEST_CASE(matmul_shape_errors_name_both_shapes) {
    auto a = Tensor<float>::zeros({3, 4}), b = Tensor<float>::zeros({5, 6});
    try {
        matmul(a, b);
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find("(3, 4)") != std::string::npos);
        BOOST_TEST(msg.find("(5, 6)") != std::string::npos);
    }
    BOOST_CHECK_THROW(matmul(Tensor<float>::zeros({4}), Tensor<float>::zeros({4, 2})), shape_error);
    BOOST_CHECK_THROW(matmul(Tensor<float>::zeros({2, 3, 4}), Tensor<float>::zeros({3, 4, 2})), shape_error);
    BOOST_CHECK_THROW(matmul(a, Tensor<float>::zeros({4, 2}), Tensor<float>::zeros({3})), shape_error);
}

BOOST_AUTO_TEST_CASE(softmax_and_log_softmax_rows) {
    Generator g(3);
    Tensor<double> x = normal<double>(g, {4, 3, 9}, 0.0, 5.0);
    Tensor<double> p = softmax(x.transpose(0, 1)), lp = log_softmax(x);
    BOOST_TEST((p.shape() == Shape{3, 4, 9}));
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 3; ++j) {
            double m = -INFINITY, z = 0;
            for (index_t k = 0; k < 9; ++k) m = std::max(m, x(i, j, k));
            for (index_t k = 0; k < 9; ++k) z += std::exp(x(i, j, k) - m);
            for (index_t k = 0; k < 9; ++k) {
                BOOST_TEST(std::abs(p(j, i, k) - std::exp(x(i, j, k) - m) / z) <= 1e-12);
                BOOST_TEST(std::abs(lp(i, j, k) - (x(i, j, k) - m - std::log(z))) <= 1e-12);
            }
        }
}

BOOST_AUTO_TEST_CASE(layer_norm_and_rms_norm_with_stats) {
    Generator g(4);
    Tensor<double> x = normal<double>(g, {5, 2, 33}, 1.0, 3.0), gamma = normal<double>(g, {33}), beta = normal<double>(g, {33});
    NormStats<double, cpu> st;
    Tensor<double> y = layer_norm(x, gamma, beta, 1e-5, &st);
    NormStats<double, cpu> rst;
    Tensor<double> r = rms_norm(x, gamma, 1e-6, &rst);
    BOOST_TEST((st.mean.shape() == Shape{5, 2}));
    for (index_t i = 0; i < 5; ++i)
        for (index_t j = 0; j < 2; ++j) {
            double mu = 0, var = 0, ms = 0;
            for (index_t k = 0; k < 33; ++k) mu += x(i, j, k) / 33;
            for (index_t k = 0; k < 33; ++k) var += (x(i, j, k) - mu) * (x(i, j, k) - mu) / 33;
            for (index_t k = 0; k < 33; ++k) ms += x(i, j, k) * x(i, j, k) / 33;
            BOOST_TEST(std::abs(st.mean(i, j) - mu) <= 1e-12);
            BOOST_TEST(std::abs(st.rstd(i, j) - 1 / std::sqrt(var + 1e-5)) <= 1e-10);
            BOOST_TEST(std::abs(rst.rstd(i, j) - 1 / std::sqrt(ms + 1e-6)) <= 1e-10);
            for (index_t k = 0; k < 33; ++k) {
                BOOST_TEST(std::abs(y(i, j, k) - ((x(i, j, k) - mu) / std::sqrt(var + 1e-5) * gamma(k) + beta(k))) <= 1e-10);
                BOOST_TEST(std::abs(r(i, j, k) - x(i, j, k) / std::sqrt(ms + 1e-6) * gamma(k)) <= 1e-10);
            }
        }
    BOOST_CHECK_THROW(layer_norm(x, Tensor<double>::ones({32}), beta), shape_error);
    // no affine part: undefined gamma and beta
    Tensor<double> plain = layer_norm(x, Tensor<double>(), Tensor<double>());
    BOOST_TEST(std::abs(mean(plain, -1)(0, 0)) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(embedding_keeps_the_ids_shape) {
    Generator g(5);
    Tensor<float> table = normal<float>(g, {10, 4});
    auto ids = Tensor<std::int64_t>::from_vector({3, 0, 9, 3, 1, 2}, {2, 3});
    Tensor<float> e = embedding(table, ids);
    BOOST_TEST((e.shape() == Shape{2, 3, 4}));
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            for (index_t k = 0; k < 4; ++k) BOOST_TEST(e(i, j, k) == table(ids(i, j), k));
    BOOST_CHECK_THROW(embedding(table, Tensor<std::int64_t>::from_vector({-1}, {1})), index_error);
    BOOST_CHECK_THROW(embedding(table, Tensor<std::int64_t>::from_vector({10}, {1})), index_error);
}

BOOST_AUTO_TEST_CASE(concat_and_split_round_trip) {
    auto a = Tensor<double>::arange(6).reshape({2, 3}), b = Tensor<double>::arange(4).reshape({2, 2});
    Tensor<double> c = concat<double, cpu>({a, b.transpose().contiguous().transpose(), a}, 1);
    BOOST_TEST((c.shape() == Shape{2, 8}));
    auto parts = split(c, {3, 2, 3}, 1);
    BOOST_TEST(ref::values(parts[0]) == ref::values(a), boost::test_tools::per_element());
    BOOST_TEST(ref::values(parts[1]) == ref::values(b), boost::test_tools::per_element());
    BOOST_TEST(parts[2].storage() == c.storage());  // a view, not a copy
    BOOST_CHECK_THROW((concat<double, cpu>({a, Tensor<double>::zeros({3, 3})}, 1)), shape_error);
    BOOST_CHECK_THROW(split(c, {3, 3}, 1), shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
