#pragma once
// Normalizers of a Hugging Face tokenizer.json, applied to the text between added tokens before
// pre-tokenization, as `tokenizers` does. Supported (alone or in a Sequence):
//   Prepend{prepend}                      (Llama-2: "▁"; nothing is prepended to an empty text)
//   Replace{pattern: {String}, content}   (Llama-2: " " -> "▁"; every occurrence, left to right)
//   NFC                                   accepted and skipped: it changes only text not already in NFC
//                                         (Qwen2), and doing it needs Unicode tables we do not ship.
// Anything else (a Regex pattern, Lowercase, NFKC, ...) is a parse_error naming the file and field.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/json_field.hpp"

namespace ward::io {

class Normalizer {
public:
    struct Step {
        enum class Kind { prepend, replace } kind = Kind::prepend;
        std::string pattern;  // replace: the literal text replaced
        std::string content;  // prepend: the prefix; replace: the replacement
    };

    Normalizer() = default;
    explicit Normalizer(std::vector<Step> steps) : steps_(std::move(steps)) {}

    /// From a tokenizer.json "normalizer" value (null: none).
    static Normalizer from_json(const nlohmann::json& config, const std::string& file) {
        std::vector<Step> steps;
        if (!config.is_null()) add_steps(config, file, "normalizer", steps);
        return Normalizer(std::move(steps));
    }

    bool empty() const { return steps_.empty(); }
    const std::vector<Step>& steps() const { return steps_; }

    std::string apply(std::string_view text) const {
        std::string s(text);
        for (const Step& step : steps_) {
            if (step.kind == Step::Kind::prepend) {
                if (!s.empty()) s.insert(0, step.content);
                continue;
            }
            std::string out;
            out.reserve(s.size());
            std::size_t done = 0;
            for (std::size_t at = s.find(step.pattern); at != std::string::npos; at = s.find(step.pattern, done)) {
                out.append(s, done, at - done).append(step.content);
                done = at + step.pattern.size();
            }
            out.append(s, done);
            s = std::move(out);
        }
        return s;
    }

private:
    std::vector<Step> steps_;

    static void add_steps(const nlohmann::json& config, const std::string& file, const std::string& where,
                          std::vector<Step>& steps) {
        if (!config.is_object()) throw parse_error(file + ": " + where + " is not an object: " + detail::json_excerpt(config));
        const std::string type = json_field<std::string>(config, "type", file, where + ".");
        if (type == "Sequence") {
            if (!config.contains("normalizers") || !config["normalizers"].is_array())
                throw parse_error(file + ": " + where + ".normalizers must be an array");
            std::size_t i = 0;
            for (const auto& inner : config["normalizers"])
                add_steps(inner, file, where + ".normalizers[" + std::to_string(i++) + "]", steps);
        } else if (type == "NFC") {
            // skipped: see the header comment
        } else if (type == "Prepend") {
            steps.push_back({Step::Kind::prepend, "", json_field<std::string>(config, "prepend", file, where + ".")});
        } else if (type == "Replace") {
            const auto& pattern = config.contains("pattern") ? config["pattern"] : nlohmann::json();
            if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string())
                throw parse_error(file + ": " + where + ".pattern " + detail::json_excerpt(pattern) +
                                  " is not supported (only {\"String\": ...} is)");
            Step s{Step::Kind::replace, pattern["String"].get<std::string>(),
                   json_field<std::string>(config, "content", file, where + ".")};
            if (s.pattern.empty()) throw parse_error(file + ": " + where + ".pattern is an empty string");
            steps.push_back(std::move(s));
        } else {
            throw parse_error(file + ": " + where + " " + detail::json_excerpt(config, 200) +
                              " is not supported (Prepend, Replace with a String pattern, NFC and Sequence are)");
        }
    }
};

}  // namespace ward::io
