// Chat templates against transformers' own rendering (fixtures/make_chat_reference.py): every
// template in fixtures/chat_templates/ on every conversation of the reference, with and without the
// generation prompt, output or error; recognition by the template's text, newlines written either
// way; tokenizer_config.json in its string and list forms; unknown templates refused.
#include <boost/test/unit_test.hpp>

#include <ward/io/chat_template.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using ward::io::ChatMessage;
using ward::io::ChatTemplate;
using ward::testing::message_of;

namespace {

const fs::path fixtures = fs::path(__FILE__).parent_path() / "fixtures";
const std::vector<std::string> families = {"llama2", "llama3", "mistral", "chatml", "gemma", "qwen2", "qwen2_5"};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + p.string());
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string template_of(const std::string& family) { return read_text(fixtures / "chat_templates" / (family + ".jinja")); }

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

/// A bos/eos entry of the reference: a string, or null where the tokenizer sets none.
std::optional<std::string> token_of(const nlohmann::json& j) {
    if (j.is_null()) return std::nullopt;
    return j.get<std::string>();
}

std::vector<ChatMessage> messages_of(const nlohmann::json& j) {
    std::vector<ChatMessage> out;
    for (const auto& m : j) out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_chat_template)

BOOST_AUTO_TEST_CASE(every_family_matches_transformers_on_every_conversation) {
    const auto reference = nlohmann::json::parse(read_text(fixtures / "chat_template_reference.json"));
    std::size_t outputs = 0, errors = 0;
    for (const auto& c : reference) {
        const std::string family = c.at("family");
        const auto chat = ChatTemplate::from_string(template_of(family), token_of(c.at("bos")), token_of(c.at("eos")));
        BOOST_TEST(chat.family() == family);
        const auto messages = messages_of(c.at("messages"));
        const bool gen = c.at("add_generation_prompt");
        BOOST_TEST_CONTEXT(family << " / " << c.at("conversation").get<std::string>() << " / gen=" << gen) {
            if (c.contains("output")) {
                BOOST_TEST(chat.apply(messages, gen) == c.at("output").get<std::string>());
                ++outputs;
            } else {
                const std::string what = message_of<ward::value_error>([&] { chat.apply(messages, gen); });
                // The template's own raise_exception text is the message; Jinja's errors (an undefined
                // token, an empty conversation's first message) are quoted in it.
                if (c.at("raised_by_template").get<bool>()) BOOST_TEST(what == c.at("error").get<std::string>());
                else BOOST_TEST(what.find(c.at("error").get<std::string>()) != std::string::npos);
                ++errors;
            }
        }
    }
    BOOST_TEST_MESSAGE("chat templates: " << outputs << " outputs and " << errors << " errors compared with transformers");
    BOOST_TEST(outputs + errors == reference.size());
    std::set<std::string> conversations;
    for (const auto& c : reference) conversations.insert(c.at("conversation").get<std::string>());
    BOOST_TEST(reference.size() == families.size() * conversations.size() * 2);  // every family, conversation and flag
    BOOST_TEST(errors > 0u);
}

BOOST_AUTO_TEST_CASE(recognised_with_newlines_written_either_way) {
    for (const auto& family : families) {
        const std::string text = template_of(family);
        std::string escaped, raw;  // every newline as the escape `\n`; every escape as a newline
        for (char c : text) {
            if (c == '\n') escaped += "\\n";
            else escaped.push_back(c);
        }
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text.compare(i, 2, "\\n") == 0) {
                raw.push_back('\n');
                ++i;
            } else {
                raw.push_back(text[i]);
            }
        }
        BOOST_TEST_CONTEXT(family) {
            // All of the templates' escapes sit inside string literals, where a newline means the same.
            BOOST_TEST(ChatTemplate::from_string(raw, "<s>", "</s>").family() == family);
            // One trailing newline, which Jinja drops, or none (Qwen2.5's file ends with one).
            const std::string bare = raw.ends_with('\n') ? raw.substr(0, raw.size() - 1) : raw;
            BOOST_TEST(ChatTemplate::from_string(bare, "<s>", "</s>").family() == family);
            BOOST_TEST(ChatTemplate::from_string(bare + "\n", "<s>", "</s>").family() == family);
            // Qwen2.5's newlines between tags are text (whitespace that `{%-` strips): as `\n` they would
            // be rendered, so that is another template. The one-line templates have none.
            if (family == "qwen2_5") {
                BOOST_TEST(message_of<ward::value_error>([&] { ChatTemplate::from_string(escaped, "", ""); }).find("unrecognised") !=
                           std::string::npos);
            } else {
                BOOST_TEST(ChatTemplate::from_string(escaped, "<s>", "</s>").family() == family);
            }
            // A leading newline is text that Jinja renders: another template.
            BOOST_TEST(message_of<ward::value_error>([&] { ChatTemplate::from_string("\n" + raw, "<s>", "</s>"); }).find("unrecognised") !=
                       std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_templates_are_refused) {
    // Llama-3's template without its generation-prompt block renders differently: refused, not guessed.
    std::string llama3 = template_of("llama3");
    const auto cut = llama3.find("{% if add_generation_prompt %}");
    BOOST_REQUIRE(cut != std::string::npos);
    const std::string changed = llama3.substr(0, cut);
    const std::string what = message_of<ward::value_error>([&] { ChatTemplate::from_string(changed, "", "", "my_template.jinja"); });
    BOOST_TEST(what.find("my_template.jinja") != std::string::npos);
    BOOST_TEST(what.find("unrecognised chat template") != std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([] { ChatTemplate::from_string("", "", ""); }).find("unrecognised") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(from_dir_reads_tokenizer_config) {
    ward_test::TempDir dir("ward-chat");
    const auto config = dir.path / "tokenizer_config.json";

    nlohmann::json j = {{"chat_template", template_of("llama2")},
                        {"bos_token", {{"content", "<s>"}, {"lstrip", false}}},
                        {"eos_token", "</s>"}};
    write_text(config, j.dump());
    auto chat = ChatTemplate::from_dir(dir.path);
    BOOST_TEST(chat.family() == "llama2");
    BOOST_TEST(*chat.bos_token() == "<s>");
    BOOST_TEST(*chat.eos_token() == "</s>");
    BOOST_TEST(chat.apply({{"user", "Hi"}, {"assistant", "Yo"}}, false) == "<s>[INST] Hi [/INST] Yo </s>");

    j["chat_template"] = nlohmann::json::array({{{"name", "tool_use"}, {"template", "{{ tools }}"}},
                                                {{"name", "default"}, {"template", template_of("chatml")}}});
    write_text(config, j.dump());
    BOOST_TEST(ChatTemplate::from_dir(dir.path).family() == "chatml");

    // Qwen2.5 sets bos_token to null: undefined to the template, as transformers leaves it out.
    nlohmann::json qwen = {{"chat_template", template_of("qwen2_5")}, {"bos_token", nullptr}, {"eos_token", "<|im_end|>"}};
    write_text(config, qwen.dump());
    const auto qwen_chat = ChatTemplate::from_dir(dir.path);
    BOOST_TEST(qwen_chat.family() == "qwen2_5");
    BOOST_TEST(!qwen_chat.bos_token().has_value());
    nlohmann::json no_tokens = {{"chat_template", template_of("llama2")}};
    write_text(config, no_tokens.dump());
    BOOST_TEST(message_of<ward::value_error>([&] { ChatTemplate::from_dir(dir.path).apply({{"user", "Hi"}}, false); })
                   .find("'bos_token' is undefined") != std::string::npos);

    j["chat_template"] = "{{ messages }}";
    write_text(config, j.dump());
    BOOST_TEST(message_of<ward::value_error>([&] { ChatTemplate::from_dir(dir.path); }).find(config.string() + ": field 'chat_template'") !=
               std::string::npos);

    j.erase("chat_template");
    write_text(config, j.dump());
    BOOST_TEST(message_of<ward::parse_error>([&] { ChatTemplate::from_dir(dir.path); }).find("missing field 'chat_template'") !=
               std::string::npos);

    j["chat_template"] = nlohmann::json::array({{{"name", "rag"}, {"template", "x"}}});
    write_text(config, j.dump());
    BOOST_TEST(message_of<ward::parse_error>([&] { ChatTemplate::from_dir(dir.path); }).find("'default'") != std::string::npos);

    j["chat_template"] = template_of("llama3");
    j["eos_token"] = 7;
    write_text(config, j.dump());
    BOOST_TEST(message_of<ward::parse_error>([&] { ChatTemplate::from_dir(dir.path); }).find("'eos_token'") != std::string::npos);

    write_text(config, "{not json");
    BOOST_TEST(message_of<ward::parse_error>([&] { ChatTemplate::from_dir(dir.path); }).find(config.string()) != std::string::npos);
    BOOST_TEST(message_of<ward::parse_error>([&] { ChatTemplate::from_dir(dir.path / "missing"); }).find("cannot open") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ill_formed_utf8_is_refused) {
    const auto chat = ChatTemplate::from_string(template_of("llama3"), "<s>", "</s>");
    BOOST_TEST(message_of<ward::value_error>([&] { chat.apply({{"user", "bad \xC3"}}, true); }).find("UTF-8") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
