// End to end: a small MLP trained with the tape and AdamW separates two interleaved spirals, a
// task no linear model can solve, to 100% training accuracy from a fixed seed.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include <ward/autograd.hpp>
#include <ward/optim.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

BOOST_AUTO_TEST_SUITE(autograd_two_spirals)

BOOST_AUTO_TEST_CASE(mlp_fits_two_spirals) {
    // 2 x 96 points on two arms of a spiral, radius growing with the angle, one arm per class.
    const index_t per_class = 96, n = 2 * per_class;
    std::vector<float> xy;
    std::vector<std::int64_t> labels;
    for (index_t c = 0; c < 2; ++c)
        for (index_t i = 0; i < per_class; ++i) {
            double t = 0.25 + 3.0 * M_PI * double(i) / double(per_class);  // 1.5 turns
            double r = t / (3.0 * M_PI);
            double sign = c == 0 ? 1.0 : -1.0;
            xy.push_back(float(sign * r * std::cos(t)));
            xy.push_back(float(sign * r * std::sin(t)));
            labels.push_back(c);
        }
    auto x = Tensor<float>::from_vector(xy, {n, 2});
    auto y = Tensor<std::int64_t>::from_vector(labels, {n});

    Generator g(24);
    auto layer = [&](index_t out, index_t in) {
        return std::pair{Var<float>(normal<float>(g, {out, in}, 0.0f, 1.0f / std::sqrt(float(in))), true),
                         Var<float>(Tensor<float>::zeros({out}), true)};
    };
    auto [w1, b1] = layer(64, 2);
    auto [w2, b2] = layer(64, 64);
    auto [w3, b3] = layer(2, 64);
    optim::ParameterList<float> params{w1.parameter("w1"), b1.parameter("b1"), w2.parameter("w2"),
                                       b2.parameter("b2"), w3.parameter("w3"), b3.parameter("b3")};
    optim::AdamWOptions opt;
    opt.lr = 1e-2;
    opt.weight_decay = 0.0;
    optim::AdamW<float> adam(params, opt);

    auto forward = [&](const Var<float>& in) {
        Var<float> h = ag::linear(in, w1, b1, Activation::gelu_tanh);
        h = ag::linear(h, w2, b2, Activation::gelu_tanh);
        return ag::linear(h, w3, b3);
    };
    auto accuracy = [&]() {
        ag::NoGrad ng;
        Tensor<std::int64_t> pred = argmax(forward(Var<float>(x)).value(), -1);
        return mean(eq(cast<float>(pred), cast<float>(y))).item();
    };
    float first_loss = 0, last_loss = 0;
    for (int step = 0; step < 1500; ++step) {
        Var<float> loss = ag::cross_entropy(forward(Var<float>(x)), y);
        if (step == 0) first_loss = loss.value().item();
        last_loss = loss.value().item();
        loss.backward();
        adam.step();
        adam.zero_grad();
        if (step % 100 == 99 && accuracy() == 1.0f) break;
    }
    BOOST_TEST_MESSAGE("two spirals: loss " << first_loss << " -> " << last_loss);
    BOOST_TEST(std::abs(first_loss - std::log(2.0f)) < 0.2f);  // starts near chance
    BOOST_TEST(accuracy() == 1.0f);
}

BOOST_AUTO_TEST_SUITE_END()
