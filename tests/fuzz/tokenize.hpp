#pragma once
// The tokenizer harnesses' common step: a tokenizer that loads must encode text and decode what it
// encoded.

#include <string_view>
#include <vector>

#include <ward/io/tokenizer.hpp>

#include "fuzz_support.hpp"

namespace ward::fuzz {

/// Encodes `text` (matching special tokens in it or not; with the post-processor's tokens) and decodes the ids. Encoding may fail with a
/// ward::error (a user's Split pattern can exceed PCRE2's match limit), decoding its ids may not.
inline void encode_and_decode(const io::Tokenizer& tok, std::string_view text) {
    for (bool allow_special : {true, false}) {
        std::vector<std::int32_t> ids;
        expect_ward_error_only("", [&] { ids = tok.encode(text, io::AddSpecialTokens::yes, allow_special); });
        try {
            for (std::int32_t id : ids)
                if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size()) fail("encode gave id " + std::to_string(id));
            (void)tok.decode(ids);
            (void)tok.decode(ids, /*skip_special=*/true);
        } catch (const ward::error& e) {
            fail(std::string("decode refused ids that encode gave: ") + e.what());
        }
    }
}

}  // namespace ward::fuzz
