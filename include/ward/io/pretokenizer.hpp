#pragma once
// Pre-tokenization as Hugging Face `tokenizers` does it: the text is cut into pieces before BPE, and
// no merge crosses a piece boundary. Three steps, alone or in a Sequence:
//   Split{pattern: {Regex|String}, behavior: Isolated|Removed, invert}   (Llama-3, Qwen2)
//   ByteLevel{add_prefix_space, use_regex}   (GPT-2: use_regex with GPT-2's pattern)
//   Metaspace{replacement, prepend_scheme: always|first|never, split}   (Mistral): spaces become the
//       replacement ("▁"), which is prepended unless the piece starts with it ("first": only to the
//       piece that starts the text); with split, the piece is cut before every replacement.
// Pieces stay raw bytes here; a byte-level BPE model maps them to the byte-level alphabet.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/json_field.hpp"
#include "ward/io/regex.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

/// GPT-2's pre-splitting pattern (openai/gpt-2 encoder.py), which ByteLevel{use_regex: true} applies.
inline constexpr std::string_view gpt2_split_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class PreTokenizer {
public:
    /// One step of the pipeline.
    struct Step {
        enum class Kind { split, byte_level, metaspace } kind = Kind::byte_level;
        std::shared_ptr<const Regex> regex;  // split; byte_level when it splits
        bool remove_matches = false;         // split: Removed instead of Isolated
        bool invert = false;                 // split: the pattern describes the pieces, not the cuts
        bool add_prefix_space = false;       // byte_level; metaspace: prepend to pieces (scheme always or first)
        bool only_first = false;             // metaspace: prepend_scheme "first"
        bool split_on_replacement = true;    // metaspace: split
        std::string replacement;             // metaspace
    };

    PreTokenizer() = default;
    explicit PreTokenizer(std::vector<Step> steps) : steps_(std::move(steps)) {}

    /// GPT-2's: ByteLevel{add_prefix_space: false, use_regex: true}.
    static PreTokenizer gpt2() {
        Step s;
        s.regex = std::make_shared<const Regex>(with_unicode_white_space(gpt2_split_pattern));
        return PreTokenizer({std::move(s)});
    }

    /// From a tokenizer.json "pre_tokenizer" value (null: the whole text is one piece); anything else
    /// is a parse_error naming `file`.
    static PreTokenizer from_json(const nlohmann::json& config, const std::string& file) {
        std::vector<Step> steps;
        if (!config.is_null()) add_steps(config, file, steps);
        return PreTokenizer(std::move(steps));
    }

    const std::vector<Step>& steps() const { return steps_; }
    bool has_byte_level() const { return has(Step::Kind::byte_level); }
    bool has_metaspace() const { return has(Step::Kind::metaspace); }

    /// Cuts `text` (well-formed UTF-8) into pieces, appended to `pieces`. `at_text_start`: `text`
    /// begins the whole input (Metaspace's prepend_scheme "first" prepends only there; HF asks
    /// whether the piece's original offset is 0, which here only the first piece can have).
    void split(std::string_view text, std::vector<std::string>& pieces, bool at_text_start = true) const {
        std::vector<std::string> current{std::string(text)}, next;
        for (const Step& step : steps_) {
            next.clear();
            for (std::size_t i = 0; i < current.size(); ++i) apply(step, current[i], at_text_start && i == 0, next);
            current.swap(next);
        }
        for (auto& piece : current)
            if (!piece.empty()) pieces.push_back(std::move(piece));
    }

private:
    std::vector<Step> steps_;

    bool has(Step::Kind kind) const {
        for (const Step& s : steps_)
            if (s.kind == kind) return true;
        return false;
    }

    static void apply(const Step& step, const std::string& piece, bool at_text_start, std::vector<std::string>& out) {
        if (step.kind == Step::Kind::metaspace) {
            std::string text;
            for (char c : piece) {
                if (c == ' ') text += step.replacement;
                else text += c;
            }
            if (step.add_prefix_space && (at_text_start || !step.only_first) && !text.empty() &&
                !text.starts_with(step.replacement))
                text.insert(0, step.replacement);
            if (!step.split_on_replacement) {
                out.push_back(std::move(text));
                return;
            }
            std::size_t begin = 0;  // HF's MergedWithNext: each replacement starts a piece
            for (std::size_t at = text.find(step.replacement, 1); at != std::string::npos;
                 at = text.find(step.replacement, at + step.replacement.size())) {
                if (at > begin) out.push_back(text.substr(begin, at - begin));
                begin = at;
            }
            if (begin < text.size()) out.push_back(text.substr(begin));
            return;
        }
        if (step.kind == Step::Kind::byte_level) {
            // As in HF: the prefix space goes on every piece that does not already start with one.
            std::string spaced;
            std::string_view text = piece;
            if (step.add_prefix_space && (piece.empty() || piece.front() != ' ')) {
                spaced = " " + piece;
                text = spaced;
            }
            if (!step.regex) {
                out.emplace_back(text);
                return;
            }
            isolate(*step.regex, text, false, false, out);
            return;
        }
        isolate(*step.regex, piece, step.remove_matches, step.invert, out);
    }

    /// Matches and the gaps between them become pieces of their own (Isolated); with `remove_matches`
    /// the matches are dropped (Removed). `invert` swaps the roles of matches and gaps.
    static void isolate(const Regex& regex, std::string_view text, bool remove_matches, bool invert,
                        std::vector<std::string>& out) {
        std::size_t last = 0;
        auto emit = [&](std::size_t begin, std::size_t end, bool is_match) {
            if (end <= begin) return;
            if (remove_matches && is_match != invert) return;
            out.emplace_back(text.substr(begin, end - begin));
        };
        regex.for_each_match(text, [&](std::size_t begin, std::size_t end) {
            emit(last, begin, false);
            emit(begin, end, true);
            last = end;
        });
        emit(last, text.size(), false);
    }

    static bool flag(const nlohmann::json& config, const char* key, bool fallback, const std::string& file) {
        if (!config.contains(key) || config[key].is_null()) return fallback;
        if (!config[key].is_boolean())
            throw parse_error(file + ": pre_tokenizer." + key + " must be true or false, got " + config[key].dump());
        return config[key].get<bool>();
    }

    static void add_steps(const nlohmann::json& config, const std::string& file, std::vector<Step>& steps) {
        if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
            throw parse_error(file + ": pre_tokenizer has no \"type\": " + config.dump().substr(0, 200));
        const std::string type = config["type"].get<std::string>();
        if (type == "Sequence") {
            if (!config.contains("pretokenizers") || !config["pretokenizers"].is_array())
                throw parse_error(file + ": pre_tokenizer Sequence has no \"pretokenizers\" array");
            for (const auto& inner : config["pretokenizers"]) add_steps(inner, file, steps);
        } else if (type == "ByteLevel") {
            Step s;
            s.kind = Step::Kind::byte_level;
            s.add_prefix_space = flag(config, "add_prefix_space", true, file);
            if (flag(config, "use_regex", true, file))
                s.regex = std::make_shared<const Regex>(with_unicode_white_space(gpt2_split_pattern));
            steps.push_back(std::move(s));
        } else if (type == "Split") {
            Step s;
            s.kind = Step::Kind::split;
            const auto& pattern = config.contains("pattern") ? config["pattern"] : nlohmann::json();
            const bool is_regex = pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string();
            const bool is_string = pattern.is_object() && pattern.contains("String") && pattern["String"].is_string();
            if (!is_regex && !is_string)
                throw parse_error(file + ": pre_tokenizer Split needs \"pattern\": {\"Regex\": ...} or {\"String\": ...}");
            try {
                const std::string text = pattern[is_regex ? "Regex" : "String"].get<std::string>();
                s.regex = is_regex ? std::make_shared<const Regex>(with_unicode_white_space(text))
                                   : std::make_shared<const Regex>(text, true);
            } catch (const value_error& e) {
                throw parse_error(file + ": pre_tokenizer Split: " + e.what());
            }
            const std::string behavior = json_field_or(config, "behavior", "Isolated", file, "pre_tokenizer.");
            if (behavior != "Isolated" && behavior != "Removed")
                throw parse_error(file + ": pre_tokenizer Split behavior \"" + behavior +
                                  "\" is not supported (Isolated and Removed are)");
            s.remove_matches = behavior == "Removed";
            s.invert = flag(config, "invert", false, file);
            steps.push_back(std::move(s));
        } else if (type == "Metaspace") {
            Step s;
            s.kind = Step::Kind::metaspace;
            s.replacement = json_field_or(config, "replacement", "\xE2\x96\x81", file, "pre_tokenizer.");
            std::size_t one = 0;  // HF's replacement is a char
            if (!s.replacement.empty()) next_code_point(s.replacement, one);
            if (s.replacement.empty() || one != s.replacement.size())
                throw parse_error(file + ": pre_tokenizer.replacement must be one character, got \"" + s.replacement + "\"");
            const std::string scheme = json_field_or(config, "prepend_scheme", "always", file, "pre_tokenizer.");
            if (scheme != "always" && scheme != "first" && scheme != "never")
                throw parse_error(file + ": pre_tokenizer.prepend_scheme \"" + scheme + "\" is not always, first or never");
            // Files older than prepend_scheme say add_prefix_space.
            s.add_prefix_space = scheme != "never" && flag(config, "add_prefix_space", true, file);
            s.only_first = scheme == "first";
            s.split_on_replacement = flag(config, "split", true, file);
            steps.push_back(std::move(s));
        } else {
            throw parse_error(file + ": pre_tokenizer type \"" + type +
                              "\" is not supported (ByteLevel, Split, Metaspace and Sequence are)");
        }
    }
};

}  // namespace ward::io
