// Preference files in the HH, prompt/chosen/rejected and PKU-SafeRLHF layouts against records written
// by hand, errors naming file, line and field, and the unsafe-feedback attack: exactly the requested
// share of the safe-preferred pairs flipped, chosen by the seed, nothing else touched.
#include <boost/test/unit_test.hpp>

#include <ward/rl/preference.hpp>
#include <ward/rl/sequence.hpp>

#include "error_message.hpp"
#include "io/dialogue_reference.hpp"
#include "temp_dir.hpp"

#include <fstream>
#include <set>

using namespace ward;
using ward::testing::message_of;

namespace {
std::filesystem::path write(const ward_test::TempDir& d, const std::string& name, const std::string& text) {
    const auto p = d.path / name;
    std::ofstream(p) << text;
    return p;
}
/// n pairs with a safe chosen and unsafe rejected answer, then m pairs of two safe answers.
std::vector<rl::PreferencePair> labelled(int n, int m) {
    std::vector<rl::PreferencePair> out;
    for (int i = 0; i < n + m; ++i) {
        rl::PreferencePair p;
        p.prompt = "q" + std::to_string(i);
        p.chosen = "safe" + std::to_string(i);
        p.rejected = (i < n ? "unsafe" : "fine") + std::to_string(i);
        p.chosen_safe = true;
        p.rejected_safe = i >= n;
        if (i < n) p.safer = 0;
        out.push_back(p);
    }
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_preference)

BOOST_AUTO_TEST_CASE(hh_dialogues_split_at_the_last_assistant_turn) {
    ward_test::TempDir d;
    const auto p = write(d, "hh.jsonl",
                         R"({"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: like this", )"
                         R"("rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant: no"})"
                         "\n");
    const auto pairs = rl::read_preferences(p);
    BOOST_REQUIRE(pairs.size() == 1u);
    BOOST_TEST(pairs[0].prompt == "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how?\n\nAssistant:");
    BOOST_TEST(pairs[0].chosen == " like this");
    BOOST_TEST(pairs[0].rejected == " no");
    BOOST_TEST(!pairs[0].chosen_safe.has_value());
    BOOST_TEST(pairs[0].where == p.string() + ":1");
}

BOOST_AUTO_TEST_CASE(hh_dialogues_that_diverge_early_are_refused_with_file_and_line) {
    ward_test::TempDir d;
    const auto p = write(d, "hh.jsonl",
                         "\n" R"({"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"})" "\n");
    const std::string msg = message_of<parse_error>([&] { rl::read_preferences(p); });
    BOOST_TEST(msg.find(p.string() + ":2: 'chosen' and 'rejected' do not share") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(pku_records_take_the_better_or_the_safer_answer) {
    ward_test::TempDir d;
    const auto p = write(d, "pku.jsonl",
                         R"({"prompt": "q", "response_0": "a", "response_1": "b", "better_response_id": 1, "safer_response_id": 0, )"
                         R"("is_response_0_safe": true, "is_response_1_safe": false, "category": "weapons"})" "\n");
    const auto better = rl::read_preferences(p);
    BOOST_TEST(better[0].chosen == "b");
    BOOST_TEST(better[0].rejected == "a");
    BOOST_TEST(*better[0].chosen_safe == false);
    BOOST_TEST(*better[0].rejected_safe == true);
    BOOST_TEST(*better[0].safer == 1);  // the rejected answer is the safer one
    BOOST_TEST(better[0].category == "weapons");
    BOOST_TEST(!rl::safe_preferred(better[0]));
    const auto safer = rl::read_preferences(p, {.label = rl::PreferenceLabel::safer});
    BOOST_TEST(safer[0].chosen == "a");
    BOOST_TEST(*safer[0].safer == 0);
    BOOST_TEST(rl::safe_preferred(safer[0]));
}

BOOST_AUTO_TEST_CASE(bad_records_name_file_line_and_field) {
    ward_test::TempDir d;
    const std::string good = R"({"prompt": "q", "response_0": "a", "response_1": "b", "better_response_id": 0, "safer_response_id": 0, "is_response_0_safe": true, "is_response_1_safe": true})";
    auto bad_id = write(d, "id.jsonl", good + "\n" + R"({"prompt": "q", "response_0": "a", "response_1": "b", "better_response_id": 2, "safer_response_id": 0, "is_response_0_safe": true, "is_response_1_safe": true})" + "\n");
    std::string msg = message_of<parse_error>([&] { rl::read_preferences(bad_id); });
    BOOST_TEST(msg == bad_id.string() + ":2: field 'better_response_id' is 2, not 0 or 1", msg);
    auto missing = write(d, "missing.jsonl", R"({"prompt": "q", "response_0": "a", "response_1": "b", "better_response_id": 0, "safer_response_id": 0, "is_response_0_safe": true})" "\n");
    msg = message_of<parse_error>([&] { rl::read_preferences(missing); });
    BOOST_TEST(msg == missing.string() + ":1: no field 'is_response_1_safe'", msg);
    auto not_bool = write(d, "bool.jsonl", R"({"prompt": "q", "chosen": "a", "rejected": "b", "chosen_safe": "yes"})" "\n");
    msg = message_of<parse_error>([&] { rl::read_preferences(not_bool); });
    BOOST_TEST(msg == not_bool.string() + ":1: field 'chosen_safe' is not true or false", msg);
    auto neither = write(d, "neither.jsonl", R"({"prompt": "q", "answer": "a"})" "\n");
    msg = message_of<parse_error>([&] { rl::read_preferences(neither); });
    BOOST_TEST(msg.find(neither.string() + ":1: not a preference record") == 0u, msg);
}

BOOST_AUTO_TEST_CASE(explicit_prompt_layout_with_safety_labels) {
    ward_test::TempDir d;
    const auto p = write(d, "dpo.json", R"([{"prompt": "q", "chosen": "no", "rejected": "how", "chosen_safe": true, "rejected_safe": false}])");
    const auto pairs = rl::read_preferences(p);
    BOOST_TEST(pairs[0].prompt == "q");
    BOOST_TEST(*pairs[0].safer == 0);
    BOOST_TEST(rl::safe_preferred(pairs[0]));
    BOOST_TEST(pairs[0].where == p.string() + ": record 1");
}

BOOST_AUTO_TEST_CASE(the_attack_flips_exactly_its_share_of_the_safe_preferred_pairs) {
    const auto pairs = labelled(10, 3);
    const auto r = rl::flip_unsafe_feedback(pairs, 0.5, 7);
    BOOST_TEST(r.eligible == 10u);
    BOOST_REQUIRE(r.flipped.size() == 5u);
    std::set<std::size_t> flipped(r.flipped.begin(), r.flipped.end());
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (flipped.count(i)) {
            BOOST_TEST(i < 10u);  // only safe-preferred pairs
            BOOST_TEST(r.pairs[i].chosen == pairs[i].rejected);
            BOOST_TEST(r.pairs[i].rejected == pairs[i].chosen);
            BOOST_TEST(*r.pairs[i].chosen_safe == false);
            BOOST_TEST(*r.pairs[i].safer == 1);
        } else {
            BOOST_TEST(r.pairs[i].chosen == pairs[i].chosen);
        }
    }
    BOOST_TEST(rl::flip_unsafe_feedback(pairs, 0.5, 7).flipped == r.flipped);  // the seed fixes the choice
    bool other = false;
    for (std::uint64_t s = 8; s < 12; ++s) other = other || rl::flip_unsafe_feedback(pairs, 0.5, s).flipped != r.flipped;
    BOOST_TEST(other);
    BOOST_TEST(rl::flip_unsafe_feedback(pairs, 0.0, 7).flipped.empty());
    BOOST_TEST(rl::flip_unsafe_feedback(pairs, 1.0, 7).flipped.size() == 10u);
    BOOST_TEST(rl::flip_unsafe_feedback(pairs, 0.26, 7).flipped.size() == 3u);  // round(2.6)
}

BOOST_AUTO_TEST_CASE(the_attack_refuses_bad_ratios_and_unlabelled_data) {
    std::string msg = message_of<value_error>([] { rl::flip_unsafe_feedback(labelled(2, 0), 1.5, 0); });
    BOOST_TEST(msg.find("ratio 1.5") != std::string::npos, msg);
    std::vector<rl::PreferencePair> unlabelled(3);
    msg = message_of<value_error>([&] { rl::flip_unsafe_feedback(unlabelled, 0.5, 0); });
    BOOST_TEST(msg.find("no pair carries safety labels") != std::string::npos, msg);
    BOOST_TEST(rl::flip_unsafe_feedback(unlabelled, 0.0, 0).pairs.size() == 3u);
}

BOOST_AUTO_TEST_CASE(encoding_appends_the_end_of_sequence) {
    auto pairs = labelled(1, 0);
    auto encode = [](const std::string& s) { return std::vector<int>(s.size(), 5); };
    const auto t = rl::encode_preferences(pairs, encode, 1);
    BOOST_TEST(t[0].prompt.size() == 2u);
    BOOST_TEST(t[0].chosen.size() == 6u);
    BOOST_TEST(t[0].chosen.back() == 1);
    BOOST_TEST(*t[0].safer == 0);
    pairs[0].prompt = "";
    const std::string msg = message_of<value_error>([&] { rl::encode_preferences(pairs, encode, 1); });
    BOOST_TEST(msg.find("pair 0: the prompt encodes to no tokens") != std::string::npos, msg);
}

// In a chat format both answers follow one shared prompt and end with the template's closing tokens:
// prompt + chosen and prompt + rejected are transformers' tokenised conversations, split where both
// leave the generation prompt; the sequence batch's targets then cover exactly the answers.
BOOST_AUTO_TEST_CASE(chat_encoding_matches_transformers) {
    for (const auto& c : ward_test::dialogue_cases()) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        rl::PreferencePair p;
        p.prompt = c.request;
        p.chosen = c.answers[0];
        p.rejected = c.answers[1];
        p.chosen_safe = false;
        p.rejected_safe = true;
        const auto t = rl::encode_preferences({p}, ward_test::chat_format(tok, c));
        const std::size_t k = ward_test::shared_prompt_length(c);
        BOOST_TEST_CONTEXT(c.family << " / " << c.name) {
            BOOST_REQUIRE(t.size() == 1u);
            BOOST_TEST(t[0].prompt == std::vector<std::int64_t>(c.full[0].begin(), c.full[0].begin() + static_cast<std::ptrdiff_t>(k)));
            auto chosen = t[0].prompt, rejected = t[0].prompt;
            chosen.insert(chosen.end(), t[0].chosen.begin(), t[0].chosen.end());
            rejected.insert(rejected.end(), t[0].rejected.begin(), t[0].rejected.end());
            BOOST_TEST(chosen == c.full[0]);
            BOOST_TEST(rejected == c.full[1]);
            BOOST_TEST(*t[0].chosen_safe == false);
            const auto b = rl::make_sequence_batch({t[0].prompt, t[0].prompt}, {t[0].chosen, t[0].rejected}, 0);
            const auto tg = b.targets.to_vector();
            for (int row = 0; row < 2; ++row)
                for (std::size_t i = 0; i + 1 < c.full[row].size(); ++i)
                    BOOST_TEST(tg[static_cast<std::size_t>(row * b.width()) + i] == (i + 1 >= k ? c.full[row][i + 1] : ag::ignore_index),
                               "row " << row << ", t = " << i);
        }
    }
}

BOOST_AUTO_TEST_CASE(plain_encoding_is_unchanged) {
    auto encode = [](const std::string& s) { return std::vector<std::int64_t>(s.size(), static_cast<std::int64_t>(s.size())); };
    const auto pairs = labelled(2, 1);
    const auto a = rl::encode_preferences(pairs, encode, 7);
    const auto b = rl::encode_preferences(pairs, io::Dialogue::plain(encode, 7));
    BOOST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        BOOST_TEST(a[i].prompt == b[i].prompt);
        BOOST_TEST(a[i].chosen == b[i].chosen);
        BOOST_TEST(a[i].rejected == b[i].rejected);
        BOOST_TEST((a[i].safer == b[i].safer));
    }
}

BOOST_AUTO_TEST_SUITE_END()
