#pragma once
// JSON datasets: one JSON object per line (JSON Lines) or one JSON array of objects, with the
// fields named by the caller (dots reach into nested objects: "prompt.text"). A bad line is a
// parse_error naming the file and line; blank lines are skipped.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"

namespace ward::io {

/// One record and where it came from ("file:line", or "file: record N" inside an array).
struct JsonRecord {
    nlohmann::json value;
    std::string where;
};

/// The string at a dotted path of `obj`; `where` names the record in errors.
inline std::string json_text(const nlohmann::json& obj, const std::string& dotted, const std::string& where) {
    const nlohmann::json* node = &obj;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = dotted.find('.', start);
        std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is_object() || !node->contains(key)) throw parse_error(where + ": no field '" + dotted + "'");
        node = &(*node)[key];
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (!node->is_string()) throw parse_error(where + ": field '" + dotted + "' is not a string");
    return node->get<std::string>();
}

/// Calls f(record) for every record of a JSON Lines file, or of a file holding one JSON array (first
/// non-blank '['), in file order, so the first bad record is the one reported.
template <class F>
void for_each_json_record(const std::filesystem::path& path, F&& f) {
    std::ifstream in(path);
    if (!in) throw io_error("cannot open " + path.string());
    const char first = static_cast<char>((in >> std::ws).peek());
    if (first == '[') {
        std::stringstream all;
        all << in.rdbuf();
        nlohmann::json arr;
        try {
            arr = nlohmann::json::parse(all.str());
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(path.string() + ": not valid JSON (" + e.what() + ")");
        }
        for (std::size_t i = 0; i < arr.size(); ++i) f(JsonRecord{arr[i], path.string() + ": record " + std::to_string(i + 1)});
        return;
    }
    in.clear();
    in.seekg(0);
    std::string text;
    for (std::size_t line = 1; std::getline(in, text); ++line) {
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path.string() + ":" + std::to_string(line);
        nlohmann::json value;
        try {
            value = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(where + ": not valid JSON (" + e.what() + ")");
        }
        f(JsonRecord{std::move(value), where});
    }
}

struct PromptResponse {
    std::string prompt;
    std::string response;
};

struct JsonlFields {
    std::string prompt = "prompt";
    std::string response = "response";
};

/// Every record's prompt and response.
inline std::vector<PromptResponse> read_jsonl(const std::filesystem::path& path, const JsonlFields& fields = {}) {
    std::vector<PromptResponse> out;
    for_each_json_record(path, [&](const JsonRecord& r) {
        out.push_back({json_text(r.value, fields.prompt, r.where), json_text(r.value, fields.response, r.where)});
    });
    return out;
}

}  // namespace ward::io
