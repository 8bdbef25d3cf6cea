// The f32 CPU fast paths of linear (dW and db summed by sgemm into the gradient storage, also
// through a Conv1D transpose), layer norm backward and cross-entropy, against the same graph in
// f64, which takes the generic element-wise path. Gradients are preallocated (as the optimiser
// does) and already hold a value, so the in-place sums are checked as sums.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

namespace {

template <class T>
Tensor<T> tensor(const std::vector<double>& v, Shape s) {
    std::vector<T> c(v.begin(), v.end());
    return Tensor<T>::from_vector(c, s);
}

std::vector<double> values(index_t n, double scale, double phase) {
    std::vector<double> v;
    for (index_t i = 0; i < n; ++i) v.push_back(scale * std::sin(0.37 * double(i) + phase));
    return v;
}

struct Graph {
    std::vector<double> loss;
    std::vector<std::vector<double>> grads;  // x, w_conv1d, b, w_linear, gamma, beta
};

/// ids (R), x (R, 6) -> layer_norm -> linear through a transposed (6, 10) leaf with GELU ->
/// linear with a (4, 10) leaf -> cross-entropy.
template <class T>
Graph run(bool preallocate) {
    const index_t R = 9, C = 6, H = 10, V = 4;
    Var<T> x(tensor<T>(values(R * C, 1.5, 0.1), {3, 3, C}), true);
    Var<T> wc(tensor<T>(values(C * H, 0.4, 0.7), {C, H}), true);
    Var<T> b(tensor<T>(values(H, 0.2, 1.1), {H}), true);
    Var<T> wl(tensor<T>(values(V * H, 0.5, 2.3), {V, H}), true);
    Var<T> gamma(tensor<T>(values(C, 0.3, 0.2), {C}), true), beta(tensor<T>(values(C, 0.1, 0.5), {C}), true);
    std::vector<Var<T>> leaves{x, wc, b, wl, gamma, beta};
    if (preallocate)  // as the optimiser does, then a value already there that backward must add to
        for (std::size_t i = 0; i < leaves.size(); ++i)
            leaves[i].parameter("p").grad.assign(leaves[i].value() * 0 + double(i + 1) * 0.125);
    std::vector<std::int64_t> ids = {0, 3, 1, 2, -100, 3, 0, 1, 2};
    auto t = Tensor<std::int64_t>::from_vector(ids, {3, 3});
    Var<T> h = ag::layer_norm(x, gamma, beta);
    Var<T> z = ag::linear(h, ag::transpose(wc), b, Activation::gelu_tanh);
    Var<T> loss = ag::cross_entropy(ag::linear(z, wl), t);
    loss.backward();
    Graph g;
    g.loss.push_back(double(loss.value().item()));
    for (auto& v : leaves) {
        std::vector<double> d;
        for (auto e : v.grad().to_vector()) d.push_back(double(e));
        g.grads.push_back(d);
    }
    return g;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_fused_cpu_grads)

BOOST_AUTO_TEST_CASE(f32_cpu_fast_paths_match_the_f64_generic_graph) {
    for (bool pre : {false, true}) {
        Graph f = run<float>(pre), d = run<double>(pre);
        BOOST_TEST(std::abs(f.loss[0] - d.loss[0]) < 1e-5);
        for (std::size_t i = 0; i < f.grads.size(); ++i) {
            BOOST_REQUIRE(f.grads[i].size() == d.grads[i].size());
            for (std::size_t j = 0; j < f.grads[i].size(); ++j)
                BOOST_TEST(std::abs(f.grads[i][j] - d.grads[i][j]) < 2e-5 * (1 + std::abs(d.grads[i][j])),
                           "preallocated " << pre << ", leaf " << i << ", element " << j << ": " << f.grads[i][j] << " vs " << d.grads[i][j]);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
