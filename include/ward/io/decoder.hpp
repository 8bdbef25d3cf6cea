#pragma once
// Decoders of a Hugging Face tokenizer.json for SentencePiece-style tokenizers: each step takes the
// list of token strings and gives a new list, as `tokenizers`' decode_chain does; the result is
// their concatenation. Supported (alone or in a Sequence):
//   Replace{pattern: {String}, content}   every occurrence in each token (Llama-2: "▁" -> " ")
//   ByteFallback                          runs of <0xNN> tokens become the text they spell, or one
//                                         U+FFFD per byte where the run is not valid UTF-8
//   Fuse                                  all tokens into one
//   Strip{content, start, stop}           up to start/stop copies of content off each token's ends
//   Metaspace{replacement, prepend_scheme}  "▁" -> " "; in the first token, dropped (unless "never")
// ByteLevel (GPT-2 and kin) is decoded by the tokenizer itself to raw bytes; see tokenizer.hpp.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/byte_level.hpp"
#include "ward/io/json_field.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

class Decoder {
public:
    struct Step {
        enum class Kind { byte_level, replace, byte_fallback, fuse, strip, metaspace } kind = Kind::byte_level;
        std::string pattern, content;  // replace; strip: content; metaspace: pattern is the replacement
        std::size_t start = 0, stop = 0;  // strip
        bool drop_in_first = true;        // metaspace: prepend_scheme is not "never"
    };

    Decoder() = default;
    explicit Decoder(std::vector<Step> steps) : steps_(std::move(steps)) {}

    /// From a tokenizer.json "decoder" value (null: none).
    static Decoder from_json(const nlohmann::json& config, const std::string& file) {
        std::vector<Step> steps;
        if (!config.is_null()) add_steps(config, file, "decoder", steps);
        return Decoder(std::move(steps));
    }

    const std::vector<Step>& steps() const { return steps_; }
    bool empty() const { return steps_.empty(); }
    /// Whether a step is ByteLevel (GPT-2 and kin).
    bool has_byte_level() const {
        for (const Step& s : steps_)
            if (s.kind == Step::Kind::byte_level) return true;
        return false;
    }

    /// The text `tokens` spell. Without steps HF joins them with spaces.
    std::string decode(std::vector<std::string> tokens) const {
        if (steps_.empty()) {
            std::string out;
            for (std::size_t i = 0; i < tokens.size(); ++i) out.append(i ? " " : "").append(tokens[i]);
            return out;
        }
        for (const Step& step : steps_) tokens = apply(step, std::move(tokens));
        std::string out;
        for (const auto& t : tokens) out += t;
        return out;
    }

private:
    std::vector<Step> steps_;

    static std::string replace_all(const std::string& s, const std::string& pattern, const std::string& content) {
        std::string out;
        std::size_t done = 0;
        for (std::size_t at = s.find(pattern); at != std::string::npos; at = s.find(pattern, done)) {
            out.append(s, done, at - done).append(content);
            done = at + pattern.size();
        }
        return out.append(s, done);
    }

    /// The byte a "<0xNN>" token stands for: Rust's u8::from_str_radix(NN, 16), which takes a "+" sign.
    static std::optional<std::uint8_t> fallback_byte(const std::string& t) {
        if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return std::nullopt;
        auto digit = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        const int hi = digit(t[3]), lo = digit(t[4]);
        if (t[3] == '+' && lo >= 0) return static_cast<std::uint8_t>(lo);
        if (hi < 0 || lo < 0) return std::nullopt;
        return static_cast<std::uint8_t>(hi * 16 + lo);
    }

    static std::vector<std::string> apply(const Step& step, std::vector<std::string> tokens) {
        using Kind = Step::Kind;
        switch (step.kind) {
            case Kind::byte_level:  // only reached inside a longer chain: bytes, repaired as HF does
                {
                    std::string bytes;
                    for (const auto& t : tokens) byte_level_decode_append(bytes, t);
                    return {sanitize_utf8(bytes)};
                }
            case Kind::replace:
                for (auto& t : tokens) t = replace_all(t, step.pattern, step.content);
                return tokens;
            case Kind::fuse: {
                std::string all;
                for (const auto& t : tokens) all += t;
                return {all};
            }
            case Kind::byte_fallback: {
                std::vector<std::string> out;
                std::string run;
                std::size_t run_length = 0;
                auto flush = [&] {
                    if (run_length == 0) return;
                    if (is_valid_utf8(run)) out.push_back(run);
                    else for (std::size_t i = 0; i < run_length; ++i) out.emplace_back(utf8_replacement_character);
                    run.clear();
                    run_length = 0;
                };
                for (auto& t : tokens) {
                    if (const auto b = fallback_byte(t)) {
                        run.push_back(static_cast<char>(*b));
                        ++run_length;
                        continue;
                    }
                    flush();
                    out.push_back(std::move(t));
                }
                flush();
                return out;
            }
            case Kind::strip:
                for (auto& t : tokens) {
                    std::vector<std::size_t> starts;  // byte offset of each character
                    for (std::size_t i = 0; i < t.size();) {
                        starts.push_back(i);
                        next_code_point(t, i);
                    }
                    const std::size_t n = starts.size();
                    auto char_at = [&](std::size_t k) {
                        return std::string_view(t).substr(starts[k], (k + 1 < n ? starts[k + 1] : t.size()) - starts[k]);
                    };
                    std::size_t begin = 0, end = n;
                    while (begin < std::min(step.start, n) && char_at(begin) == step.content) ++begin;
                    while (end > begin && n - end < step.stop && char_at(end - 1) == step.content) --end;
                    const std::size_t from = begin < n ? starts[begin] : t.size(), to = end < n ? starts[end] : t.size();
                    t = t.substr(from, to - from);
                }
                return tokens;
            case Kind::metaspace:
                for (std::size_t i = 0; i < tokens.size(); ++i)
                    tokens[i] = replace_all(tokens[i], step.pattern, i == 0 && step.drop_in_first ? "" : " ");
                return tokens;
        }
        return tokens;
    }

    static void add_steps(const nlohmann::json& config, const std::string& file, const std::string& where,
                          std::vector<Step>& steps) {
        if (!config.is_object()) throw parse_error(file + ": " + where + " is not an object: " + detail::json_excerpt(config));
        const std::string type = json_field<std::string>(config, "type", file, where + ".");
        const std::string prefix = where + ".";
        Step s;
        if (type == "Sequence") {
            if (!config.contains("decoders") || !config["decoders"].is_array())
                throw parse_error(file + ": " + where + ".decoders must be an array");
            std::size_t i = 0;
            for (const auto& inner : config["decoders"]) add_steps(inner, file, where + ".decoders[" + std::to_string(i++) + "]", steps);
            return;
        } else if (type == "ByteLevel") {
            s.kind = Step::Kind::byte_level;
        } else if (type == "ByteFallback") {
            s.kind = Step::Kind::byte_fallback;
        } else if (type == "Fuse") {
            s.kind = Step::Kind::fuse;
        } else if (type == "Replace") {
            s.kind = Step::Kind::replace;
            const auto& pattern = config.contains("pattern") ? config["pattern"] : nlohmann::json();
            if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string())
                throw parse_error(file + ": " + prefix + "pattern " + detail::json_excerpt(pattern) +
                                  " is not supported (only {\"String\": ...} is)");
            s.pattern = pattern["String"].get<std::string>();
            if (s.pattern.empty()) throw parse_error(file + ": " + prefix + "pattern is an empty string");
            s.content = json_field<std::string>(config, "content", file, prefix);
        } else if (type == "Strip") {
            s.kind = Step::Kind::strip;
            s.content = json_field<std::string>(config, "content", file, prefix);
            if (s.content.empty()) throw parse_error(file + ": " + prefix + "content must be one character");
            std::size_t i = 0;
            next_code_point(s.content, i);
            if (i != s.content.size()) throw parse_error(file + ": " + prefix + "content must be one character");
            s.start = json_field<std::size_t>(config, "start", file, prefix);
            s.stop = json_field<std::size_t>(config, "stop", file, prefix);
        } else if (type == "Metaspace") {
            s.kind = Step::Kind::metaspace;
            s.pattern = json_field_or(config, "replacement", "\xE2\x96\x81", file, prefix);
            std::size_t one = 0;  // HF's replacement is a char
            if (!s.pattern.empty()) next_code_point(s.pattern, one);
            if (s.pattern.empty() || one != s.pattern.size())
                throw parse_error(file + ": " + prefix + "replacement must be one character");
            const std::string scheme = json_field_or(config, "prepend_scheme", "always", file, prefix);
            if (scheme != "always" && scheme != "first" && scheme != "never")
                throw parse_error(file + ": " + prefix + "prepend_scheme \"" + scheme + "\" is not always, first or never");
            // Older files say add_prefix_space instead of prepend_scheme.
            s.drop_in_first = scheme != "never" && json_field_or(config, "add_prefix_space", true, file, prefix);
        } else {
            throw parse_error(file + ": " + where + " " + detail::json_excerpt(config, 200) +
                              " is not supported (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence are)");
        }
        steps.push_back(std::move(s));
    }
};

}  // namespace ward::io
