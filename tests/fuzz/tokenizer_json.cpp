// Fuzzes tokenizer.json (io/tokenizer.hpp, io/added_tokens.hpp, io/pretokenizer.hpp, io/bpe.hpp):
// the input is the file and, after fuzz::separator, a text to encode; with a third part, that is a
// tokenizer_config.json and the pair is read as a directory (Tokenizer::from_dir).
#include <cstddef>
#include <cstdint>

#include <ward/io/tokenizer.hpp>

#include "fuzz_support.hpp"
#include "tokenize.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto parts = fuzz::split_input(data, size, 3);
    const std::string_view text = parts.size() > 1 ? parts[1] : std::string_view("Hello world<|endoftext|> 123!");
    io::Tokenizer tok;
    bool loaded = false;
    if (parts.size() == 3) {
        static const fuzz::ScratchDir dir;
        dir.clear();
        dir.write("tokenizer.json", parts[0]);
        dir.write("tokenizer_config.json", parts[2]);
        fuzz::expect_ward_error_only(dir.path().string(), [&] {
            tok = io::Tokenizer::from_dir(dir.path());
            loaded = true;
        });
    } else {
        fuzz::MemFile file(parts[0]);
        fuzz::expect_ward_error_only(file.path(), [&] {
            tok = io::Tokenizer::from_hf_json(file.path());
            loaded = true;
        });
    }
    if (loaded) fuzz::encode_and_decode(tok, text);
    return 0;
}
