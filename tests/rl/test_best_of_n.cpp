// Best-of-n keeps, per prompt, the highest-scoring of the same n samples the sampler draws, and its KL
// bound is log n - (n - 1) / n.
#include <boost/test/unit_test.hpp>

#include "rl/bandit.hpp"

#include <algorithm>
#include <cmath>

using namespace ward;
using namespace rl_test;

BOOST_AUTO_TEST_SUITE(rl_best_of_n)

BOOST_AUTO_TEST_CASE(keeps_the_best_of_the_same_samples) {
    const auto m = bandit_model(1);
    const auto p = rl::make_prompts({"3", "3", "3"}, codec());
    TableReward reward{{0.0, 0.2, 1.0, 0.5}};
    const std::size_t n = 6;
    const auto best = rl::best_of_n(m, p, n, reward, codec(), one_token(), 4);
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < p.size(); ++i)
        for (std::size_t k = 0; k < n; ++k) rows.push_back(i);
    const auto all = rl::sample_completions(m, p, rows, one_token(), codec(), 4);  // the draws best_of_n made
    for (std::size_t i = 0; i < p.size(); ++i) {
        double top = -1, sum = 0;
        for (std::size_t k = i * n; k < (i + 1) * n; ++k) {
            const double s = reward.table[static_cast<std::size_t>(all.completion_ids[k][0])];
            top = std::max(top, s);
            sum += s;
        }
        BOOST_TEST(best.scores[i] == top);
        BOOST_TEST(reward.table[static_cast<std::size_t>(best.best.completion_ids[i][0])] == top);
        BOOST_TEST(std::abs(best.mean_scores[i] - sum / double(n)) < 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(kl_bound) {
    BOOST_TEST(rl::best_of_n_kl_bound(1) == 0.0);
    BOOST_TEST(std::abs(rl::best_of_n_kl_bound(4) - (std::log(4.0) - 0.75)) < 1e-15);
    BOOST_CHECK_THROW(rl::best_of_n_kl_bound(0), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
