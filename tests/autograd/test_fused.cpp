// Fused differentiable expressions: ag::fused against finite differences and against the same
// function built from separate ops, and the pass counts (1 forward, 1 per input backward).
#include <boost/test/unit_test.hpp>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;
using Vars = std::vector<Var<double>>;

BOOST_AUTO_TEST_SUITE(autograd_fused)

BOOST_AUTO_TEST_CASE(fused_expressions_pass_gradcheck) {
    Generator g(1);
    Tensor<double> x = uniform<double>(g, {4, 5}, -2.0, 2.0), beta = uniform<double>(g, {5}, 0.5, 2.0),
                   pos = uniform<double>(g, {4, 5}, 0.5, 3.0);
    auto swish = [](auto a, auto b) { return a * sigmoid(b * a); };
    auto r1 = ag::gradcheck([&](const Vars& v) { return ag::fused(swish, v[0], v[1]); }, {x, beta});
    BOOST_TEST(r1.ok, r1.worst);
    // every function the expression layer has, with branches, constants and broadcasting
    auto mix = [](auto a, auto b, auto c) {
        return where(a > 0.0, exp(a) * tanh(b), log(c) / (b * b + 1.0)) + sqrt(c) * abs(a) - pow(c, 1.5) +
               gelu_tanh(a) * clamp(b, 0.8, 1.6) + log1p(c) - rsqrt(c) + relu(a - b);
    };
    auto r2 = ag::gradcheck([&](const Vars& v) { return ag::fused(mix, v[0], v[1], v[2]); }, {x, beta, pos});
    BOOST_TEST(r2.ok, r2.worst);
}

BOOST_AUTO_TEST_CASE(fused_matches_separate_ops_in_one_pass_each) {
    Generator g(2);
    Tensor<float> xv = normal<float>(g, {1000}), bv = normal<float>(g, {1000});
    Var<float> x(xv, true), b(bv, true), x2(xv.clone(), true), b2(bv.clone(), true);
    auto before = stats::elementwise_passes.load();
    Var<float> y = ag::fused([](auto p, auto q) { return tanh(p * q) + p; }, x, b);
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);
    // The node's backward alone: one derivative pass per input, accumulated in that same pass.
    y.node()->grad = Tensor<float>::ones({1000});
    auto mid = stats::elementwise_passes.load();
    y.node()->backward(*y.node());
    BOOST_TEST(stats::elementwise_passes.load() - mid == 2u);
    Var<float> y2 = ag::tanh(x2 * b2) + x2;
    ag::sum(y2).backward();
    BOOST_TEST(max(abs(y.value() - y2.value())).item() <= 1e-6f);
    BOOST_TEST(max(abs(x.grad() - x2.grad())).item() <= 1e-5f);
    BOOST_TEST(max(abs(b.grad() - b2.grad())).item() <= 1e-5f);
}

BOOST_AUTO_TEST_SUITE_END()
