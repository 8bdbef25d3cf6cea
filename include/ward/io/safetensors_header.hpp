#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
// padded with spaces to a multiple of 8, then the raw little-endian tensor data; offsets count
// from the start of the data section. This header holds the dtypes and the header's parser and
// validator, which checks everything the reference implementation checks (and duplicate keys,
// which its JSON parser also rejects) before a single tensor byte is read: every failure is a
// parse_error naming the file and, where there is one, the tensor.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::io {

static_assert(std::endian::native == std::endian::little,
              "ward: safetensors data is little-endian; reading it on a big-endian host needs byte swaps");

/// Element types the format names. ward reads and writes F32, F64, BF16, I32 and I64 directly,
/// converts F16 (and the small integer types) on request, and lists the rest without reading them.
enum class StoredDtype : std::uint8_t { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

namespace detail {
struct StoredDtypeEntry {
    StoredDtype dtype;
    std::string_view name;
    std::size_t size;
};
inline constexpr StoredDtypeEntry stored_dtypes[] = {
    {StoredDtype::BOOL, "BOOL", 1}, {StoredDtype::U8, "U8", 1},       {StoredDtype::I8, "I8", 1},
    {StoredDtype::I16, "I16", 2},   {StoredDtype::U16, "U16", 2},     {StoredDtype::F16, "F16", 2},
    {StoredDtype::BF16, "BF16", 2}, {StoredDtype::I32, "I32", 4},     {StoredDtype::U32, "U32", 4},
    {StoredDtype::F32, "F32", 4},   {StoredDtype::F64, "F64", 8},     {StoredDtype::I64, "I64", 8},
    {StoredDtype::U64, "U64", 8},   {StoredDtype::F8_E4M3, "F8_E4M3", 1}, {StoredDtype::F8_E5M2, "F8_E5M2", 1},
};
}  // namespace detail

/// The format's name of a dtype ("F32").
constexpr std::string_view stored_dtype_name(StoredDtype d) {
    for (const auto& e : detail::stored_dtypes)
        if (e.dtype == d) return e.name;
    return "?";
}
/// Bytes per element.
constexpr std::size_t stored_dtype_size(StoredDtype d) {
    for (const auto& e : detail::stored_dtypes)
        if (e.dtype == d) return e.size;
    return 0;
}
/// The dtype named `name`, if the format has one by that name.
constexpr std::optional<StoredDtype> parse_stored_dtype(std::string_view name) {
    for (const auto& e : detail::stored_dtypes)
        if (e.name == name) return e.dtype;
    return std::nullopt;
}
/// How a ward element type is stored.
template <Element T>
constexpr StoredDtype stored_dtype_of() {
    switch (dtype_of_v<T>) {
        case dtype::f32: return StoredDtype::F32;
        case dtype::f64: return StoredDtype::F64;
        case dtype::bf16: return StoredDtype::BF16;
        case dtype::i32: return StoredDtype::I32;
        case dtype::i64: return StoredDtype::I64;
    }
    return StoredDtype::F32;
}

/// One tensor's entry: dtype, shape and byte range within the data section.
struct TensorInfo {
    std::string name;
    StoredDtype dtype = StoredDtype::F32;
    Shape shape;
    std::size_t data_begin = 0;
    std::size_t data_end = 0;

    std::size_t nbytes() const { return data_end - data_begin; }
    index_t numel() const { return shape.numel(); }
};

/// A parsed and validated header.
struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;  // sorted by name
    std::map<std::string, std::string> metadata;
    std::size_t data_offset = 0;  // where the data section starts in the file: 8 + N
};

/// The reference implementation refuses headers above 100 MB (a corrupt length would otherwise
/// make a reader allocate gigabytes).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

namespace detail {

/// Parses JSON and rejects duplicate keys in any object (nlohmann would keep the last one silently).
inline nlohmann::json parse_json_without_duplicates(std::string_view text, const std::string& where) {
    using json = nlohmann::json;
    std::vector<std::set<std::string>> keys;  // one set per open object or array
    std::string duplicate;
    auto callback = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start: keys.emplace_back(); break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!keys.empty()) keys.pop_back();
                break;
            case json::parse_event_t::key:
                if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
                    duplicate = parsed.get<std::string>();
                break;
            case json::parse_event_t::value: break;
        }
        return true;
    };
    json j;
    try {
        j = json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        throw parse_error(where + ": header is not valid JSON: " + e.what());
    }
    if (!duplicate.empty()) throw parse_error(where + ": header repeats the key '" + duplicate + "'");
    return j;
}

inline std::string json_type(const nlohmann::json& j) {
    if (j.is_number_integer() && !j.is_number_unsigned()) return "a negative integer";
    if (j.is_number_float()) return "a non-integer number";
    return j.type_name();
}

/// a * b, or nullopt on overflow.
inline std::optional<std::uint64_t> checked_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

inline TensorInfo parse_tensor_entry(const std::string& name, const nlohmann::json& e, std::uint64_t data_size,
                                     const std::string& file) {
    std::string where = file + ": tensor '" + name + "'";
    if (!e.is_object()) throw parse_error(where + ": entry must be an object, got " + json_type(e));
    TensorInfo info;
    info.name = name;

    auto dt = e.find("dtype");
    if (dt == e.end()) throw parse_error(where + ": missing field \"dtype\"");
    if (!dt->is_string()) throw parse_error(where + ": \"dtype\" must be a string, got " + json_type(*dt));
    auto d = parse_stored_dtype(dt->get<std::string>());
    if (!d) throw parse_error(where + ": unknown dtype \"" + dt->get<std::string>() + "\"");
    info.dtype = *d;

    auto sh = e.find("shape");
    if (sh == e.end()) throw parse_error(where + ": missing field \"shape\"");
    if (!sh->is_array()) throw parse_error(where + ": \"shape\" must be an array, got " + json_type(*sh));
    if (sh->size() > static_cast<std::size_t>(max_rank))
        throw parse_error(where + ": rank " + std::to_string(sh->size()) + " exceeds ward::max_rank = " +
                          std::to_string(max_rank));
    info.shape = Shape::of_rank(static_cast<int>(sh->size()));
    // The product of the non-zero extents must fit (in elements and in bytes) even where another
    // extent is 0: the strides of such a shape would overflow all the same.
    bool has_zero = false;
    std::optional<std::uint64_t> nonzero = 1;
    for (std::size_t i = 0; i < sh->size(); ++i) {
        const auto& x = (*sh)[i];
        if (!x.is_number_unsigned())
            throw parse_error(where + ": shape[" + std::to_string(i) + "] must be a non-negative integer, got " +
                              json_type(x));
        auto v = x.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
            throw parse_error(where + ": shape[" + std::to_string(i) + "] = " + std::to_string(v) + " is too large");
        info.shape[static_cast<int>(i)] = static_cast<index_t>(v);
        has_zero |= v == 0;
        if (nonzero && v != 0) nonzero = checked_mul(*nonzero, v);
    }
    const std::optional<std::uint64_t> bytes = nonzero ? checked_mul(*nonzero, stored_dtype_size(info.dtype)) : std::nullopt;
    if (!bytes || *nonzero > static_cast<std::uint64_t>(std::numeric_limits<index_t>::max()))
        throw parse_error(where + ": shape " + sh->dump() + " is too large");
    const std::uint64_t nbytes = has_zero ? 0 : *bytes;

    auto off = e.find("data_offsets");
    if (off == e.end()) throw parse_error(where + ": missing field \"data_offsets\"");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
        throw parse_error(where + ": \"data_offsets\" must be two non-negative integers [begin, end], got " + off->dump());
    auto begin = (*off)[0].get<std::uint64_t>(), end = (*off)[1].get<std::uint64_t>();
    std::string range = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (end < begin) throw parse_error(where + ": " + range + " end before they begin");
    if (end > data_size)
        throw parse_error(where + ": " + range + " lie outside the data section (" + std::to_string(data_size) + " bytes)");
    if (end - begin != nbytes)
        throw parse_error(where + ": " + range + " hold " + std::to_string(end - begin) + " bytes, but shape " +
                          info.shape.str() + " of " + std::string(stored_dtype_name(info.dtype)) + " needs " +
                          std::to_string(nbytes));
    info.data_begin = static_cast<std::size_t>(begin);
    info.data_end = static_cast<std::size_t>(end);
    return info;
}

}  // namespace detail

/// Parses and validates the header of a safetensors file of `file_size` bytes whose first bytes
/// are `prefix` (at least the 8-byte length and the header itself when they fit in the file).
/// `file` names the file in messages.
inline SafetensorsHeader parse_safetensors_header(const std::byte* prefix, std::uint64_t file_size, const std::string& file) {
    const std::string where = "safetensors file '" + file + "'";
    if (file_size < 8)
        throw parse_error(where + ": " + std::to_string(file_size) + " bytes is too short for the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = n << 8 | std::to_integer<std::uint64_t>(prefix[i]);
    if (n > max_header_bytes)
        throw parse_error(where + ": header length " + std::to_string(n) + " exceeds the limit of " +
                          std::to_string(max_header_bytes) + " bytes");
    if (n > file_size - 8)
        throw parse_error(where + ": header length " + std::to_string(n) + " runs past the end of the file (" +
                          std::to_string(file_size) + " bytes)");
    std::string_view text(reinterpret_cast<const char*>(prefix + 8), static_cast<std::size_t>(n));
    if (text.empty() || text.front() != '{') throw parse_error(where + ": header must be a JSON object (it does not start with '{')");
    nlohmann::json j = detail::parse_json_without_duplicates(text, where);
    if (!j.is_object()) throw parse_error(where + ": header must be a JSON object, got " + detail::json_type(j));

    SafetensorsHeader h;
    h.data_offset = static_cast<std::size_t>(8 + n);
    const std::uint64_t data_size = file_size - 8 - n;
    for (auto it = j.begin(); it != j.end(); ++it) {  // nlohmann objects iterate in key order
        if (it.key() == "__metadata__") {
            if (!it->is_object()) throw parse_error(where + ": \"__metadata__\" must be an object, got " + detail::json_type(*it));
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string())
                    throw parse_error(where + ": metadata value of '" + m.key() + "' must be a string, got " +
                                      detail::json_type(*m));
                h.metadata.emplace(m.key(), m->get<std::string>());
            }
            continue;
        }
        h.tensors.push_back(detail::parse_tensor_entry(it.key(), *it, data_size, where));
    }

    // The data section must be tiled exactly: no overlaps (one tensor's bytes read as another's)
    // and no holes (bytes nobody owns), as the reference implementation requires.
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : h.tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->data_begin != b->data_begin ? a->data_begin < b->data_begin : a->data_end < b->data_end;
    });
    std::size_t expected = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* t : by_offset) {
        if (t->data_begin != expected) {
            std::string range = "data_offsets [" + std::to_string(t->data_begin) + ", " + std::to_string(t->data_end) + "]";
            if (t->data_begin < expected)
                throw parse_error(where + ": tensor '" + t->name + "': " + range + " overlap tensor '" + previous->name +
                                  "' (which ends at " + std::to_string(expected) + ")");
            throw parse_error(where + ": tensor '" + t->name + "': " + range + " leave a hole: bytes [" +
                              std::to_string(expected) + ", " + std::to_string(t->data_begin) + ") belong to no tensor");
        }
        expected = t->data_end;
        previous = t;
    }
    if (expected != data_size)
        throw parse_error(where + ": tensors cover " + std::to_string(expected) + " bytes of the data section, but it holds " +
                          std::to_string(data_size) + " (truncated or trailing bytes)");
    return h;
}

/// The header bytes (length prefix, JSON, space padding) for tensors laid out in the given order
/// with contiguous offsets; TensorInfo::data_begin/data_end are taken as given.
inline std::string serialize_safetensors_header(const std::vector<TensorInfo>& tensors,
                                                const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!metadata.empty()) j["__metadata__"] = metadata;  // first, as the reference writer puts it
    for (const auto& t : tensors) {
        nlohmann::ordered_json entry;
        entry["dtype"] = stored_dtype_name(t.dtype);
        entry["shape"] = nlohmann::ordered_json::array();
        for (index_t d : t.shape) entry["shape"].push_back(d);
        entry["data_offsets"] = {t.data_begin, t.data_end};
        j[t.name] = std::move(entry);
    }
    std::string text = j.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + text;
}

}  // namespace ward::io
