// The tape itself: accumulation across backward calls, no_grad, detach, gradients with respect to
// intermediate values, graph release, and the errors for misuse — against hand-derived values.
#include <boost/test/unit_test.hpp>

#include <ward/autograd.hpp>
#include <ward/tensor.hpp>

using namespace ward;
using ag::Var;

BOOST_AUTO_TEST_SUITE(autograd_var)

BOOST_AUTO_TEST_CASE(gradients_accumulate_across_backward_calls) {
    Var<double> x(Tensor<double>::from_vector({1, 2, 3}, {3}), true);
    ag::sum(x * x).backward();  // d/dx = 2x
    BOOST_TEST(x.grad().to_vector() == (std::vector<double>{2, 4, 6}), boost::test_tools::per_element());
    ag::sum(x * 3.0).backward();  // + 3
    BOOST_TEST(x.grad().to_vector() == (std::vector<double>{5, 7, 9}), boost::test_tools::per_element());
    x.zero_grad();
    BOOST_TEST(x.grad().to_vector() == (std::vector<double>{0, 0, 0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(parameters_share_storage_with_the_tape) {
    Var<float> w(Tensor<float>::full({2}, 1.0f), true);
    auto p = w.parameter("w");
    ag::sum(w * 4.0f).backward();
    BOOST_TEST(p.grad(0) == 4.0f);  // the optimiser's handle sees the tape's gradient
    p.value.assign(p.value - 0.5f * p.grad);
    BOOST_TEST(w.value()(1) == -1.0f);
    Var<float> frozen(Tensor<float>::ones({2}), false);
    BOOST_CHECK_THROW(frozen.parameter("frozen"), value_error);
}

BOOST_AUTO_TEST_CASE(no_grad_and_detach_record_nothing) {
    Var<double> x(Tensor<double>::ones({2}), true);
    {
        ag::NoGrad guard;
        Var<double> y = x * 2.0;
        BOOST_TEST(!y.requires_grad());
        BOOST_TEST(!ag::grad_enabled());
    }
    BOOST_TEST(ag::grad_enabled());
    Var<double> z = x.detach() * 2.0 + x;
    ag::sum(z).backward();
    BOOST_TEST(x.grad()(0) == 1.0);  // only the attached path contributes
    BOOST_CHECK_THROW(ag::sum(x.detach()).backward(), value_error);
}

BOOST_AUTO_TEST_CASE(gradients_with_respect_to_intermediate_values) {
    // h = W x; loss = sum(h^2): d loss / d h = 2 h (what Vaccine-style perturbations need).
    Var<double> w(Tensor<double>::from_vector({1, 2, 3, 4}, {2, 2}), true);
    Var<double> x(Tensor<double>::from_vector({1, -1}, {2, 1}), false);
    Var<double> h = ag::matmul(w, x);  // (-1, -1)
    Var<double> loss = ag::sum(ag::square(h));
    auto grads = ag::grad(loss, {h, w});
    BOOST_TEST(grads[0].to_vector() == (std::vector<double>{-2, -2}), boost::test_tools::per_element());
    // d loss / d W = 2 h x^T
    BOOST_TEST(grads[1].to_vector() == (std::vector<double>{-2, 2, -2, 2}), boost::test_tools::per_element());
    BOOST_TEST(!w.grad().defined());  // ag::grad leaves the leaves' gradients alone
    // retain_grad keeps an intermediate's gradient through an ordinary backward
    Var<double> h2 = ag::matmul(w, x);
    h2.retain_grad();
    ag::sum(ag::square(h2)).backward();
    BOOST_TEST(h2.grad()(1, 0) == -2.0);
    BOOST_TEST(w.grad()(0, 1) == 2.0);
}

BOOST_AUTO_TEST_CASE(graph_is_freed_unless_kept) {
    Var<double> x(Tensor<double>::ones({3}), true);
    Var<double> y = ag::exp(x);
    Var<double> loss = ag::sum(y);
    BOOST_TEST(static_cast<bool>(y.node()->backward));
    loss.backward(/*keep_graph=*/true);
    BOOST_TEST(static_cast<bool>(y.node()->backward));
    loss.backward();  // second pass through the kept graph accumulates
    BOOST_TEST(std::abs(x.grad()(0) - 2 * std::exp(1.0)) < 1e-12);
    BOOST_TEST(!y.node()->backward);  // released: the saved tensors are gone
    BOOST_TEST(y.node()->inputs.empty());
}

BOOST_AUTO_TEST_CASE(diamond_graph_sums_both_paths_once) {
    // a -> b = a^2, c = 3a, d = b * c = 3 a^3: dd/da = 9 a^2
    Var<double> a(Tensor<double>::full({1}, 2.0), true);
    Var<double> b = a * a, c = a * 3.0;
    (b * c).backward(Tensor<double>::ones({1}));
    BOOST_TEST(a.grad()(0) == 36.0);
}

BOOST_AUTO_TEST_CASE(misuse_is_reported) {
    Var<double> x(Tensor<double>::ones({3}), true);
    BOOST_CHECK_THROW((x * 2.0).backward(), shape_error);                            // not a scalar
    BOOST_CHECK_THROW((x * 2.0).backward(Tensor<double>::ones({2})), shape_error);   // wrong seed shape
    BOOST_CHECK_THROW(Var<double>().value(), value_error);
    BOOST_CHECK_THROW(ag::cross_entropy(Var<double>(Tensor<double>::zeros({2, 4}), true),
                                        Tensor<std::int64_t>::from_vector({1, 7}, {2})),
                      index_error);
}

BOOST_AUTO_TEST_CASE(cross_entropy_matches_closed_form) {
    // logits (2, 3); row 0 target 2, row 1 ignored: loss = logsumexp(row0) - row0[2]
    auto logits = Tensor<double>::from_vector({1, 2, 3, 5, 5, 5}, {2, 3});
    Var<double> x(logits, true);
    Var<double> loss = ag::cross_entropy(x, Tensor<std::int64_t>::from_vector({2, ag::ignore_index}, {2}));
    double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    BOOST_TEST(std::abs(loss.value().item() - (lse - 3)) < 1e-12);
    loss.backward();
    BOOST_TEST(std::abs(x.grad()(0, 2) - (std::exp(3 - lse) - 1)) < 1e-12);
    BOOST_TEST(x.grad()(1, 0) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
