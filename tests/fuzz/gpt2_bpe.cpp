// Fuzzes GPT-2's original tokenizer files (Tokenizer::from_gpt2_files: encoder.json and vocab.bpe,
// io/bpe.hpp): the input is encoder.json, vocab.bpe and a text to encode, cut at fuzz::separator.
#include <cstddef>
#include <cstdint>

#include <ward/io/tokenizer.hpp>

#include "fuzz_support.hpp"
#include "tokenize.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parts = fuzz::split_input(data, size, 3);
    fuzz::MemFile encoder(parts[0]), merges(parts.size() > 1 ? parts[1] : std::string_view());
    const std::string_view text = parts.size() > 2 ? parts[2] : std::string_view("Hello world<|endoftext|> 123!");
    io::Tokenizer tok;
    bool loaded = false;
    // Errors name one of the two files; both paths start with /proc/self/fd/.
    fuzz::expect_ward_error_only("/proc/self/fd/", [&] {
        tok = io::Tokenizer::from_gpt2_files(encoder.path(), merges.path());
        loaded = true;
    });
    if (loaded) fuzz::encode_and_decode(tok, text);
    return 0;
}
