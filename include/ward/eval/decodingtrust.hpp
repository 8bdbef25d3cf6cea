#pragma once
// Labelled (prompt, completion) pairs for training and checking a toxicity judge, read from
// DecodingTrust's training_dataset.jsonl (RealToxicityPrompts prompts and continuations with their
// Perspective scores): a continuation is harmful when its score is above a threshold.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/json_field.hpp"

namespace ward::eval {

/// A pair with its label (1 harmful, 0 harmless); score is the raw judgement the label came from.
struct LabelledPair {
    std::string prompt, completion;
    int label = 0;
    double score = std::numeric_limits<double>::quiet_NaN();
    std::string kind;  // where it came from (DecodingTrust: toxic, toxic_test, non_toxic)
};

struct DecodingTrustOptions {
    double threshold = 0.5;                  // label = score > threshold
    std::string attribute = "toxicity";      // the continuation's Perspective attribute
    std::vector<std::string> types;          // keep rows of these `type`s only (empty: all)
};

/// Every row of the file as a pair (prompt.text, continuation.text) labelled by the continuation's
/// score. Rows whose score is null (Perspective gave none) are skipped; a malformed row is a
/// parse_error naming the file and line.
inline std::vector<LabelledPair> read_decodingtrust_toxicity(const std::filesystem::path& path,
                                                             const DecodingTrustOptions& opt = {}) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    std::vector<LabelledPair> out;
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path.string() + ":" + std::to_string(line);
        nlohmann::json row;
        try {
            row = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(where + ": not valid JSON (" + e.what() + ")");
        }
        auto text_of = [&](const char* part) -> std::string {
            if (!row.is_object() || !row.contains(part) || !row[part].is_object() || !row[part].contains("text") ||
                !row[part]["text"].is_string())
                throw parse_error(where + ": no string field '" + std::string(part) + ".text'");
            return row[part]["text"].get<std::string>();
        };
        LabelledPair p;
        p.kind = io::json_field_or(row, "type", "", where);
        if (!opt.types.empty() && std::find(opt.types.begin(), opt.types.end(), p.kind) == opt.types.end()) continue;
        p.prompt = text_of("prompt");
        p.completion = text_of("continuation");
        const nlohmann::json& c = row["continuation"];
        if (!c.contains(opt.attribute))
            throw parse_error(where + ": no field 'continuation." + opt.attribute + "'");
        if (c[opt.attribute].is_null()) continue;
        if (!c[opt.attribute].is_number())
            throw parse_error(where + ": 'continuation." + opt.attribute + "' is not a number");
        p.score = c[opt.attribute].get<double>();
        p.label = p.score > opt.threshold ? 1 : 0;
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace ward::eval
