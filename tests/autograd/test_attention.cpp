// The fused f32 CPU attention (backend/cpu/attention.hpp) against the composed path in f64
// (matmul, additive mask, softmax, matmul, each gradient-checked elsewhere): outputs and the
// gradients of q, k and v, with grouped-query heads, strided inputs, partial query blocks, a
// key offset (as with a KV cache) and left padding. Queries that see no key are left out of the
// loss, since their output is unspecified.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include <omp.h>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

namespace {

struct Case {
    index_t B, H, Hkv, T, offset, hd;
    std::vector<index_t> padded;  // per batch row: how many leading keys are padding
};

std::vector<double> values(index_t n, double scale, double phase) {
    std::vector<double> v;
    for (index_t i = 0; i < n; ++i) v.push_back(scale * std::sin(0.61 * double(i) + phase) * std::cos(0.013 * double(i)));
    return v;
}

template <class T>
Tensor<T> tensor(const std::vector<double>& v, Shape s) {
    return Tensor<T>::from_vector(std::vector<T>(v.begin(), v.end()), s);
}

struct Result {
    std::vector<double> out, dq, dk, dv;
};

template <class T>
std::vector<double> doubles(const Tensor<T>& t) {
    std::vector<double> d;
    for (auto e : t.contiguous().to_vector()) d.push_back(double(e));
    return d;
}

/// Attention of q (made as a (B, T, H, hd) tensor permuted to (B, H, T, hd), so it is strided),
/// k and v, then loss = sum(out * w), w zero on queries that see no key.
template <class T>
Result run(const Case& c) {
    const index_t S = c.offset + c.T;
    Var<T> q(tensor<T>(values(c.B * c.T * c.H * c.hd, 1.3, 0.2), {c.B, c.T, c.H, c.hd}).permute({0, 2, 1, 3}), true);
    Var<T> k(tensor<T>(values(c.B * c.Hkv * S * c.hd, 1.1, 1.7), {c.B, c.Hkv, S, c.hd}), true);
    Var<T> v(tensor<T>(values(c.B * c.Hkv * S * c.hd, 0.9, 2.9), {c.B, c.Hkv, S, c.hd}), true);
    ag::AttentionMask<T> mask{c.offset, {}};
    std::vector<double> w = values(c.B * c.T * c.H * c.hd, 1.0, 0.5);
    if (!c.padded.empty()) {
        std::vector<double> pad;
        for (index_t b = 0; b < c.B; ++b)
            for (index_t j = 0; j < S; ++j) pad.push_back(j < c.padded[std::size_t(b)] ? 0.0 : 1.0);
        mask.key_padding = tensor<T>(pad, {c.B, S});
        for (index_t b = 0; b < c.B; ++b)
            for (index_t i = 0; i < c.T; ++i)
                if (c.offset + i < c.padded[std::size_t(b)])  // sees only padding
                    for (index_t e = 0; e < c.H * c.hd; ++e) w[std::size_t((b * c.T + i) * c.H * c.hd + e)] = 0;
    }
    Var<T> out = ag::attention(q, k, v, mask, 1.0 / std::sqrt(double(c.hd)));
    BOOST_REQUIRE(out.shape() == (Shape{c.B, c.T, c.H * c.hd}));
    Var<T> loss = ag::sum(out * Var<T>(tensor<T>(w, out.shape())));
    loss.backward();
    Result r;
    std::vector<double> o = doubles(out.value());
    for (std::size_t i = 0; i < o.size(); ++i) r.out.push_back(w[i] == 0 ? 0.0 : o[i]);
    r.dq = doubles(q.grad()), r.dk = doubles(k.grad()), r.dv = doubles(v.grad());
    return r;
}

double max_relative_error(const std::vector<double>& a, const std::vector<double>& b) {
    BOOST_REQUIRE_EQUAL(a.size(), b.size());
    double err = 0, scale = 1e-30;
    for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return err / scale;
}

void check(const Case& c) {
    Result fused = run<float>(c), reference = run<double>(c);
    BOOST_TEST(max_relative_error(fused.out, reference.out) <= 1e-5);
    BOOST_TEST(max_relative_error(fused.dq, reference.dq) <= 1e-4);
    BOOST_TEST(max_relative_error(fused.dk, reference.dk) <= 1e-4);
    BOOST_TEST(max_relative_error(fused.dv, reference.dv) <= 1e-4);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_attention)

BOOST_AUTO_TEST_CASE(causal_multi_head_matches_composed_f64) { check({2, 4, 4, 70, 0, 16, {}}); }

BOOST_AUTO_TEST_CASE(grouped_query_heads_share_keys) { check({2, 6, 2, 130, 0, 8, {}}); }

BOOST_AUTO_TEST_CASE(queries_after_cached_keys) {
    check({2, 4, 2, 5, 70, 16, {}});  // a prompt's continuation
    check({3, 2, 1, 1, 90, 16, {}});  // one generated token
}

BOOST_AUTO_TEST_CASE(left_padding_masks_keys) {
    check({3, 4, 2, 40, 0, 16, {0, 7, 39}});
    check({2, 2, 2, 1, 20, 8, {3, 21}});  // the second row sees padding only
}

BOOST_AUTO_TEST_CASE(same_result_on_any_thread_count) {
    const Case c{2, 4, 2, 150, 0, 32, {0, 9}};
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Result one = run<float>(c);
    omp_set_num_threads(std::max(2, threads));
    Result many = run<float>(c);
    omp_set_num_threads(threads);
    BOOST_TEST(one.out == many.out, boost::test_tools::per_element());
    BOOST_TEST(one.dq == many.dq, boost::test_tools::per_element());
    BOOST_TEST(one.dk == many.dk, boost::test_tools::per_element());
    BOOST_TEST(one.dv == many.dv, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shapes_that_do_not_fit_are_reported) {
    Var<float> q(Tensor<float>::zeros({1, 4, 3, 8})), k(Tensor<float>::zeros({1, 3, 3, 8}));
    ag::AttentionMask<float> mask;
    BOOST_CHECK_THROW(ag::attention(q, k, k, mask, 1.0), shape_error);  // 4 heads over 3
    Var<float> k2(Tensor<float>::zeros({1, 2, 5, 8}));
    BOOST_CHECK_THROW(ag::attention(q, k2, k2, mask, 1.0), shape_error);  // 5 keys for 3 queries at offset 0
    mask.key_padding = Tensor<float>::ones({2, 3});
    Var<float> k3(Tensor<float>::zeros({1, 2, 3, 8}));
    BOOST_CHECK_THROW(ag::attention(q, k3, k3, mask, 1.0), shape_error);  // padding for 2 rows, batch 1
}

BOOST_AUTO_TEST_SUITE_END()
