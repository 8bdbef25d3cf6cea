// Fuzzes the JSON Lines readers (io/jsonl.hpp, defence/text_pairs.hpp, eval/decodingtrust.hpp): the
// input is the file, read by each of them (JSON Lines, or one JSON array of records).
#include <cstddef>
#include <cstdint>

#include <ward/defence/text_pairs.hpp>
#include <ward/eval/decodingtrust.hpp>
#include <ward/io/jsonl.hpp>

#include "fuzz_support.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
    fuzz::expect_ward_error_only(file.path(), [&] { (void)io::read_jsonl(file.path()); });
    fuzz::expect_ward_error_only(file.path(), [&] { (void)io::read_jsonl(file.path(), {.prompt = "a.b.c", .response = "x"}); });
    fuzz::expect_ward_error_only(file.path(), [&] { (void)defence::read_text_pairs(file.path()); });
    fuzz::expect_ward_error_only(file.path(), [&] {
        for (const auto& p : eval::read_decodingtrust_toxicity(file.path()))
            if (p.label != (p.score > 0.5 ? 1 : 0)) fuzz::fail("label disagrees with score");
    });
    fuzz::expect_ward_error_only(file.path(), [&] {
        (void)eval::read_decodingtrust_toxicity(file.path(), {.threshold = 0.1, .attribute = "severe_toxicity", .types = {"toxic"}});
    });
    return 0;
}
