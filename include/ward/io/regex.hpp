#pragma once
// A compiled PCRE2 pattern (UTF + Unicode properties, JIT-compiled where the platform has a JIT),
// for the tokenizer's pre-splitting. The code object is immutable once built, so one Regex may be
// used from many threads; each thread matches with its own match data.
//
// Links with -lpcre2-8 (pkg-config libpcre2-8).

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "ward/core/error.hpp"

namespace ward::io {

namespace detail {
inline std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return "PCRE2 error " + std::to_string(code);
    return reinterpret_cast<const char*>(buffer);
}
struct Pcre2CodeFree {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct Pcre2MatchDataFree {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
/// This thread's match data. One ovector pair is enough for any pattern: only the whole match is
/// read, and PCRE2 fills pair 0 even when a pattern has more groups than the ovector holds.
inline pcre2_match_data* thread_match_data() {
    thread_local std::unique_ptr<pcre2_match_data, Pcre2MatchDataFree> data{pcre2_match_data_create(1, nullptr)};
    if (!data) throw std::bad_alloc();
    return data.get();
}
}  // namespace detail

/// `pattern` with \s and \S spelled as the Unicode White_Space property. Hugging Face's regex engine
/// (Oniguruma) reads \s as White_Space; PCRE2 10.42 with PCRE2_UCP also counts U+180E (Mongolian
/// vowel separator, not White_Space since Unicode 6.3), which splits text differently.
inline std::string with_unicode_white_space(std::string_view pattern) {
    std::string out;
    out.reserve(pattern.size() + 32);
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] != '\\' || i + 1 == pattern.size()) {
            out.push_back(pattern[i]);
            continue;
        }
        const char next = pattern[++i];
        if (next == 's') {
            out += "\\p{White_Space}";
        } else if (next == 'S') {
            out += "\\P{White_Space}";
        } else if (next == 'Q') {  // \Q...\E is literal text
            const auto end = pattern.find("\\E", i + 1);
            const auto stop = end == std::string_view::npos ? pattern.size() : end + 2;
            out.append(pattern.substr(i - 1, stop - (i - 1)));
            i = stop - 1;
        } else {
            out.push_back('\\');
            out.push_back(next);
        }
    }
    return out;
}

class Regex {
public:
    /// Compiles `pattern` (taken literally when `literal`); a bad pattern is a value_error with
    /// PCRE2's message and the offset where it stopped.
    explicit Regex(std::string pattern, bool literal = false) : pattern_(std::move(pattern)) {
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        // PCRE2 refuses PCRE2_UCP beside PCRE2_LITERAL (a literal has no character classes to widen).
        const std::uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
        code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(), options,
                                  &error_code, &error_offset, nullptr));
        if (!code_)
            throw value_error("regex '" + pattern_ + "': " + detail::pcre2_message(error_code) + " at offset " +
                              std::to_string(error_offset));
        jit_ = pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE) == 0;  // no JIT: the interpreter serves
    }

    const std::string& pattern() const { return pattern_; }
    bool jit_compiled() const { return jit_; }

    /// Calls on_match(begin, end) with the byte offsets of each non-empty, non-overlapping match in
    /// `subject`, left to right. `subject` must be well-formed UTF-8 (the caller checks it once, so
    /// PCRE2 need not re-check the rest of the subject at every call, which would be quadratic).
    template <class OnMatch>
    void for_each_match(std::string_view subject, OnMatch&& on_match) const {
        pcre2_match_data* data = detail::thread_match_data();
        const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
        std::size_t offset = 0;
        while (offset <= subject.size()) {
            int rc = pcre2_match(code_.get(), text, subject.size(), offset, PCRE2_NO_UTF_CHECK, data, nullptr);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the interpreter keeps its backtracking on the heap
                rc = pcre2_match(code_.get(), text, subject.size(), offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                                 data, nullptr);
            if (rc == PCRE2_ERROR_NOMATCH) return;
            if (rc < 0)
                throw value_error("regex '" + pattern_ + "' failed on a text of " + std::to_string(subject.size()) +
                                  " bytes at offset " + std::to_string(offset) + ": " + detail::pcre2_message(rc));
            const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
            const std::size_t begin = ovector[0], end = ovector[1];
            if (end > begin) {
                on_match(begin, end);
                offset = end;
            } else {  // an empty match: step over one code point
                if (begin >= subject.size()) return;
                offset = begin + 1;
                while (offset < subject.size() && (static_cast<unsigned char>(subject[offset]) & 0xC0) == 0x80) ++offset;
            }
        }
    }

private:
    std::string pattern_;
    std::unique_ptr<pcre2_code, detail::Pcre2CodeFree> code_;
    bool jit_ = false;
};

}  // namespace ward::io
