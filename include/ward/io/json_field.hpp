#pragma once
// Typed reads of the fields of JSON files that come from outside (config.json, tokenizer.json):
// a field of the wrong type is a parse_error naming the file and the field, never nlohmann's
// type_error, and integers out of the target type's range are refused instead of wrapped.
//
//   auto heads = io::json_field<std::int64_t>(j, "num_attention_heads", "config.json");      // required
//   bool tie = io::json_field_or(j, "tie_word_embeddings", false, "config.json");            // optional
//   bool bf = io::json_field_or(model, "byte_fallback", false, "tokenizer.json", "model.");  // model.byte_fallback

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"

namespace ward::io {

namespace detail {
/// A JSON value as it would appear in the file, cut short for messages.
inline std::string json_excerpt(const nlohmann::json& v, std::size_t limit = 80) {
    std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return s.size() > limit ? s.substr(0, limit) + "..." : s;
}
}  // namespace detail

/// `v` as V (bool, std::string, a floating type or an integer type); `what` names it in messages
/// ("config.json: field 'vocab_size'").
template <class V>
V json_as(const nlohmann::json& v, const std::string& what) {
    auto wrong = [&](const char* want) { return parse_error(what + " must be " + want + ", got " + detail::json_excerpt(v)); };
    if constexpr (std::is_same_v<V, bool>) {
        if (!v.is_boolean()) throw wrong("true or false");
        return v.get<bool>();
    } else if constexpr (std::is_same_v<V, std::string>) {
        if (!v.is_string()) throw wrong("a string");
        return v.get<std::string>();
    } else if constexpr (std::is_floating_point_v<V>) {
        if (!v.is_number()) throw wrong("a number");
        return static_cast<V>(v.get<double>());
    } else {
        static_assert(std::is_integral_v<V>, "json_as: bool, std::string, floating or integer types");
        if (!v.is_number_integer()) throw wrong("an integer");
        if (v.is_number_unsigned() ? v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<V>::max())
                                   : v.get<std::int64_t>() < static_cast<std::int64_t>(std::numeric_limits<V>::min()) ||
                                         v.get<std::int64_t>() > static_cast<std::int64_t>(std::numeric_limits<V>::max()))
            throw parse_error(what + " = " + detail::json_excerpt(v) + " is out of range");
        return v.is_number_unsigned() ? static_cast<V>(v.get<std::uint64_t>()) : static_cast<V>(v.get<std::int64_t>());
    }
}

/// obj[key] as V, or nullopt where obj is not an object, has no such key, or holds null there.
/// Messages read "<file>: field '<prefix><key>' ...".
template <class V>
std::optional<V> json_field_opt(const nlohmann::json& obj, std::string_view key, const std::string& file,
                                std::string_view prefix = {}) {
    if (!obj.is_object()) return std::nullopt;
    const auto it = obj.find(std::string(key));
    if (it == obj.end() || it->is_null()) return std::nullopt;
    return json_as<V>(*it, file + ": field '" + std::string(prefix) + std::string(key) + "'");
}

/// obj[key] as V; a parse_error naming the file and field where it is missing or null.
template <class V>
V json_field(const nlohmann::json& obj, std::string_view key, const std::string& file, std::string_view prefix = {}) {
    if (auto v = json_field_opt<V>(obj, key, file, prefix)) return *std::move(v);
    throw parse_error(file + ": missing field '" + std::string(prefix) + std::string(key) + "'");
}

/// obj[key] as V, or `fallback` where it is missing or null.
template <class V>
V json_field_or(const nlohmann::json& obj, std::string_view key, V fallback, const std::string& file,
                std::string_view prefix = {}) {
    if (auto v = json_field_opt<V>(obj, key, file, prefix)) return *std::move(v);
    return fallback;
}
/// Spelled-out overload so that a string literal fallback gives a std::string.
inline std::string json_field_or(const nlohmann::json& obj, std::string_view key, const char* fallback,
                                 const std::string& file, std::string_view prefix = {}) {
    return json_field_or<std::string>(obj, key, std::string(fallback), file, prefix);
}

}  // namespace ward::io
