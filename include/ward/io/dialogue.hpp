#pragma once
// How a request and its answer become token ids for training and generation. "plain" is the
// text as it stands: encode(request), then encode(answer) and an eos. "chat" lays them out in the
// model's chat template (io/chat_template.hpp), as transformers' apply_chat_template(...,
// tokenize=True) does: the request is one user turn (after an optional system message) and the
// answer one assistant turn, which the template closes with its own end token.
//
//   auto tmpl = io::chat_template_for(dir, io::ChatMode::automatic);      // none: the model has none
//   io::Dialogue d = tmpl ? io::Dialogue::chat(tok, *tmpl) : io::Dialogue::plain(encode, eos);
//   auto gen = d.prompt("How do I ...?");             // ids to generate the answer from
//   auto [prompt, answer] = d.split("How do I ...?", "You ...");
//
// Where the prompt ends: the full conversation is tokenised once, and the prompt is its longest
// common prefix with the tokenised generation prompt. Tokenising the two pieces apart would differ
// from the model's training text wherever a merge crosses the boundary (a SentencePiece "▁" or a
// byte-level space joins the answer's first token); such a token counts as the answer's.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/chat_template.hpp"
#include "ward/io/tokenizer.hpp"

namespace ward::io {

/// Whether to use the model's chat template: automatic uses it where tokenizer_config.json has one.
enum class ChatMode { automatic, on, off };

/// "auto", "on" or "off".
inline ChatMode parse_chat_mode(std::string_view s) {
    if (s == "auto") return ChatMode::automatic;
    if (s == "on") return ChatMode::on;
    if (s == "off") return ChatMode::off;
    throw value_error("chat mode '" + std::string(s) + "': expected auto, on or off");
}

/// The chat template of the model in `dir` as `mode` asks: none for off, none for automatic where
/// <dir>/tokenizer_config.json is missing or has no chat_template; for on, that is an error. A template
/// that is present but not one ward renders is an error in both modes (never a silent plain format).
inline std::optional<ChatTemplate> chat_template_for(const std::filesystem::path& dir, ChatMode mode) {
    if (mode == ChatMode::off) return std::nullopt;
    const auto path = dir / "tokenizer_config.json";
    bool present = false;
    if (std::ifstream in(path, std::ios::binary); in) {
        try {
            const nlohmann::json j = nlohmann::json::parse(in);
            present = j.is_object() && j.contains("chat_template") && !j["chat_template"].is_null();
        } catch (const nlohmann::json::parse_error& e) {
            throw parse_error(path.string() + ": not valid JSON: " + e.what());
        }
    }
    if (present) return ChatTemplate::from_dir(dir);
    if (mode == ChatMode::on)
        throw value_error(path.string() + ": chat formatting was asked for, but the model has no chat template " +
                          "(no field 'chat_template' in its tokenizer_config.json)");
    return std::nullopt;
}

/// A request's prompt and one answer, as ids: prompt followed by answer is the whole sequence.
struct PromptAnswer {
    std::vector<std::int64_t> prompt, answer;
};

/// A request's prompt with two answers to it (harmful and refusal, chosen and rejected).
struct PromptAnswers {
    std::vector<std::int64_t> prompt, first, second;
};

/// The chat format's extras: a system message before each request, and length limits. A prompt
/// longer than max_prompt keeps its last max_prompt tokens (the end holds the request and the
/// assistant header, what generation needs: TRL's keep_end); an answer keeps its first max_answer.
struct ChatOptions {
    std::optional<std::string> system = std::nullopt;
    std::size_t max_prompt = std::numeric_limits<std::size_t>::max();
    std::size_t max_answer = std::numeric_limits<std::size_t>::max();
};

class Dialogue {
public:
    using Ids = std::vector<std::int64_t>;
    using Encode = std::function<Ids(const std::string&)>;

    /// The text as it stands: encode(request); encode(answer), then eos where given.
    static Dialogue plain(Encode encode, std::optional<std::int64_t> eos = std::nullopt) {
        if (!encode) throw value_error("Dialogue::plain: no encode function");
        Dialogue d;
        d.encode_ = std::move(encode);
        d.eos_ = eos;
        return d;
    }

    /// Through `tmpl`, the rendering encoded without added special tokens (the template writes its
    /// own bos), as apply_chat_template(tokenize=True) does. `tok` must outlive the Dialogue.
    static Dialogue chat(const Tokenizer& tok, ChatTemplate tmpl, ChatOptions opt = {}) {
        if (opt.max_prompt == 0 || opt.max_answer == 0) throw value_error("Dialogue::chat: the length limits must be positive");
        Dialogue d;
        d.encode_ = [t = &tok](const std::string& text) {
            const auto ids = t->encode(text, AddSpecialTokens::no);
            return Ids(ids.begin(), ids.end());
        };
        if (const auto end = tmpl.end_of_turn())
            if (const auto id = tok.token_to_id(*end)) d.end_ = *id;
        d.template_ = std::move(tmpl);
        d.opt_ = std::move(opt);
        return d;
    }

    bool is_chat() const { return template_.has_value(); }
    const std::optional<ChatTemplate>& chat_template() const { return template_; }

    /// The id of the template's end-of-turn token (chat formats whose tokenizer has it as one token),
    /// a stop token for generation besides the model's own.
    std::optional<std::int64_t> end_of_turn_id() const { return end_; }

    /// The ids the answer to `request` is generated from: the generation prompt (chat), or encode(request).
    Ids prompt(const std::string& request) const {
        if (!template_) return encode_(request);
        return clip_prompt(encode_(template_->apply(messages(request, nullptr), true)));
    }

    /// `request` and `answer` as one sequence, split where the answer begins.
    PromptAnswer split(const std::string& request, const std::string& answer) const {
        if (!template_) return {encode_(request), closed(encode_(answer))};
        const Ids gen = encode_(template_->apply(messages(request, nullptr), true));
        Ids full = encode_(template_->apply(messages(request, &answer), false));
        const std::size_t k = common_prefix(full, gen);
        return {clip_prompt(Ids(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(k))), clip_answer(tail(full, k))};
    }

    /// Two answers to one request with one shared prompt: the common prefix of both conversations and
    /// the generation prompt, so both sequences start with the same ids.
    PromptAnswers split(const std::string& request, const std::string& first, const std::string& second) const {
        if (!template_) return {encode_(request), closed(encode_(first)), closed(encode_(second))};
        const Ids gen = encode_(template_->apply(messages(request, nullptr), true));
        const Ids a = encode_(template_->apply(messages(request, &first), false));
        const Ids b = encode_(template_->apply(messages(request, &second), false));
        const std::size_t k = std::min(common_prefix(a, gen), common_prefix(b, gen));
        return {clip_prompt(Ids(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k))), clip_answer(tail(a, k)), clip_answer(tail(b, k))};
    }

private:
    Dialogue() = default;

    std::vector<ChatMessage> messages(const std::string& request, const std::string* answer) const {
        std::vector<ChatMessage> m;
        if (opt_.system) m.push_back({"system", *opt_.system});
        m.push_back({"user", request});
        if (answer) m.push_back({"assistant", *answer});
        return m;
    }

    static std::size_t common_prefix(const Ids& a, const Ids& b) {
        return static_cast<std::size_t>(std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(std::min(a.size(), b.size())), b.begin()).first -
                                        a.begin());
    }
    static Ids tail(const Ids& ids, std::size_t from) { return Ids(ids.begin() + static_cast<std::ptrdiff_t>(from), ids.end()); }

    Ids closed(Ids ids) const {
        if (eos_) ids.push_back(*eos_);
        return ids;
    }
    Ids clip_prompt(Ids ids) const {
        if (ids.size() > opt_.max_prompt) ids.erase(ids.begin(), ids.end() - static_cast<std::ptrdiff_t>(opt_.max_prompt));
        return ids;
    }
    Ids clip_answer(Ids ids) const {
        if (ids.size() > opt_.max_answer) ids.resize(opt_.max_answer);
        return ids;
    }

    Encode encode_;
    std::optional<std::int64_t> eos_;  // plain: closes each answer
    std::optional<ChatTemplate> template_;
    std::optional<std::int64_t> end_;
    ChatOptions opt_;
};

}  // namespace ward::io
