// Prompt + response batches laid out as written by hand; the batched, right-padded log-likelihoods and
// response KL equal those of each sequence run alone (padding changes nothing), computed naively.
#include <boost/test/unit_test.hpp>

#include "error_message.hpp"
#include "rl/bandit.hpp"

#include <cmath>

using namespace ward;
using ward::testing::message_of;

namespace {
nn::CausalLM<float> small_lm(std::uint64_t seed) {
    nn::TransformerConfig c;
    c.family = nn::Family::gpt2;
    c.vocab_size = 13;
    c.hidden = 16;
    c.layers = 2;
    c.heads = c.kv_heads = 2;
    c.intermediate = 32;
    c.max_positions = 16;
    return nn::CausalLM<float>(c, seed);
}
/// log softmax rows of one unpadded sequence's logits, (T, V), in double.
std::vector<std::vector<double>> log_probs_alone(const nn::CausalLM<float>& m, const std::vector<std::int64_t>& ids) {
    ag::NoGrad ng;
    const auto T = static_cast<index_t>(ids.size());
    const auto logits = m.forward(Tensor<std::int64_t>::from_vector(ids, {1, T})).logits.value().to_vector();
    const std::size_t V = logits.size() / ids.size();
    std::vector<std::vector<double>> out;
    for (std::size_t t = 0; t < ids.size(); ++t) {
        double mx = -1e300, z = 0;
        for (std::size_t v = 0; v < V; ++v) mx = std::max(mx, double(logits[t * V + v]));
        for (std::size_t v = 0; v < V; ++v) z += std::exp(double(logits[t * V + v]) - mx);
        std::vector<double> row;
        for (std::size_t v = 0; v < V; ++v) row.push_back(double(logits[t * V + v]) - mx - std::log(z));
        out.push_back(row);
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_sequence)

BOOST_AUTO_TEST_CASE(layout_by_hand) {
    const auto b = rl::make_sequence_batch({{5, 6}, {7}}, {{8, 9, 10}, {11, 12}}, 0);
    BOOST_TEST((b.ids.shape() == Shape{2, 5}));
    BOOST_TEST(b.ids.to_vector() == (std::vector<std::int64_t>{5, 6, 8, 9, 10, 7, 11, 12, 0, 0}), boost::test_tools::per_element());
    const std::int64_t x = ag::ignore_index;
    BOOST_TEST(b.targets.to_vector() == (std::vector<std::int64_t>{x, 8, 9, 10, x, 11, 12, x, x, x}), boost::test_tools::per_element());
    BOOST_TEST(b.tokens == 5);
    BOOST_TEST(b.last_token_mask<float>().to_vector() == (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 1, 0, 0}), boost::test_tools::per_element());
    const auto cut = rl::make_sequence_batch({{5, 6}}, {{8, 9, 10}}, 0, 3);  // max_len 3: one response token kept
    BOOST_TEST(cut.ids.to_vector() == (std::vector<std::int64_t>{5, 6, 8}), boost::test_tools::per_element());
    BOOST_TEST(cut.tokens == 1);
    std::string msg = message_of<value_error>([] { rl::make_sequence_batch({{5, 6, 7}}, {{8}}, 0, 3); });
    BOOST_TEST(msg.find("row 0: the prompt has 3 tokens, no room for a response within max_len 3") != std::string::npos, msg);
    msg = message_of<value_error>([] { rl::make_sequence_batch({{5}}, {{}}, 0); });
    BOOST_TEST(msg.find("row 0 has an empty response") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(batched_log_likelihoods_equal_each_sequence_alone) {
    const auto m = small_lm(1);
    const std::vector<std::vector<std::int64_t>> p = {{2, 3, 4}, {5}}, r = {{6, 7}, {8, 9, 10, 11}};
    const auto b = rl::make_sequence_batch(p, r, 0);
    const auto got = rl::sequence_log_probs(m, b).value().to_vector();
    for (std::size_t i = 0; i < p.size(); ++i) {
        std::vector<std::int64_t> ids = p[i];
        ids.insert(ids.end(), r[i].begin(), r[i].end());
        const auto lp = log_probs_alone(m, ids);
        double want = 0;
        for (std::size_t k = 0; k < r[i].size(); ++k) want += lp[p[i].size() - 1 + k][static_cast<std::size_t>(r[i][k])];
        BOOST_TEST(std::abs(double(got[i]) - want) < 1e-4, "row " << i << ": " << got[i] << " vs " << want);
    }
}

BOOST_AUTO_TEST_CASE(response_kl_equals_the_naive_sum_over_positions) {
    const auto pi = small_lm(1), ref = small_lm(2);
    const std::vector<std::vector<std::int64_t>> p = {{2, 3}, {4, 5, 6}}, r = {{7, 8, 9}, {10}};
    const auto kl = rl::response_kl(pi, ref, rl::make_sequence_batch(p, r, 0));
    BOOST_TEST(rl::response_kl(pi, pi, rl::make_sequence_batch(p, r, 0))[0] == 0.0);
    for (std::size_t i = 0; i < p.size(); ++i) {
        std::vector<std::int64_t> ids = p[i];
        ids.insert(ids.end(), r[i].begin(), r[i].end());
        const auto a = log_probs_alone(pi, ids), c = log_probs_alone(ref, ids);
        double want = 0;
        for (std::size_t t = p[i].size() - 1; t + 1 < ids.size(); ++t)
            for (std::size_t v = 0; v < a[t].size(); ++v) want += std::exp(a[t][v]) * (a[t][v] - c[t][v]);
        BOOST_TEST(std::abs(kl[i] - want) < 1e-4 * std::max(1.0, want), "row " << i << ": " << kl[i] << " vs " << want);
        BOOST_TEST(want > 0.0);
    }
}

BOOST_AUTO_TEST_SUITE_END()
