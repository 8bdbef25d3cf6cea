#pragma once
// The chat-format reference the dialogue tests share (fixtures/make_dialogue_reference.py):
// transformers' apply_chat_template(tokenize=True) ids of conversations in small chat-model tokenizer
// directories, and the split they imply, computed here from those ids alone.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ward/io/dialogue.hpp>

namespace ward_test {

struct DialogueCase {
    std::string family, name, request;
    std::optional<std::string> system;
    std::string answers[2];
    std::vector<std::int64_t> full[2];  // [system?, user, assistant answers[i]], no generation prompt
    std::vector<std::int64_t> generation;  // [system?, user] with the generation prompt
    std::filesystem::path dir;  // tokenizer.json and tokenizer_config.json
};

inline const std::filesystem::path dialogue_fixtures = std::filesystem::path(__FILE__).parent_path() / "fixtures";

inline std::vector<DialogueCase> dialogue_cases() {
    std::ifstream in(dialogue_fixtures / "dialogue_reference.json");
    if (!in) throw std::runtime_error("cannot open dialogue_reference.json");
    std::vector<DialogueCase> out;
    for (const auto& r : nlohmann::json::parse(in)) {
        DialogueCase c;
        c.family = r["family"];
        c.name = r["case"];
        c.request = r["request"];
        if (!r["system"].is_null()) c.system = r["system"].get<std::string>();
        for (int i = 0; i < 2; ++i) {
            c.answers[i] = r["answers"][i];
            c.full[i] = r["full"][i].get<std::vector<std::int64_t>>();
        }
        c.generation = r["generation"].get<std::vector<std::int64_t>>();
        c.dir = dialogue_fixtures / "chat_models" / c.family;
        out.push_back(std::move(c));
    }
    return out;
}

/// Length of the longest common prefix of a and b.
inline std::size_t common_prefix(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    std::size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    return k;
}

/// Where the answer begins in full[i]: after the part it shares with the generation prompt.
inline std::size_t prompt_length(const DialogueCase& c, int i) { return common_prefix(c.full[i], c.generation); }

/// Where both answers begin when they share one prompt.
inline std::size_t shared_prompt_length(const DialogueCase& c) { return std::min(prompt_length(c, 0), prompt_length(c, 1)); }

/// The case's chat format (its system message included).
inline ward::io::Dialogue chat_format(const ward::io::Tokenizer& tok, const DialogueCase& c) {
    return ward::io::Dialogue::chat(tok, ward::io::ChatTemplate::from_dir(c.dir), {.system = c.system});
}

}  // namespace ward_test
