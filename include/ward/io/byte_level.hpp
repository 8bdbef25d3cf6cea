#pragma once
// GPT-2's byte-level alphabet (bytes_to_unicode in openai/gpt-2 encoder.py): every byte is shown as
// one printable code point, so BPE vocabularies are plain strings. Printable Latin-1 bytes
// ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other 68 bytes, in order,
// become U+0100.. (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ward/io/utf8.hpp"

namespace ward::io {

namespace detail {
constexpr bool byte_stands_for_itself(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}
constexpr std::array<char32_t, 256> make_byte_to_code_point() {
    std::array<char32_t, 256> table{};
    char32_t next = 256;
    for (unsigned b = 0; b < 256; ++b) table[b] = byte_stands_for_itself(b) ? char32_t(b) : next++;
    return table;
}
}  // namespace detail

/// The code point byte `b` is shown as.
inline constexpr std::array<char32_t, 256> byte_level_code_points = detail::make_byte_to_code_point();

namespace detail {
// The alphabet's highest code point is U+0143, so the inverse is a small table (-1: not in it).
inline constexpr char32_t byte_level_max_code_point = 0x143;
constexpr std::array<std::int16_t, byte_level_max_code_point + 1> make_code_point_to_byte() {
    std::array<std::int16_t, byte_level_max_code_point + 1> table{};
    for (auto& t : table) t = -1;
    for (unsigned b = 0; b < 256; ++b) table[byte_level_code_points[b]] = static_cast<std::int16_t>(b);
    return table;
}
inline constexpr auto code_point_to_byte = make_code_point_to_byte();
}  // namespace detail

/// The byte a code point of the alphabet stands for; none for code points outside it.
constexpr std::optional<std::uint8_t> byte_level_byte(char32_t cp) {
    if (cp > detail::byte_level_max_code_point || detail::code_point_to_byte[cp] < 0) return std::nullopt;
    return static_cast<std::uint8_t>(detail::code_point_to_byte[cp]);
}
static_assert(byte_level_code_points[0xFF] == 0xFF && byte_level_code_points[0xAD] == detail::byte_level_max_code_point);

/// The UTF-8 spelling of each byte's code point, precomputed for the encoder's hot loop.
inline const std::array<std::string, 256>& byte_level_spellings() {
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        for (unsigned b = 0; b < 256; ++b) append_utf8(t[b], byte_level_code_points[b]);
        return t;
    }();
    return table;
}

/// Raw bytes -> their byte-level spelling ("a b" -> "aĠb").
inline std::string byte_level_encode(std::string_view bytes) {
    const auto& spell = byte_level_spellings();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) out += spell[static_cast<std::uint8_t>(c)];
    return out;
}

/// Appends the bytes a token spells to `out`, as the Hugging Face ByteLevel decoder does: a token made
/// only of alphabet code points gives their bytes; any other token (an added token such as "<a b>"
/// with a plain space) is copied through as it is.
inline void byte_level_decode_append(std::string& out, std::string_view token) {
    const std::size_t start = out.size();
    for (std::size_t i = 0; i < token.size();) {
        const auto byte = byte_level_byte(next_code_point(token, i));
        if (!byte) {
            out.resize(start);
            out.append(token);
            return;
        }
        out.push_back(static_cast<char>(*byte));
    }
}

}  // namespace ward::io
