#pragma once
// UTF-8 helpers for the tokenizer: repair of ill-formed input the way Python's
// bytes.decode("utf-8", errors="replace") does it, and encoding of one code point.
//
// Repair follows the Unicode "maximal subpart" practice (Unicode 15, ch. 3.9, U+FFFD substitution),
// which both CPython and Rust's String::from_utf8_lossy implement: every maximal prefix of a valid
// sequence that cannot be completed becomes one U+FFFD, and every byte that cannot start one
// (0x80-0xC1, 0xF5-0xFF) becomes one U+FFFD. So "\xE2\x82" is one U+FFFD, an overlong "\xC0\xAF" two,
// a UTF-8-encoded surrogate "\xED\xA0\x80" three.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ward::io {

namespace detail {
/// The valid range of the second byte of a sequence led by `lead` (the later bytes are 0x80-0xBF);
/// {0, 0} and a length of 0 when `lead` cannot start a sequence.
struct Utf8Lead {
    std::uint8_t length;
    std::uint8_t second_lo;
    std::uint8_t second_hi;
};
constexpr Utf8Lead utf8_lead(std::uint8_t lead) {
    if (lead < 0x80) return {1, 0, 0};
    if (lead < 0xC2) return {0, 0, 0};
    if (lead < 0xE0) return {2, 0x80, 0xBF};
    if (lead == 0xE0) return {3, 0xA0, 0xBF};  // excludes overlong forms
    if (lead == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates D800-DFFF
    if (lead < 0xF0) return {3, 0x80, 0xBF};
    if (lead == 0xF0) return {4, 0x90, 0xBF};  // excludes overlong forms
    if (lead < 0xF4) return {4, 0x80, 0xBF};
    if (lead == 0xF4) return {4, 0x80, 0x8F};  // excludes code points above U+10FFFF
    return {0, 0, 0};
}

/// Length of the well-formed sequence at text[i], or the number of bytes (>= 1) that make up its
/// maximal ill-formed subpart, negated.
inline int utf8_sequence_at(std::string_view text, std::size_t i) {
    const auto lead = detail::utf8_lead(static_cast<std::uint8_t>(text[i]));
    if (lead.length == 1) return 1;
    if (lead.length == 0) return -1;
    std::size_t k = 1;
    for (; k < lead.length; ++k) {
        if (i + k >= text.size()) return -static_cast<int>(k);
        const auto b = static_cast<std::uint8_t>(text[i + k]);
        const std::uint8_t lo = k == 1 ? lead.second_lo : 0x80;
        const std::uint8_t hi = k == 1 ? lead.second_hi : 0xBF;
        if (b < lo || b > hi) return -static_cast<int>(k);
    }
    return static_cast<int>(lead.length);
}
}  // namespace detail

inline constexpr std::string_view utf8_replacement_character = "\xEF\xBF\xBD";

/// True when `text` is well-formed UTF-8 (no surrogates, no overlong forms, nothing above U+10FFFF).
inline bool is_valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const int n = detail::utf8_sequence_at(text, i);
        if (n < 0) return false;
        i += static_cast<std::size_t>(n);
    }
    return true;
}

/// `text` with each maximal ill-formed subsequence replaced by U+FFFD, as Python's
/// errors="replace" decoding does; well-formed text comes back unchanged.
inline std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const int n = detail::utf8_sequence_at(text, i);
        if (n > 0) {
            out.append(text.substr(i, static_cast<std::size_t>(n)));
            i += static_cast<std::size_t>(n);
        } else {
            out.append(utf8_replacement_character);
            i += static_cast<std::size_t>(-n);
        }
    }
    return out;
}

/// Appends code point `cp` (at most U+10FFFF, not a surrogate) to `out` as UTF-8.
inline void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

/// Decodes the code point at text[i] of well-formed UTF-8 and advances i past it.
inline char32_t next_code_point(std::string_view text, std::size_t& i) {
    const auto b0 = static_cast<std::uint8_t>(text[i]);
    const int n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
    char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1Fu) : n == 3 ? (b0 & 0x0Fu) : (b0 & 0x07u);
    for (int k = 1; k < n && i + static_cast<std::size_t>(k) < text.size(); ++k)
        cp = (cp << 6) | (static_cast<std::uint8_t>(text[i + static_cast<std::size_t>(k)]) & 0x3Fu);
    i = std::min(i + static_cast<std::size_t>(n), text.size());  // never past the end
    return cp;
}

}  // namespace ward::io
