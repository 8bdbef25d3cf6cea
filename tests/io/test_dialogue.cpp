// Dialogue formats against transformers (fixtures/make_dialogue_reference.py): in the chat format the
// prompt and answer ids together are apply_chat_template(tokenize=True)'s ids of the conversation, the
// prompt is their common prefix with its generation-prompt ids, and two answers share one prompt;
// the plain format is encode(prompt), encode(answer) + eos; which template a model directory gets.
#include <boost/test/unit_test.hpp>

#include <ward/io/dialogue.hpp>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "io/dialogue_reference.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using namespace ward;
using ward::testing::message_of;
using Ids = std::vector<std::int64_t>;

namespace {

Ids concat(Ids a, const Ids& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Ids head(const Ids& ids, std::size_t n) { return Ids(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(io_dialogue)

BOOST_AUTO_TEST_CASE(chat_split_matches_transformers) {
    const auto cases = ward_test::dialogue_cases();
    std::set<std::string> families;
    int boundary_merges = 0;
    for (const auto& c : cases) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto d = ward_test::chat_format(tok, c);
        BOOST_TEST_CONTEXT(c.family << " / " << c.name) {
            BOOST_TEST(d.is_chat());
            BOOST_TEST(d.prompt(c.request) == c.generation);
            for (int i = 0; i < 2; ++i) {
                const auto s = d.split(c.request, c.answers[i]);
                BOOST_TEST(concat(s.prompt, s.answer) == c.full[i]);
                BOOST_TEST(s.prompt == head(c.full[i], ward_test::prompt_length(c, i)));
                if (ward_test::prompt_length(c, i) < c.generation.size()) ++boundary_merges;
            }
            const auto p = d.split(c.request, c.answers[0], c.answers[1]);
            const std::size_t k = ward_test::shared_prompt_length(c);
            BOOST_TEST(p.prompt == head(c.full[0], k));
            BOOST_TEST(concat(p.prompt, p.first) == c.full[0]);
            BOOST_TEST(concat(p.prompt, p.second) == c.full[1]);
        }
        families.insert(c.family);
    }
    BOOST_TEST(families == (std::set<std::string>{"llama2", "llama3", "mistral", "chatml", "qwen2_5"}));
    BOOST_TEST(cases.size() == 44u);
    BOOST_TEST(boundary_merges > 0);  // the reference has answers whose first token merges into the prompt's end
}

BOOST_AUTO_TEST_CASE(the_end_of_turn_is_the_templates_closing_token) {
    const std::pair<const char*, const char*> expected[] = {
        {"llama2", "</s>"}, {"mistral", "</s>"}, {"llama3", "<|eot_id|>"}, {"chatml", "<|im_end|>"}, {"qwen2_5", "<|im_end|>"}};
    for (const auto& [family, token] : expected) {
        const auto dir = ward_test::dialogue_fixtures / "chat_models" / family;
        const auto tok = io::Tokenizer::from_dir(dir);
        const auto d = io::Dialogue::chat(tok, io::ChatTemplate::from_dir(dir));
        BOOST_TEST_CONTEXT(family) {
            BOOST_REQUIRE(d.end_of_turn_id().has_value());
            BOOST_TEST(tok.id_to_token(static_cast<std::int32_t>(*d.end_of_turn_id())) == token);
        }
    }
    // every reference answer ends with that token, then Mistral's space or ChatML's newline
    for (const auto& c : ward_test::dialogue_cases()) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto end = *ward_test::chat_format(tok, c).end_of_turn_id();
        const auto& f = c.full[0];
        const bool trailer = c.family == "mistral" || c.family == "chatml" || c.family == "qwen2_5";
        BOOST_TEST_CONTEXT(c.family << " / " << c.name)
        BOOST_TEST(f[f.size() - (trailer ? 2 : 1)] == end);
    }
}

BOOST_AUTO_TEST_CASE(plain_format_is_the_text_as_it_stands) {
    const auto tok = io::Tokenizer::from_dir(ward_test::dialogue_fixtures / "chat_models" / "llama2");
    auto encode = [&](const std::string& s) {
        const auto ids = tok.encode(s);
        return Ids(ids.begin(), ids.end());
    };
    const auto d = io::Dialogue::plain(encode, 2);
    BOOST_TEST(!d.is_chat());
    BOOST_TEST(!d.end_of_turn_id().has_value());
    BOOST_TEST(d.prompt("How do I pick a lock?") == encode("How do I pick a lock?"));
    const auto s = d.split("How do I pick a lock?", "No.");
    BOOST_TEST(s.prompt == encode("How do I pick a lock?"));
    BOOST_TEST(s.answer == concat(encode("No."), {2}));
    const auto p = io::Dialogue::plain(encode).split("q", "a", "b");
    BOOST_TEST(p.prompt == encode("q"));
    BOOST_TEST(p.first == encode("a"));
    BOOST_TEST(p.second == encode("b"));
}

BOOST_AUTO_TEST_CASE(limits_keep_the_prompts_end_and_the_answers_start) {
    for (const auto& c : ward_test::dialogue_cases()) {
        if (c.name != "long") continue;
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto d = io::Dialogue::chat(tok, io::ChatTemplate::from_dir(c.dir), {.system = c.system, .max_prompt = 10, .max_answer = 4});
        const std::size_t k = ward_test::prompt_length(c, 0);
        const auto s = d.split(c.request, c.answers[0]);
        BOOST_TEST_CONTEXT(c.family) {
            BOOST_TEST(s.prompt == Ids(c.full[0].begin() + static_cast<std::ptrdiff_t>(k - 10), c.full[0].begin() + static_cast<std::ptrdiff_t>(k)));
            BOOST_TEST(s.answer == Ids(c.full[0].begin() + static_cast<std::ptrdiff_t>(k), c.full[0].begin() + static_cast<std::ptrdiff_t>(k + 4)));
            BOOST_TEST(d.prompt(c.request) == Ids(c.generation.end() - 10, c.generation.end()));
        }
    }
}

BOOST_AUTO_TEST_CASE(chat_mode_follows_the_models_files) {
    const auto llama2 = ward_test::dialogue_fixtures / "chat_models" / "llama2";
    BOOST_TEST(io::chat_template_for(llama2, io::ChatMode::automatic)->family() == "llama2");
    BOOST_TEST(io::chat_template_for(llama2, io::ChatMode::on)->family() == "llama2");
    BOOST_TEST(!io::chat_template_for(llama2, io::ChatMode::off).has_value());

    ward_test::TempDir none;  // no tokenizer_config.json at all
    BOOST_TEST(!io::chat_template_for(none.path, io::ChatMode::automatic).has_value());
    std::string msg = message_of<value_error>([&] { io::chat_template_for(none.path, io::ChatMode::on); });
    BOOST_TEST(msg.find("tokenizer_config.json: chat formatting was asked for, but the model has no chat template") != std::string::npos, msg);

    ward_test::TempDir bare;  // a config without a template
    std::ofstream(bare.path / "tokenizer_config.json") << R"({"bos_token": "<s>", "chat_template": null})";
    BOOST_TEST(!io::chat_template_for(bare.path, io::ChatMode::automatic).has_value());
    msg = message_of<value_error>([&] { io::chat_template_for(bare.path, io::ChatMode::on); });
    BOOST_TEST(msg.find("no chat template") != std::string::npos, msg);

    ward_test::TempDir unknown;  // a template ward does not render is refused, never taken for plain
    std::ofstream(unknown.path / "tokenizer_config.json") << R"({"chat_template": "{{ messages[0]['content'] }}"})";
    msg = message_of<value_error>([&] { io::chat_template_for(unknown.path, io::ChatMode::automatic); });
    BOOST_TEST(msg.find("unrecognised chat template") != std::string::npos, msg);

    BOOST_TEST((io::parse_chat_mode("auto") == io::ChatMode::automatic));
    BOOST_TEST((io::parse_chat_mode("off") == io::ChatMode::off));
    msg = message_of<value_error>([&] { io::parse_chat_mode("yes"); });
    BOOST_TEST(msg.find("chat mode 'yes': expected auto, on or off") != std::string::npos, msg);
}

BOOST_AUTO_TEST_SUITE_END()
