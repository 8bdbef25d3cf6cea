#pragma once
// JSON Lines datasets: one JSON object per line, with the prompt and response fields named by the
// caller. A bad line is a parse_error naming the file and line; blank lines are skipped.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"

namespace ward::io {

struct PromptResponse {
    std::string prompt;
    std::string response;
};

struct JsonlFields {
    std::string prompt = "prompt";
    std::string response = "response";
};

/// Reads every line's object; `fields` may name nested members with dots ("prompt.text").
inline std::vector<PromptResponse> read_jsonl(const std::filesystem::path& path, const JsonlFields& fields = {}) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    auto lookup = [&](const nlohmann::json& obj, const std::string& dotted, std::size_t line) -> std::string {
        const nlohmann::json* node = &obj;
        std::size_t start = 0;
        while (true) {
            std::size_t dot = dotted.find('.', start);
            std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
            if (!node->is_object() || !node->contains(key))
                throw parse_error(path.string() + ":" + std::to_string(line) + ": no field '" + dotted + "'");
            node = &(*node)[key];
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
        if (!node->is_string()) throw parse_error(path.string() + ":" + std::to_string(line) + ": field '" + dotted + "' is not a string");
        return node->get<std::string>();
    };
    std::vector<PromptResponse> out;
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json obj;
        try {
            obj = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(path.string() + ":" + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
        }
        out.push_back({lookup(obj, fields.prompt, line), lookup(obj, fields.response, line)});
    }
    return out;
}

}  // namespace ward::io
