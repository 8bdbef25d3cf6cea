// Activation checkpointing (autograd/checkpoint.hpp) against the same function recorded whole: the
// same value and the same gradients, bit for bit, for the input and the parameters; parameters get
// gradients when the input needs none; dropout inside draws the same masks when rebuilt; nothing is
// recorded under NoGrad; a parameter that is not a leaf is refused.
#include <boost/test/unit_test.hpp>

#include <vector>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

namespace {

Tensor<float> rnd(const Shape& s, std::uint64_t seed) {
    Generator g(seed);
    return Tensor<float>(normal<float>(g, s));
}

/// Two layers with a residual: what a transformer block looks like to the tape.
struct TwoLayers {
    Var<float> w1, b1, w2;
    TwoLayers() : w1(rnd({16, 8}, 1), true), b1(rnd({16}, 2), true), w2(rnd({8, 16}, 3), true) {}
    Var<float> operator()(const Var<float>& x) const { return x + ag::linear(ag::tanh(ag::linear(x, w1, b1)), w2); }
    std::vector<Var<float>> params() const { return {w1, b1, w2}; }
};
// Each comparison runs on two instances with the same weights, so that both start with no
// gradient (a gradient summed into zeros takes another kernel than a fresh one, rounded apart).

/// loss(f(x)) with a weighting that makes every output element count differently.
Var<float> loss_of(const Var<float>& y) { return ag::sum(y * Var<float>(rnd(y.shape(), 9))); }

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_checkpoint)

BOOST_AUTO_TEST_CASE(same_value_and_gradients_as_the_whole_graph) {
    TwoLayers f, g;
    Var<float> x(rnd({3, 5, 8}, 4), true);
    Var<float> whole = f(ag::tanh(x));  // an op before, so x's gradient flows through the checkpoint's input
    loss_of(whole).backward();
    std::vector<std::vector<float>> want;
    for (const auto& p : f.params()) want.push_back(p.grad().to_vector());
    const auto want_x = x.grad().to_vector();

    Var<float> x2(x.value(), true);
    Var<float> ck = ag::checkpoint(g, ag::tanh(x2), g.params());
    BOOST_TEST(ck.value().to_vector() == whole.value().to_vector(), boost::test_tools::per_element());
    BOOST_TEST(ck.op() == std::string("checkpoint"));
    loss_of(ck).backward();
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST(g.params()[i].grad().to_vector() == want[i], boost::test_tools::per_element());
    BOOST_TEST(x2.grad().to_vector() == want_x, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(parameters_get_gradients_when_the_input_needs_none) {
    TwoLayers f, g;
    const Var<float> x(rnd({4, 8}, 5), false);  // a frozen embedding's output, say
    loss_of(f(x)).backward();
    std::vector<std::vector<float>> want;
    for (const auto& p : f.params()) want.push_back(p.grad().to_vector());
    Var<float> y = ag::checkpoint(g, x, g.params());
    BOOST_REQUIRE(y.requires_grad());
    loss_of(y).backward();
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST(g.params()[i].grad().to_vector() == want[i], boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dropout_inside_draws_the_same_masks_when_rebuilt) {
    TwoLayers layers, again;
    Generator gen(17);
    auto f = [&](const Var<float>& in) { return layers(ag::dropout(in, 0.3, gen)); };
    auto f_again = [&](const Var<float>& in) { return again(ag::dropout(in, 0.3, gen)); };
    Var<float> x(rnd({6, 8}, 6), true);
    loss_of(f(x)).backward();
    std::vector<std::vector<float>> want;
    for (const auto& p : layers.params()) want.push_back(p.grad().to_vector());
    const auto want_x = x.grad().to_vector();
    const std::uint64_t after_one_forward = gen.offset();

    gen.set_offset(0);
    Var<float> x2(x.value(), true);
    Var<float> y = ag::checkpoint(f_again, x2, again.params(), {&gen});
    BOOST_TEST(gen.offset() == after_one_forward);
    loss_of(y).backward();
    BOOST_TEST(gen.offset() == after_one_forward);  // the rebuild rewound it, and put it back
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST(again.params()[i].grad().to_vector() == want[i], boost::test_tools::per_element());
    BOOST_TEST(x2.grad().to_vector() == want_x, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(nothing_is_recorded_under_no_grad) {
    TwoLayers f;
    Var<float> x(rnd({2, 8}, 7), true);
    ag::NoGrad ng;
    Var<float> y = ag::checkpoint(f, x, f.params());
    BOOST_TEST(!y.requires_grad());
    BOOST_TEST(y.value().to_vector() == f(x).value().to_vector(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_parameter_that_is_not_a_leaf_is_refused) {
    TwoLayers f;
    Var<float> x(rnd({2, 8}, 8), true);
    Var<float> scaled = f.w1 * 2.0;
    BOOST_CHECK_EXCEPTION(ag::checkpoint(f, x, {scaled}), value_error, [](const value_error& e) {
        return std::string(e.what()).find("not a leaf") != std::string::npos;
    });
}

BOOST_AUTO_TEST_SUITE_END()
