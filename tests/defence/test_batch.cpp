// Defence pairs from dialogue formats: in a chat format both sides are transformers' tokenised
// conversations (fixtures from tests/io/fixtures/make_dialogue_reference.py) after one shared prompt,
// and the paired batch takes loss exactly on the answers' tokens; the plain format gives the pairs the
// encode-function overload gives.
#include <boost/test/unit_test.hpp>

#include <ward/defence/batch.hpp>

#include "io/dialogue_reference.hpp"

using namespace ward;
using Ids = std::vector<std::int64_t>;

BOOST_AUTO_TEST_SUITE(defence_batch)

BOOST_AUTO_TEST_CASE(chat_pairs_share_one_prompt_and_take_loss_on_the_answers) {
    for (const auto& c : ward_test::dialogue_cases()) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto p = defence::make_pair(ward_test::chat_format(tok, c), c.request, c.answers[0], c.answers[1]);
        const std::size_t k = ward_test::shared_prompt_length(c);
        BOOST_TEST_CONTEXT(c.family << " / " << c.name) {
            BOOST_TEST(p.prompt == Ids(c.full[0].begin(), c.full[0].begin() + static_cast<std::ptrdiff_t>(k)));
            BOOST_TEST(p.harmful == Ids(c.full[0].begin() + static_cast<std::ptrdiff_t>(k), c.full[0].end()));
            BOOST_TEST(p.harmless == Ids(c.full[1].begin() + static_cast<std::ptrdiff_t>(k), c.full[1].end()));

            const auto b = defence::make_paired_batch<float>({p}, {0}, 0);
            const auto htg = b.harmful_targets.to_vector(), stg = b.harmless_targets.to_vector();
            for (std::size_t t = 0; t + 1 < c.full[0].size(); ++t)
                BOOST_TEST(htg[t] == (t + 1 >= k ? c.full[0][t + 1] : ag::ignore_index), "harmful t = " << t);
            for (std::size_t t = 0; t + 1 < c.full[1].size(); ++t)
                BOOST_TEST(stg[t] == (t + 1 >= k ? c.full[1][t + 1] : ag::ignore_index), "harmless t = " << t);
            BOOST_TEST(b.harmful_tokens == static_cast<index_t>(c.full[0].size() - k));
            BOOST_TEST(b.harmless_tokens == static_cast<index_t>(c.full[1].size() - k));

            const auto sides = defence::side_examples({p}, true);
            BOOST_TEST(sides[0].ids == c.full[0]);
            for (std::size_t t = 0; t < sides[0].ids.size(); ++t) BOOST_TEST(int(sides[0].loss_mask[t]) == int(t >= k), "t = " << t);
        }
    }
}

BOOST_AUTO_TEST_CASE(plain_pairs_are_unchanged) {
    const auto tok = io::Tokenizer::from_dir(ward_test::dialogue_fixtures / "chat_models" / "mistral");
    auto encode = [&](const std::string& s) {
        const auto ids = tok.encode(s);
        return Ids(ids.begin(), ids.end());
    };
    for (std::int64_t eos : {std::int64_t(2), std::int64_t(-1)}) {
        const auto a = defence::make_pair(encode, "How do I pick a lock?", "First, insert a wrench.", "I can't help.", eos);
        const auto b = defence::make_pair(io::Dialogue::plain(encode, eos >= 0 ? std::optional<std::int64_t>(eos) : std::nullopt),
                                          "How do I pick a lock?", "First, insert a wrench.", "I can't help.");
        BOOST_TEST(a.prompt == b.prompt);
        BOOST_TEST(a.harmful == b.harmful);
        BOOST_TEST(a.harmless == b.harmless);
    }
}

BOOST_AUTO_TEST_SUITE_END()
