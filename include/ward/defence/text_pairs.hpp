#pragma once
// Defence data from text: records of a request, a harmful answer and a refusal, read from JSON Lines
// or a JSON array with the fields named by the caller. The defaults read DecodingTrust's
// decoding_trust_with_refusals_train.json (prompt.text, continuation.text, refusal).

#include <filesystem>
#include <string>
#include <vector>

#include "ward/io/jsonl.hpp"

namespace ward::defence {

struct TextPair {
    std::string prompt, harmful, refusal;
};

struct TextPairFields {
    std::string prompt = "prompt.text";
    std::string harmful = "continuation.text";
    std::string refusal = "refusal";
};

inline std::vector<TextPair> read_text_pairs(const std::filesystem::path& path, const TextPairFields& fields = {}) {
    std::vector<TextPair> out;
    io::for_each_json_record(path, [&](const io::JsonRecord& r) {
        out.push_back({io::json_text(r.value, fields.prompt, r.where), io::json_text(r.value, fields.harmful, r.where),
                       io::json_text(r.value, fields.refusal, r.where)});
    });
    if (out.empty()) throw value_error(path.string() + ": no records");
    return out;
}

}  // namespace ward::defence
