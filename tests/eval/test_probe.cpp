// Depth probes: the logistic fit against a one-dimensional case solved by bisection and against
// the optimality condition computed by naive loops; separable clusters give ~1.0 held-out accuracy,
// identical distributions stay within a binomial bound of 0.5; masked pooling against loops;
// batched, padded model runs against one sequence at a time, with and without the embedding layer;
// the grouped split keeps groups whole and classes balanced.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <set>
#include <vector>

#include <ward/eval/probe.hpp>
#include <ward/nn.hpp>

using namespace ward;

namespace {

double sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

/// n rows of d Gaussian features, mean `shift` on every feature.
Eigen::MatrixXd gaussian(Eigen::Index n, Eigen::Index d, double shift, std::uint64_t seed) {
    Generator g(seed);
    Tensor<double> t = Tensor<double>(normal<double>(g, {n, d}, shift, 1.0));
    std::vector<double> v = t.to_vector();
    Eigen::MatrixXd m(n, d);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < d; ++j) m(i, j) = v[static_cast<std::size_t>(i * d + j)];
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eval_probe)

BOOST_AUTO_TEST_CASE(one_dimensional_closed_form) {
    // x = +1 (y = 1) and x = -1 (y = 0): by symmetry b = 0, and w solves -sigmoid(-w) + l2 w = 0.
    Eigen::MatrixXd X(2, 1);
    X << 1, -1;
    const double l2 = 0.5;
    auto fit = eval::fit_logistic(X, {1, 0}, {.l2 = l2});
    double lo = 0, hi = 10;
    for (int i = 0; i < 200; ++i) {
        const double mid = (lo + hi) / 2;
        (-sigmoid(-mid) + l2 * mid < 0 ? lo : hi) = mid;
    }
    BOOST_TEST(fit.converged);
    BOOST_TEST(fit.w(0) == lo, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(std::abs(fit.b) < 1e-10);
}

BOOST_AUTO_TEST_CASE(gradient_vanishes_at_the_fit) {
    const Eigen::Index n = 60, d = 5;
    Eigen::MatrixXd X = gaussian(n, d, 0.0, 3);
    std::vector<int> y;
    for (Eigen::Index i = 0; i < n; ++i) y.push_back(X(i, 0) + 0.5 * X(i, 1) > 0.3 ? 1 : 0);
    y[0] = 1 - y[0];  // not separable
    const double l2 = 0.05;
    auto fit = eval::fit_logistic(X, y, {.l2 = l2});
    BOOST_TEST(fit.converged);
    // d/dw_j = (1/n) sum_i (p_i - y_i) x_ij + l2 w_j, d/db = (1/n) sum_i (p_i - y_i), by loops.
    std::vector<double> grad(static_cast<std::size_t>(d) + 1, 0.0);
    for (Eigen::Index i = 0; i < n; ++i) {
        double z = fit.b;
        for (Eigen::Index j = 0; j < d; ++j) z += fit.w(j) * X(i, j);
        const double r = sigmoid(z) - y[static_cast<std::size_t>(i)];
        for (Eigen::Index j = 0; j < d; ++j) grad[static_cast<std::size_t>(j)] += r * X(i, j) / double(n);
        grad[static_cast<std::size_t>(d)] += r / double(n);
    }
    for (Eigen::Index j = 0; j < d; ++j) grad[static_cast<std::size_t>(j)] += l2 * fit.w(j);
    for (double g : grad) BOOST_TEST(std::abs(g) < 1e-8);
    BOOST_TEST(fit.w(0) > 0);
    BOOST_CHECK_THROW(eval::fit_logistic(X, std::vector<int>(static_cast<std::size_t>(n), 1)), ward::value_error);
    BOOST_CHECK_THROW(eval::fit_logistic(X, {1, 0}), ward::shape_error);
}

BOOST_AUTO_TEST_CASE(separable_and_identical_distributions) {
    const Eigen::Index n = 200, d = 16;
    // layer 0: clusters 6 standard deviations apart along every axis; layer 1: the same distribution.
    std::vector<Eigen::MatrixXd> harmful = {gaussian(n, d, 1.5, 1), gaussian(n, d, 0.0, 2)};
    std::vector<Eigen::MatrixXd> harmless = {gaussian(n, d, -1.5, 3), gaussian(n, d, 0.0, 4)};
    auto r = eval::probe_pooled(harmful, harmless, {.seed = 7});
    BOOST_REQUIRE_EQUAL(r.test_accuracy.size(), 2u);
    BOOST_TEST(r.test.size() == 120u);  // 30% of each class
    BOOST_TEST(r.test_accuracy[0] >= 0.99);
    BOOST_TEST(r.train_accuracy[0] >= 0.99);
    // Chance: sd of the accuracy is sqrt(0.25 / 120) = 0.046; 4 sd.
    BOOST_TEST(std::abs(r.test_accuracy[1] - 0.5) < 4 * std::sqrt(0.25 / 120));
    // Same seed, same split and probes; another seed, another split.
    auto again = eval::probe_pooled(harmful, harmless, {.seed = 7});
    BOOST_TEST(again.test == r.test, boost::test_tools::per_element());
    BOOST_TEST(again.test_accuracy == r.test_accuracy, boost::test_tools::per_element());
    BOOST_TEST(eval::probe_pooled(harmful, harmless, {.seed = 8}).test != r.test);

    // Errors: layer counts and feature widths.
    BOOST_CHECK_THROW(eval::probe_pooled(harmful, {harmless[0]}), ward::shape_error);
    BOOST_CHECK_THROW(eval::probe_pooled({harmful[0]}, {gaussian(n, d + 1, 0, 5)}), ward::shape_error);
}

BOOST_AUTO_TEST_CASE(pooling_against_loops) {
    Generator g(5);
    Tensor<float> x = Tensor<float>(normal<float>(g, {2, 4, 3}));
    Tensor<float> mask = Tensor<float>::from_vector({1, 1, 0, 0, 1, 1, 1, 1}, {2, 4});
    auto mean = eval::pool_sequences(x, mask, eval::Pooling::mean);
    auto last = eval::pool_sequences(x, mask, eval::Pooling::last);
    auto v = x.to_vector();
    auto at = [&](int b, int t, int c) { return double(v[static_cast<std::size_t>((b * 4 + t) * 3 + c)]); };
    for (int c = 0; c < 3; ++c) {
        BOOST_TEST(mean(0, c) == (at(0, 0, c) + at(0, 1, c)) / 2, boost::test_tools::tolerance(1e-12));
        BOOST_TEST(mean(1, c) == (at(1, 0, c) + at(1, 1, c) + at(1, 2, c) + at(1, 3, c)) / 4, boost::test_tools::tolerance(1e-12));
        BOOST_TEST(last(0, c) == at(0, 1, c));
        BOOST_TEST(last(1, c) == at(1, 3, c));
    }
    BOOST_CHECK_THROW(eval::pool_sequences(x, Tensor<float>::zeros({2, 4})), ward::value_error);
    BOOST_CHECK_THROW(eval::pool_sequences(x, Tensor<float>::zeros({2, 3})), ward::shape_error);
    BOOST_CHECK_THROW(eval::pool_sequences(mask), ward::shape_error);
}

BOOST_AUTO_TEST_CASE(model_layers_batched_match_one_at_a_time) {
    nn::TransformerConfig c;
    c.family = nn::Family::gpt2;
    c.vocab_size = 32;
    c.hidden = 16;
    c.layers = 3;
    c.heads = 2;
    c.kv_heads = 2;
    c.intermediate = 32;
    c.max_positions = 32;
    nn::CausalLM<float> model(c, 11);
    std::vector<std::vector<std::int64_t>> seqs = {{1, 2, 3}, {4, 5, 6, 7, 8, 9}, {10}, {11, 12, 13, 14}};
    for (auto pooling : {eval::Pooling::mean, eval::Pooling::last}) {
        auto batched = eval::pooled_layers(model, seqs, pooling, 3);
        BOOST_REQUIRE_EQUAL(batched.size(), 3u);
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            ag::NoGrad ng;
            const auto T = static_cast<index_t>(seqs[i].size());
            auto r = model.forward(Tensor<std::int64_t>::from_vector(seqs[i], {1, T}), {.collect_layers = true});
            for (std::size_t l = 0; l < 3; ++l) {
                auto h = r.hidden[l].value().to_vector();
                for (index_t k = 0; k < 16; ++k) {
                    double ref = 0;
                    if (pooling == eval::Pooling::last) ref = h[static_cast<std::size_t>((T - 1) * 16 + k)];
                    else {
                        for (index_t t = 0; t < T; ++t) ref += h[static_cast<std::size_t>(t * 16 + k)];
                        ref /= double(T);
                    }
                    BOOST_TEST(batched[l](static_cast<Eigen::Index>(i), k) == ref, boost::test_tools::tolerance(1e-4));
                }
            }
        }
    }
    // The model overload: token sets that differ (low ids vs high ids) are told apart at every layer.
    std::vector<std::vector<std::int64_t>> harmful, harmless;
    Generator g(2);
    for (int i = 0; i < 40; ++i) {
        std::vector<std::int64_t> a, b;
        for (int t = 0; t < 5 + i % 3; ++t) {
            a.push_back(static_cast<std::int64_t>(g.uniform() * 15.99));
            b.push_back(16 + static_cast<std::int64_t>(g.uniform() * 15.99));
        }
        harmful.push_back(a);
        harmless.push_back(b);
    }
    auto r = eval::probe_layers(model, harmful, harmless, {.seed = 3});
    BOOST_REQUIRE_EQUAL(r.test_accuracy.size(), 3u);
    for (double a : r.test_accuracy) BOOST_TEST_MESSAGE("layer accuracy " << a);
    for (double a : r.test_accuracy) BOOST_TEST(a >= 0.8);
    BOOST_CHECK_THROW(eval::pooled_layers(model, {{}}), ward::value_error);

    // With the embedding output first: layer 0 is ForwardResult::embedded, pooled the same way.
    auto with_embedding = eval::pooled_layers(model, seqs, eval::Pooling::last, 3, 0, true);
    BOOST_REQUIRE_EQUAL(with_embedding.size(), 4u);
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        ag::NoGrad ng;
        const auto T = static_cast<index_t>(seqs[i].size());
        auto r = model.forward(Tensor<std::int64_t>::from_vector(seqs[i], {1, T}), {.collect_layers = true});
        auto e = r.embedded.value().to_vector();
        for (index_t k = 0; k < 16; ++k)
            BOOST_TEST(with_embedding[0](static_cast<Eigen::Index>(i), k) == e[static_cast<std::size_t>((T - 1) * 16 + k)],
                       boost::test_tools::tolerance(1e-6));
        BOOST_TEST((with_embedding[3].row(static_cast<Eigen::Index>(i)) - eval::pooled_layers(model, seqs, eval::Pooling::last, 3)[2].row(
                        static_cast<Eigen::Index>(i))).norm() < 1e-6);
    }
}

BOOST_AUTO_TEST_CASE(grouped_split_keeps_groups_whole_and_classes_balanced) {
    // Ten harmful groups and ten harmless ones, three rows each (an item in three phrasings).
    std::vector<int> labels, groups;
    for (int g = 0; g < 20; ++g)
        for (int k = 0; k < 3; ++k) {
            labels.push_back(g < 10 ? 1 : 0);
            groups.push_back(g);
        }
    const auto s = eval::grouped_split(labels, groups, 0.3, 4);
    std::set<int> train_groups, test_groups;
    int test_positive = 0;
    for (auto i : s.train) train_groups.insert(groups[i]);
    for (auto i : s.test) {
        test_groups.insert(groups[i]);
        test_positive += labels[i];
    }
    for (int g : test_groups) BOOST_TEST(train_groups.count(g) == 0u);  // no group on both sides
    BOOST_TEST(test_groups.size() == 6u);                              // 3 of each class's 10
    BOOST_TEST(test_positive == 9);                                    // balanced: 3 groups x 3 rows of each class
    BOOST_TEST(s.test.size() + s.train.size() == labels.size());
    BOOST_TEST(eval::grouped_split(labels, groups, 0.3, 4).test == s.test);  // seeded
    BOOST_TEST(eval::grouped_split(labels, groups, 0.3, 5).test != s.test);
    labels[1] = 0;  // group 0 now holds both classes
    BOOST_CHECK_THROW(eval::grouped_split(labels, groups, 0.3, 4), ward::value_error);
}

BOOST_AUTO_TEST_SUITE_END()
