#pragma once
// Chat templates: the prompt layout a chat model was trained on. Hugging Face stores it as a Jinja
// string (`chat_template` in tokenizer_config.json); ward renders no Jinja, so it recognises the
// known templates by their text and renders each one natively, byte for byte as transformers'
// apply_chat_template does (tests/io/test_chat_template.cpp checks every family against it).
// An unrecognised template is refused, never approximated.
//
//   auto chat = io::ChatTemplate::from_dir("models/llama-2-7b-chat");   // tokenizer_config.json
//   std::string prompt = chat.apply({{"system", "Be brief."}, {"user", "Hi"}}, true);
//
// Recognised (ChatTemplate::family()): "llama2" (Llama-2 chat), "llama3" (Llama-3 instruct),
// "mistral" (Mistral-7B-Instruct v0.1), "chatml" (the plain ChatML of OpenHermes-2.5),
// "gemma" (gemma-7b-it), "qwen2" (Qwen2 instruct: ChatML with a default system message) and
// "qwen2_5" (Qwen2.5 instruct: ChatML with Qwen's default system message; ward passes no tools and
// messages carry no tool calls, so its tools branch is never taken).
// The exact template texts live in tests/io/fixtures/chat_templates/.

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/json_field.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

struct ChatMessage {
    std::string role, content;
};

namespace detail {

/// Python's str.isspace() (what Jinja's `trim` and str.strip() remove), for one code point.
constexpr bool python_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/// Python's s.strip() on well-formed UTF-8: Unicode whitespace, not only ASCII, leaves both ends.
inline std::string python_strip(std::string_view s) {
    std::size_t begin = s.size(), end = 0;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t at = i;
        if (!python_isspace(next_code_point(s, i))) {
            if (begin == s.size()) begin = at;
            end = i;
        }
    }
    return begin == s.size() ? std::string() : std::string(s.substr(begin, end - begin));
}

/// The template with each newline inside a string literal of a tag written as the escape `\n`:
/// the templates are copied around both ways (JSON's "\n" decodes to a newline, "\\n" to the escape,
/// and Jinja reads both the same inside a literal). Newlines elsewhere stay: outside the tags they
/// are text. One trailing newline goes, as Jinja drops it (keep_trailing_newline=False).
inline std::string normalise_template(std::string_view t) {
    if (t.ends_with("\r\n")) t.remove_suffix(2);
    else if (t.ends_with('\n') || t.ends_with('\r')) t.remove_suffix(1);
    std::string out;
    bool in_tag = false;
    char quote = 0;  // the open literal's quote character, or 0
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (quote) {
            if (c == '\n') {
                out += "\\n";
                continue;
            }
            if (c == '\\' && i + 1 < t.size()) {  // an escape, kept as written: its character is no quote
                out += t.substr(i, 2);
                ++i;
                continue;
            }
            if (c == quote) quote = 0;
        } else if (in_tag) {
            if (c == '\'' || c == '"') quote = c;
            else if ((c == '}' || c == '%') && i + 1 < t.size() && t[i + 1] == '}') in_tag = false;
        } else if (c == '{' && i + 1 < t.size() && (t[i + 1] == '{' || t[i + 1] == '%')) {
            in_tag = true;
            out += t.substr(i, 2);
            ++i;
            continue;
        }
        out.push_back(c);
    }
    return out;
}

struct KnownTemplate {
    std::string_view family, text;  // text as normalise_template writes it
};

// The templates from the models' tokenizer_config.json files (sources in
// tests/io/fixtures/chat_templates/README.md), as normalise_template writes them.
inline constexpr KnownTemplate known_templates[] = {
    {"llama2",
     R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})"},
    {"llama3",
     R"({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})"},
    {"mistral",
     R"({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})"},
    {"chatml",
     R"({% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})"},
    {"gemma",
     R"({{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %})"},
    {"qwen2",
     R"({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})"},
    {"qwen2_5",
     R"tmpl({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %})tmpl"},
};

inline constexpr std::string_view alternation_error = "Conversation roles must alternate user/assistant/user/assistant/...";

/// The templates' `(message['role'] == 'user') != (loop.index0 % 2 == 0)` check.
inline void check_alternation(const std::vector<ChatMessage>& messages) {
    for (std::size_t i = 0; i < messages.size(); ++i)
        if ((messages[i].role == "user") != (i % 2 == 0)) throw value_error(std::string(alternation_error));
}

/// Jinja raises on messages[0] of an empty list in the templates that read it (its words quoted).
[[noreturn]] inline void no_first_message(std::string_view family) {
    throw value_error("chat template '" + std::string(family) +
                      "': the conversation is empty and the template reads its first message (list object has no element 0)");
}

}  // namespace detail

class ChatTemplate {
public:
    /// Recognises `tmpl` by its text; `where` names its origin in the error for an unknown one.
    /// A token left out (tokenizer_config.json has none) is undefined to the template, as in
    /// transformers: written alone it renders as "", but adding it to text is an error.
    static ChatTemplate from_string(const std::string& tmpl, std::optional<std::string> bos_token,
                                    std::optional<std::string> eos_token, const std::string& where = "chat template") {
        const std::string norm = detail::normalise_template(tmpl);
        for (const auto& known : detail::known_templates)
            if (norm == known.text) return ChatTemplate(std::string(known.family), std::move(bos_token), std::move(eos_token));
        std::string excerpt;  // one line: the template's newlines written as \n
        for (char c : tmpl.substr(0, 80)) excerpt += c == '\n' ? std::string("\\n") : std::string(1, c);
        throw value_error(where + ": unrecognised chat template (ward renders llama2, llama3, mistral, chatml, gemma, "
                                  "qwen2 and qwen2_5 templates only): " + excerpt + (tmpl.size() > 80 ? "..." : ""));
    }

    /// From <dir>/tokenizer_config.json: `chat_template` (a string, or a list of {name, template}
    /// where "default" is taken), `bos_token` and `eos_token` (strings or {"content": ...}).
    static ChatTemplate from_dir(const std::filesystem::path& dir) {
        const auto path = dir / "tokenizer_config.json";
        const std::string file = path.string();
        std::ifstream in(path, std::ios::binary);
        if (!in) throw parse_error(file + ": cannot open");
        std::stringstream buffer;
        buffer << in.rdbuf();
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(buffer.str());
        } catch (const nlohmann::json::parse_error& e) {
            throw parse_error(file + ": not valid JSON: " + e.what());
        }
        if (!j.is_object()) throw parse_error(file + ": must be a JSON object");
        return from_string(read_template(j, file), read_token(j, "bos_token", file), read_token(j, "eos_token", file),
                           file + ": field 'chat_template'");
    }

    /// "llama2", "llama3", "mistral", "chatml", "gemma", "qwen2" or "qwen2_5".
    const std::string& family() const { return family_; }
    const std::optional<std::string>& bos_token() const { return bos_; }
    const std::optional<std::string>& eos_token() const { return eos_; }

    /// The token the template closes an assistant turn with, where generation should stop: the eos
    /// token (llama2, mistral; unset: none), <|eot_id|> (llama3), <|im_end|> (chatml, qwen2, qwen2_5)
    /// or <end_of_turn> (gemma).
    std::optional<std::string> end_of_turn() const {
        if (family_ == "llama2" || family_ == "mistral") return eos_;
        if (family_ == "llama3") return "<|eot_id|>";
        if (family_ == "gemma") return "<end_of_turn>";
        return "<|im_end|>";
    }

    /// The prompt, as transformers' apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=...) renders it; the template's own errors are value_errors with its text.
    std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
        for (const auto& m : messages)
            if (!is_valid_utf8(m.content) || !is_valid_utf8(m.role))
                throw value_error("chat template: message content and roles must be well-formed UTF-8");
        if (family_ == "llama2") return llama2(messages);
        if (family_ == "llama3") return llama3(messages, add_generation_prompt);
        if (family_ == "mistral") return mistral(messages);
        if (family_ == "chatml") return chatml(messages, add_generation_prompt);
        if (family_ == "gemma") return gemma(messages, add_generation_prompt);
        if (family_ == "qwen2") return qwen2(messages, add_generation_prompt);
        return qwen2_5(messages, add_generation_prompt);
    }

private:
    ChatTemplate(std::string family, std::optional<std::string> bos, std::optional<std::string> eos)
        : family_(std::move(family)), bos_(std::move(bos)), eos_(std::move(eos)) {}

    static std::string read_template(const nlohmann::json& j, const std::string& file) {
        const auto it = j.find("chat_template");
        if (it == j.end() || it->is_null()) throw parse_error(file + ": missing field 'chat_template'");
        if (it->is_string()) return it->get<std::string>();
        if (!it->is_array()) throw parse_error(file + ": field 'chat_template' must be a string or a list of {name, template}");
        for (const auto& entry : *it)
            if (json_field<std::string>(entry, "name", file, "chat_template[].") == "default")
                return json_field<std::string>(entry, "template", file, "chat_template[].");
        throw parse_error(file + ": field 'chat_template' lists no template named 'default'");
    }

    // transformers leaves a token that is missing or null out of the template's variables.
    static std::optional<std::string> read_token(const nlohmann::json& j, const char* key, const std::string& file) {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return std::nullopt;
        if (it->is_object()) return json_field<std::string>(*it, "content", file, std::string(key) + ".");
        return json_as<std::string>(*it, file + ": field '" + key + "'");
    }

    std::string llama2(const std::vector<ChatMessage>& messages) const {
        if (messages.empty()) detail::no_first_message(family_);
        const bool has_system = messages[0].role == "system";
        const std::size_t first = has_system ? 1 : 0;
        std::string out;
        for (std::size_t i = first; i < messages.size(); ++i) {
            const auto& m = messages[i];
            if ((m.role == "user") != ((i - first) % 2 == 0)) throw value_error(std::string(detail::alternation_error));
            // `system_message != false` holds for every string, the empty one included.
            const std::string content = i == first && has_system
                                            ? "<<SYS>>\n" + messages[0].content + "\n<</SYS>>\n\n" + m.content
                                            : m.content;
            if (m.role == "user") out += defined(bos_, "bos_token") + "[INST] " + detail::python_strip(content) + " [/INST]";
            else if (m.role == "assistant") out += " " + detail::python_strip(content) + " " + defined(eos_, "eos_token");
        }
        return out;
    }

    std::string llama3(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
        std::string out;
        for (std::size_t i = 0; i < messages.size(); ++i) {
            if (i == 0) out += defined(bos_, "bos_token");
            out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" +
                   detail::python_strip(messages[i].content) + "<|eot_id|>";
        }
        if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        return out;
    }

    std::string mistral(const std::vector<ChatMessage>& messages) const {
        std::string out = bos_.value_or("");  // `{{ bos_token }}`: undefined renders as nothing
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const auto& m = messages[i];
            if ((m.role == "user") != (i % 2 == 0)) throw value_error(std::string(detail::alternation_error));
            if (m.role == "user") out += "[INST] " + m.content + " [/INST]";
            else if (m.role == "assistant") out += m.content + defined(eos_, "eos_token") + " ";
            else throw value_error("Only user and assistant roles are supported!");
        }
        return out;
    }

    static std::string chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
        std::string out;
        for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (add_generation_prompt) out += "<|im_start|>assistant\n";
        return out;
    }

    std::string gemma(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
        if (messages.empty()) detail::no_first_message(family_);
        if (messages[0].role == "system") throw value_error("System role not supported");
        detail::check_alternation(messages);
        std::string out = bos_.value_or("");  // `{{ bos_token }}`: undefined renders as nothing
        for (const auto& m : messages) {
            const std::string& role = m.role == "assistant" ? std::string("model") : m.role;
            out += "<start_of_turn>" + role + "\n" + detail::python_strip(m.content) + "<end_of_turn>\n";
        }
        if (add_generation_prompt) out += "<start_of_turn>model\n";
        return out;
    }

    // ChatML with a default system message where the first message is no system one.
    static std::string qwen2(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
        std::string out;
        if (!messages.empty() && messages[0].role != "system") out += "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";
        out += chatml(messages, add_generation_prompt);
        return out;
    }

    // Qwen2.5's branch without tools (ward passes none): Qwen's own system message when the
    // conversation has none, and runs of tool results gathered into one user turn.
    std::string qwen2_5(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
        if (messages.empty()) detail::no_first_message(family_);
        std::string out = messages[0].role == "system"
                              ? "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n"
                              : "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const auto& m = messages[i];
            if (m.role == "user" || (m.role == "system" && i > 0) || m.role == "assistant") {
                out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
            } else if (m.role == "tool") {
                if (i == 0 || messages[i - 1].role != "tool") out += "<|im_start|>user";
                out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
                if (i + 1 == messages.size() || messages[i + 1].role != "tool") out += "<|im_end|>\n";
            }  // the first system message is written above; other roles are left out
        }
        if (add_generation_prompt) out += "<|im_start|>assistant\n";
        return out;
    }

    /// A token the template adds to text; Jinja's error (its words quoted) where it is undefined.
    const std::string& defined(const std::optional<std::string>& token, const char* name) const {
        if (!token)
            throw value_error("chat template '" + family_ + "': '" + name + "' is undefined (tokenizer_config.json sets none), and the template adds it to text");
        return *token;
    }

    std::string family_;
    std::optional<std::string> bos_, eos_;
};

}  // namespace ward::io
