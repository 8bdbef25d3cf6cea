#pragma once
// Added tokens (special tokens such as <|endoftext|>, <|begin_of_text|>): matched verbatim in the
// text before pre-tokenization, leftmost-longest as Hugging Face's AddedVocabulary does, honouring
// its lstrip / rstrip / single_word options. The text between matches goes on to the pre-tokenizer.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ward/io/regex.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

struct AddedToken {
    std::int32_t id = 0;
    std::string content;
    bool special = false;      // skipped by encode(text, allow_special = false)
    bool lstrip = false;       // the match takes in the whitespace before it
    bool rstrip = false;       // ... and after it
    bool single_word = false;  // matches only where no word character touches it
    bool normalized = false;   // HF matches these after the others, in the text between them
};

namespace detail {
/// Rust's char::is_whitespace (the Unicode White_Space property), which HF's lstrip/rstrip use.
constexpr bool is_unicode_whitespace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
}  // namespace detail

class AddedTokenMatcher {
public:
    /// A match of `token` covering text[begin, end) (the span includes stripped whitespace).
    struct Match {
        std::size_t begin, end;
        const AddedToken* token;
    };

    AddedTokenMatcher() = default;
    explicit AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
        for (std::size_t i = 0; i < tokens_.size(); ++i)
            if (!tokens_[i].content.empty())
                by_first_byte_[static_cast<std::uint8_t>(tokens_[i].content[0])].push_back(i);
        for (auto& list : by_first_byte_)  // longest first, so the first hit at a position is the longest
            std::stable_sort(list.begin(), list.end(),
                             [&](std::size_t a, std::size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
    }

    const std::vector<AddedToken>& tokens() const { return tokens_; }
    bool empty() const { return tokens_.empty(); }

    /// The matches in `text` (well-formed UTF-8), left to right, not overlapping; special tokens only
    /// when `allow_special`. As in HF, tokens with normalized = false are found first, then those with
    /// normalized = true in the text between them.
    std::vector<Match> find(std::string_view text, bool allow_special) const {
        std::vector<Match> first, all;
        if (tokens_.empty()) return all;
        find_in(text, 0, text.size(), allow_special, false, first);
        std::size_t done = 0;
        for (const Match& m : first) {
            find_in(text, done, m.begin, allow_special, true, all);
            all.push_back(m);
            done = m.end;
        }
        find_in(text, done, text.size(), allow_special, true, all);
        return all;
    }

    /// One of find's two passes on its own: the matches in `text` of the tokens whose `normalized`
    /// is as given (the tokenizer runs the second pass on normalized text).
    std::vector<Match> find_pass(std::string_view text, bool allow_special, bool normalized) const {
        std::vector<Match> matches;
        if (!tokens_.empty()) find_in(text, 0, text.size(), allow_special, normalized, matches);
        return matches;
    }

private:
    std::vector<AddedToken> tokens_;
    std::array<std::vector<std::size_t>, 256> by_first_byte_;

    /// Leftmost-longest matches within text[from, to) of the tokens whose `normalized` is as given.
    void find_in(std::string_view text, std::size_t from, std::size_t to, bool allow_special, bool normalized,
                 std::vector<Match>& matches) const {
        text = text.substr(0, to);
        std::size_t previous_end = from;
        for (std::size_t i = from; i < text.size();) {
            const AddedToken* hit = nullptr;
            for (std::size_t t : by_first_byte_[static_cast<std::uint8_t>(text[i])]) {
                const AddedToken& token = tokens_[t];
                if ((token.special && !allow_special) || token.normalized != normalized) continue;
                if (text.substr(i).starts_with(token.content) &&
                    (!token.single_word || stands_alone(text, i, i + token.content.size()))) {
                    hit = &token;
                    break;
                }
            }
            if (!hit) {
                ++i;
                continue;
            }
            std::size_t begin = i, end = i + hit->content.size();
            if (hit->lstrip) begin = strip_back(text, begin, previous_end);
            if (hit->rstrip) end = strip_forward(text, end);
            matches.push_back({begin, end, hit});
            previous_end = end;
            i = end;
        }
    }

    static std::size_t strip_back(std::string_view text, std::size_t begin, std::size_t floor) {
        while (begin > floor) {
            std::size_t start = begin - 1;
            while (start > floor && (static_cast<std::uint8_t>(text[start]) & 0xC0) == 0x80) --start;
            std::size_t i = start;
            if (!detail::is_unicode_whitespace(next_code_point(text, i))) break;
            begin = start;
        }
        return begin;
    }
    static std::size_t strip_forward(std::string_view text, std::size_t end) {
        while (end < text.size()) {
            std::size_t i = end;
            if (!detail::is_unicode_whitespace(next_code_point(text, i))) break;
            end = i;
        }
        return end;
    }
    /// HF's single_word test: no alphanumeric or '_' character right before or right after.
    static bool stands_alone(std::string_view text, std::size_t begin, std::size_t end) {
        static const Regex word_char(R"([\p{L}\p{N}_])");
        auto is_word = [&](std::string_view one) {
            bool found = false;
            word_char.for_each_match(one, [&](std::size_t, std::size_t) { found = true; });
            return found;
        };
        if (begin > 0) {
            std::size_t start = begin - 1;
            while (start > 0 && (static_cast<std::uint8_t>(text[start]) & 0xC0) == 0x80) --start;
            if (is_word(text.substr(start, begin - start))) return false;
        }
        if (end < text.size()) {
            std::size_t after = end;
            next_code_point(text, after);
            if (is_word(text.substr(end, after - end))) return false;
        }
        return true;
    }
};

}  // namespace ward::io
