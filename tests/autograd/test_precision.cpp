// f32 segments of bf16 graphs (autograd/precision.hpp): in_f32's value and gradients are the f32
// computation's on the same (bf16) numbers, rounded once; a backward that keeps the graph can run it
// twice without counting twice; and RepNoise's MMD on bf16 samples of a thousand dimensions, which
// cancels to nothing in bf16, comes out as an f64 reference computes it.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/defence/mmd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

namespace {

Tensor<bf16> rnd_bf16(const Shape& s, std::uint64_t seed, double scale = 1.0) {
    Generator g(seed);
    return Tensor<bf16>(cast<bf16>(normal<float>(g, s) * float(scale)));
}

template <class T>
std::vector<double> doubles(const Tensor<T>& t) {
    std::vector<double> out;
    for (T x : t.to_vector()) out.push_back(double(static_cast<float>(x)));
    return out;
}

/// A function with a cancellation in it: sum((a - b)^2) written as |a|^2 + |b|^2 - 2 a.b.
auto squared_distance = [](const auto& v) {
    return ag::sum(v[0] * v[0]) + ag::sum(v[1] * v[1]) - ag::sum(v[0] * v[1]) * 2.0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_precision)

BOOST_AUTO_TEST_CASE(in_f32_is_the_f32_computation_rounded_once) {
    const Tensor<bf16> a = rnd_bf16({512}, 1, 2.0), b = Tensor<bf16>(cast<bf16>(cast<float>(a) + 0.05f * cast<float>(rnd_bf16({512}, 2))));
    Var<bf16> va(a, true), vb(b, true);
    Var<bf16> d = ag::in_f32(squared_distance, std::vector<Var<bf16>>{va, vb});
    BOOST_TEST(d.op() == std::string("in_f32"));
    Var<float> fa(Tensor<float>(cast<float>(a)), true), fb(Tensor<float>(cast<float>(b)), true);
    Var<float> want = squared_distance(std::vector<Var<float>>{fa, fb});
    BOOST_TEST(static_cast<float>(d.value().item()) == static_cast<float>(bf16(want.value().item())));
    d.backward();
    want.backward();
    const auto ga = doubles(va.grad()), wa = doubles(fa.grad());
    for (std::size_t i = 0; i < ga.size(); ++i) BOOST_TEST(ga[i] == double(static_cast<float>(bf16(float(wa[i])))));

    // The same in bf16 throughout: the cancellation leaves nothing of the answer.
    Var<bf16> naive = squared_distance(std::vector<Var<bf16>>{Var<bf16>(a), Var<bf16>(b)});
    const double truth = want.value().item();
    BOOST_TEST_MESSAGE("squared distance " << truth << ": in_f32 " << static_cast<float>(d.value().item()) << ", all bf16 "
                                           << static_cast<float>(naive.value().item()));
    BOOST_TEST(std::abs(static_cast<float>(d.value().item()) - truth) < 0.01 * truth);
    BOOST_TEST(std::abs(static_cast<float>(naive.value().item()) - truth) > 0.5 * truth);
}

BOOST_AUTO_TEST_CASE(a_kept_graph_runs_it_twice_without_counting_twice) {
    Var<bf16> x(rnd_bf16({8}, 3), true);
    Var<bf16> y = ag::in_f32([](const auto& v) { return ag::sum(ag::exp(v[0])); }, std::vector<Var<bf16>>{x});
    y.backward(true);
    const auto once = doubles(x.grad());
    y.backward();
    const auto twice = doubles(x.grad());
    for (std::size_t i = 0; i < once.size(); ++i) BOOST_TEST(twice[i] == double(static_cast<float>(bf16(float(2 * once[i])))));
}

BOOST_AUTO_TEST_CASE(bf16_mmd_matches_f64) {
    // RepNoise's shapes in miniature: 4 and 4 samples of 2,048 dimensions sharing a large common
    // component (as a residual stream's do), so the squared norms are 50 times the distances.
    const Tensor<bf16> xh = Tensor<bf16>(cast<bf16>(cast<float>(rnd_bf16({4, 2048}, 4, 0.5)) + 8.0f));
    const Tensor<bf16> yh = Tensor<bf16>(cast<bf16>(cast<float>(rnd_bf16({4, 2048}, 5)) + 8.0f));
    Var<bf16> x(xh, true);
    Var<bf16> m = defence::mmd(x, Var<bf16>(yh));
    Var<double> xd(Tensor<double>(cast<double>(xh)), true);
    Var<double> md = defence::mmd(xd, Var<double>(Tensor<double>(cast<double>(yh))));
    BOOST_TEST_MESSAGE("mmd bf16 " << static_cast<float>(m.value().item()) << ", f64 " << md.value().item());
    BOOST_TEST(std::abs(static_cast<float>(m.value().item()) - md.value().item()) < 1e-2 * md.value().item());
    m.backward();
    md.backward();
    const auto g = doubles(x.grad()), gd = xd.grad().to_vector();
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        err += (g[i] - gd[i]) * (g[i] - gd[i]);
        norm += gd[i] * gd[i];
    }
    BOOST_TEST(std::sqrt(err / norm) < 1e-2);
}

BOOST_AUTO_TEST_SUITE_END()
