// Every differentiable op against central finite differences in f64 (ag::gradcheck), including
// broadcast operands and non-contiguous (transposed, sliced, expanded) inputs.
#include <boost/test/unit_test.hpp>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;
using Vars = std::vector<Var<double>>;

namespace {

Tensor<double> rnd(const Shape& s, std::uint64_t seed, double lo = -1.5, double hi = 1.5) {
    Generator g(seed);
    return uniform<double>(g, s, lo, hi);
}

void check(const char* name, const ag::GradFunction& f, const std::vector<Tensor<double>>& inputs) {
    ag::GradcheckResult r = ag::gradcheck(f, inputs);
    BOOST_TEST(r.ok, name << ": max abs error " << r.max_abs_error << " at " << r.worst);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(autograd_gradcheck)

BOOST_AUTO_TEST_CASE(unary_ops) {
    auto x = rnd({3, 5}, 1), pos = rnd({3, 5}, 2, 0.2, 2.0);
    check("neg", [](const Vars& v) { return -v[0]; }, {x});
    check("exp", [](const Vars& v) { return ag::exp(v[0]); }, {x});
    check("log", [](const Vars& v) { return ag::log(v[0]); }, {pos});
    check("sqrt", [](const Vars& v) { return ag::sqrt(v[0]); }, {pos});
    check("rsqrt", [](const Vars& v) { return ag::rsqrt(v[0]); }, {pos});
    check("tanh", [](const Vars& v) { return ag::tanh(v[0]); }, {x});
    check("sigmoid", [](const Vars& v) { return ag::sigmoid(v[0]); }, {x});
    check("relu", [](const Vars& v) { return ag::relu(v[0]); }, {x});
    check("gelu_tanh", [](const Vars& v) { return ag::gelu_tanh(v[0]); }, {x});
    check("abs", [](const Vars& v) { return ag::abs(v[0]); }, {x});
    check("square", [](const Vars& v) { return ag::square(v[0]); }, {x});
    check("pow", [](const Vars& v) { return ag::pow(v[0], 2.5); }, {pos});
    check("clamp", [](const Vars& v) { return ag::clamp(v[0], -0.7, 0.9); }, {x});
}

BOOST_AUTO_TEST_CASE(binary_ops_with_broadcasting) {
    auto a = rnd({4, 3}, 3), b = rnd({3}, 4), c = rnd({4, 1}, 5), pos = rnd({4, 1}, 6, 0.5, 2.0);
    check("add", [](const Vars& v) { return v[0] + v[1]; }, {a, b});
    check("sub", [](const Vars& v) { return v[0] - v[1]; }, {a, c});
    check("mul", [](const Vars& v) { return v[0] * v[1]; }, {a, b});
    check("div", [](const Vars& v) { return v[0] / v[1]; }, {a, pos});
    check("maximum", [](const Vars& v) { return ag::maximum(v[0], v[1]); }, {a, b});
    Tensor<double> cond = a > 0.0;
    check("where", [cond](const Vars& v) { return ag::where(cond, v[0], v[1]); }, {a, b});
    check("scalars", [](const Vars& v) { return 2.0 * v[0] - 1.0 + 3.0 / (v[1] * v[1] + 1.0) - v[0] / 4.0; }, {a, b});
    check("reuse", [](const Vars& v) { return v[0] * v[0] + v[0]; }, {a});  // a node used twice
}

BOOST_AUTO_TEST_CASE(reductions) {
    auto x = rnd({3, 4, 5}, 7);
    check("sum", [](const Vars& v) { return ag::sum(v[0]); }, {x});
    check("sum axis", [](const Vars& v) { return ag::sum(v[0], 1); }, {x});
    check("sum keepdim", [](const Vars& v) { return ag::sum(v[0], -1, true) * v[0]; }, {x});
    check("mean", [](const Vars& v) { return ag::mean(v[0], 0); }, {x});
    check("max", [](const Vars& v) { return ag::max(v[0], 2); }, {x});
    check("logsumexp", [](const Vars& v) { return ag::logsumexp(v[0], 1); }, {x});
}

BOOST_AUTO_TEST_CASE(views_and_joins) {
    auto x = rnd({4, 6}, 8), y = rnd({4, 2}, 9), row = rnd({6}, 10);
    check("transpose", [](const Vars& v) { return ag::transpose(v[0]) * ag::transpose(v[0]); }, {x});
    check("reshape", [](const Vars& v) { return ag::reshape(v[0], {2, 12}); }, {x});
    check("permute", [](const Vars& v) { return ag::permute(ag::reshape(v[0], {2, 3, 4}), {2, 0, 1}); }, {x});
    check("slice", [](const Vars& v) { return ag::slice(v[0], 1, 1, 6, 2); }, {x});
    check("select", [](const Vars& v) { return ag::select(v[0], 0, -1); }, {x});
    check("expand", [](const Vars& v) { return ag::expand(ag::unsqueeze(v[0], 0), {3, 6}); }, {row});
    check("concat", [](const Vars& v) { return ag::concat<double, cpu>({v[0], v[1], v[0]}, 1); }, {x, y});
    check("split", [](const Vars& v) {
        auto parts = ag::split(v[0], {1, 5}, 1);
        return parts[1] * ag::expand(parts[0], {4, 5});
    }, {x});
}

BOOST_AUTO_TEST_CASE(matmul_and_linear) {
    auto a = rnd({2, 3, 4}, 11), b = rnd({4, 5}, 12), w = rnd({5, 4}, 13), bias = rnd({5}, 14);
    check("matmul broadcast", [](const Vars& v) { return ag::matmul(v[0], v[1]); }, {a, b});
    check("matmul transposed", [](const Vars& v) { return ag::matmul(ag::transpose(v[1]), ag::transpose(v[0])); }, {a, b});
    check("linear", [](const Vars& v) { return ag::linear(v[0], v[1], v[2]); }, {a, w, bias});
    check("linear gelu", [](const Vars& v) { return ag::linear(v[0], v[1], v[2], Activation::gelu_tanh); }, {a, w, bias});
    check("linear relu, no bias", [](const Vars& v) { return ag::linear(v[0], v[1], Var<double>(), Activation::relu); }, {a, w});
}

BOOST_AUTO_TEST_CASE(normalisations_and_softmax) {
    auto x = rnd({3, 2, 7}, 15), g = rnd({7}, 16), b = rnd({7}, 17);
    check("softmax", [](const Vars& v) { return ag::softmax(v[0]); }, {x});
    check("log_softmax", [](const Vars& v) { return ag::log_softmax(v[0]); }, {x});
    check("softmax of a transpose", [](const Vars& v) { return ag::softmax(ag::transpose(v[0], 0, 2)); }, {x});
    check("layer_norm", [](const Vars& v) { return ag::layer_norm(v[0], v[1], v[2]); }, {x, g, b});
    check("layer_norm plain", [](const Vars& v) { return ag::layer_norm(v[0], Var<double>(), Var<double>()); }, {x});
    check("rms_norm", [](const Vars& v) { return ag::rms_norm(v[0], v[1]); }, {x, g});
}

BOOST_AUTO_TEST_CASE(embedding_scatters_back) {
    auto table = rnd({6, 3}, 18);
    auto ids = Tensor<std::int64_t>::from_vector({1, 4, 1, 0, 5}, {5});
    check("embedding", [ids](const Vars& v) { return ag::embedding(v[0], ids); }, {table});
}

BOOST_AUTO_TEST_CASE(losses) {
    auto logits = rnd({2, 3, 5}, 19, -3, 3);
    auto targets = Tensor<std::int64_t>::from_vector({0, 4, ag::ignore_index, 2, 2, 1}, {2, 3});
    auto mask = Tensor<double>::from_vector({1, 1, 1, 0, 1, 1}, {2, 3});
    check("cross_entropy", [targets](const Vars& v) { return ag::cross_entropy(v[0], targets); }, {logits});
    check("cross_entropy masked", [targets, mask](const Vars& v) { return ag::cross_entropy(v[0], targets, mask); }, {logits});
    auto y = rnd({4, 3}, 20), p = rnd({4, 3}, 21, 0, 1), x = rnd({4, 3}, 22, -4, 4);
    check("mse", [y](const Vars& v) { return ag::mse(v[0], y); }, {x});
    check("bce_with_logits", [p](const Vars& v) { return ag::bce_with_logits(v[0], p); }, {x});
    check("kl_div", [](const Vars& v) { return ag::kl_div(v[0], v[1]); }, {x, y});
}

BOOST_AUTO_TEST_SUITE_END()
