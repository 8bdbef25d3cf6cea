// Sampling is fixed by its seed (and greedy sampling is the generator's greedy decoding); draws of rows
// cover every item once per pass, in an order fixed by the seed.
#include <boost/test/unit_test.hpp>

#include "io/dialogue_reference.hpp"
#include "rl/bandit.hpp"

#include <algorithm>

using namespace ward;
using namespace rl_test;

BOOST_AUTO_TEST_SUITE(rl_rollout)

BOOST_AUTO_TEST_CASE(samples_are_fixed_by_the_seed) {
    const auto m = bandit_model(1);
    const auto p = prompts();
    const std::vector<std::size_t> rows(64, 0);
    rl::SamplingOptions s = one_token();
    s.max_new_tokens = 3;
    s.batch_size = 16;
    const auto a = rl::sample_completions(m, p, rows, s, codec(), 9), b = rl::sample_completions(m, p, rows, s, codec(), 9),
               c = rl::sample_completions(m, p, rows, s, codec(), 10);
    BOOST_TEST(a.completion_ids == b.completion_ids);
    BOOST_TEST(a.completion_ids != c.completion_ids);
    BOOST_TEST(a.size() == 64u);
    BOOST_TEST(a.completions[0] == codec().decode(a.completion_ids[0]));
    std::set<std::int64_t> first;
    for (const auto& x : a.completion_ids) first.insert(x[0]);
    BOOST_TEST(first.size() > 1u);  // it does sample
    s.temperature = 0;
    nn::GenerateOptions g;
    g.max_new_tokens = 3;
    BOOST_TEST(rl::sample_completions(m, p, {0}, s, codec(), 1).completion_ids[0] == nn::generate(m, {{3}}, g)[0]);
}

BOOST_AUTO_TEST_CASE(draws_cover_every_item_once_per_pass) {
    std::vector<std::size_t> all;
    for (std::uint64_t d = 0; d < 6; ++d) {
        const auto r = rl::draw_rows(10, 5, 3, d);
        all.insert(all.end(), r.begin(), r.end());
    }
    for (int pass = 0; pass < 3; ++pass) {
        std::vector<std::size_t> p(all.begin() + pass * 10, all.begin() + (pass + 1) * 10);
        std::sort(p.begin(), p.end());
        for (std::size_t i = 0; i < 10; ++i) BOOST_TEST(p[i] == i);
    }
    BOOST_TEST(rl::draw_rows(10, 5, 3, 4) == rl::draw_rows(10, 5, 3, 4));
    BOOST_TEST(rl::draw_rows(10, 10, 3, 0) != rl::draw_rows(10, 10, 4, 0));
    BOOST_CHECK_THROW(rl::draw_rows(0, 5, 3, 0), value_error);
}

// In a chat format a prompt is generated from transformers' generation-prompt ids, and keeps the
// request's text (what a judge reads).
BOOST_AUTO_TEST_CASE(chat_prompts_are_the_generation_prompts) {
    for (const auto& c : ward_test::dialogue_cases()) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto p = rl::make_prompts({c.request, c.request}, ward_test::chat_format(tok, c));
        BOOST_TEST_CONTEXT(c.family << " / " << c.name) {
            BOOST_REQUIRE(p.size() == 2u);
            BOOST_TEST(p.ids[1] == c.generation);
            BOOST_TEST(p.text[1] == c.request);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
