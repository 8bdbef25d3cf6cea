// Byte-level BPE tokenizer, against Hugging Face `tokenizers` (fixtures/make_tokenizer_reference.py):
//   GPT-2 (data/gpt2-tokenizer) on every DecodingTrust text, random byte slices of them and
//   synthetic edge cases (emoji, scripts, whitespace, contractions, special tokens, ill-formed UTF-8);
//   the same vocabulary as a tokenizer.json; a small Llama-3-style tokenizer (Split + ByteLevel,
//   ignore_merges, special tokens) and a hand-made one (ByteLevel with add_prefix_space), both
//   committed; UTF-8 repair against Python's errors="replace"; decode against HF's decode; round trips;
//   out-of-range ids; malformed files; from_dir; and encoding from two threads.
#include <boost/test/unit_test.hpp>

#include <ward/io/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "error_message.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using ward::io::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

const fs::path fixtures = fs::path(__FILE__).parent_path() / "fixtures";
const fs::path data_dir = WARD_DATA_DIR;  // the data shipped in data/
const fs::path gpt2_dir = data_dir / "gpt2-tokenizer";

using ward_test::TempDir;

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

std::string from_hex(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
    std::ifstream in(p);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << p);
    std::vector<nlohmann::json> records;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) records.push_back(nlohmann::json::parse(line));
    return records;
}

/// The DecodingTrust texts by (file, row, field), read as the fixture script reads them.
using Texts = std::map<std::tuple<std::string, int, std::string>, std::string>;
Texts decodingtrust_texts() {
    Texts texts;
    const fs::path dir = data_dir / "decodingtrust";
    {
        std::ifstream in(dir / "training_dataset.jsonl");
        std::string line;
        for (int row = 0; std::getline(in, line); ++row) {
            const auto r = nlohmann::json::parse(line);
            for (const char* field : {"prompt", "continuation"})
                texts[{"training_dataset.jsonl", row, field}] = r[field]["text"].get<std::string>();
        }
    }
    std::ifstream in(dir / "decoding_trust_with_refusals_train.json");
    const auto all = nlohmann::json::parse(in);
    for (int row = 0; row < static_cast<int>(all.size()); ++row) {
        const auto& r = all[static_cast<std::size_t>(row)];
        const std::string src = "decoding_trust_with_refusals_train.json";
        texts[{src, row, "prompt"}] = r["prompt"]["text"].get<std::string>();
        texts[{src, row, "continuation"}] = r["continuation"]["text"].get<std::string>();
        texts[{src, row, "refusal"}] = r["refusal"].get<std::string>();
    }
    return texts;
}

/// One reference case: the input bytes, whether special tokens are matched, HF's ids.
struct Case {
    std::string input;
    bool allow_special = true;
    Ids ids;
    std::optional<std::string> repaired;  // Python's errors="replace" text, for ill-formed input
    std::string label;
};
struct DecodeCase {
    Ids ids;
    std::string text;          // HF's decode
    std::string text_skipped;  // ... with skip_special_tokens
};
struct Reference {
    std::vector<Case> cases;
    std::vector<DecodeCase> decodes;
};

Reference load_reference(const fs::path& p, const Texts* texts) {
    Reference ref;
    int line = 0;
    for (const auto& r : read_jsonl(p)) {
        ++line;
        if (r.contains("decode")) {
            ref.decodes.push_back({r["decode"].get<Ids>(), from_hex(r["hex"].get<std::string>()),
                                   from_hex(r["skip_special_hex"].get<std::string>())});
            continue;
        }
        Case c;
        c.ids = r["ids"].get<Ids>();
        c.allow_special = r.value("special", true);
        c.label = p.filename().string() + ":" + std::to_string(line);
        if (r.contains("hex")) {
            c.input = from_hex(r["hex"].get<std::string>());
        } else {
            if (!texts) continue;
            const auto key = std::make_tuple(r["src"].get<std::string>(), r["row"].get<int>(), r["field"].get<std::string>());
            const auto it = texts->find(key);
            BOOST_REQUIRE_MESSAGE(it != texts->end(), c.label << ": no such DecodingTrust text");
            c.input = it->second;
            if (r.contains("slice")) {
                const auto a = r["slice"][0].get<std::size_t>(), b = r["slice"][1].get<std::size_t>();
                BOOST_REQUIRE(a <= b && b <= c.input.size());
                c.input = c.input.substr(a, b - a);
            }
        }
        if (r.contains("repaired")) c.repaired = from_hex(r["repaired"].get<std::string>());
        ref.cases.push_back(std::move(c));
    }
    return ref;
}

/// Compares every case's ids with HF's; reports the first few differences. Returns the count compared.
std::size_t check_encodings(const Tokenizer& tok, const std::vector<Case>& cases) {
    std::size_t mismatches = 0;
    for (const auto& c : cases) {
        const Ids got = tok.encode(c.input, c.allow_special);
        if (got != c.ids && ++mismatches <= 5)
            BOOST_ERROR(c.label << ": ids differ from HF (" << got.size() << " vs " << c.ids.size() << " ids)");
    }
    BOOST_TEST(mismatches == 0u);
    return cases.size();
}

/// decode (made well-formed as Rust's from_utf8_lossy does) against HF's decode.
void check_decodes(const Tokenizer& tok, const std::vector<DecodeCase>& decodes) {
    BOOST_REQUIRE(!decodes.empty());
    std::size_t mismatches = 0, skipped_mismatches = 0, with_special = 0;
    for (const auto& d : decodes) {
        if (ward::io::sanitize_utf8(tok.decode(d.ids)) != d.text) ++mismatches;
        if (ward::io::sanitize_utf8(tok.decode(d.ids, true)) != d.text_skipped) ++skipped_mismatches;
        if (d.text != d.text_skipped) ++with_special;
    }
    BOOST_TEST(mismatches == 0u);
    BOOST_TEST(skipped_mismatches == 0u);
    BOOST_TEST(with_special > 5u);  // special tokens do occur among the ids
}

/// decode(encode(s)) is s for well-formed s, and the repaired s otherwise.
void check_round_trips(const Tokenizer& tok, const std::vector<Case>& cases) {
    std::size_t failures = 0, repaired = 0;
    std::vector<std::int32_t> stripping;  // added tokens that swallow the whitespace around them
    for (const auto& a : tok.added_tokens())
        if (a.lstrip || a.rstrip) stripping.push_back(a.id);
    for (const auto& c : cases) {
        if (std::find_first_of(c.ids.begin(), c.ids.end(), stripping.begin(), stripping.end()) != c.ids.end()) continue;
        const std::string expected = c.repaired ? *c.repaired : c.input;
        if (c.repaired) {
            ++repaired;
            BOOST_TEST(!ward::io::is_valid_utf8(c.input));
            if (ward::io::sanitize_utf8(c.input) != *c.repaired && ++failures <= 5)
                BOOST_ERROR(c.label << ": sanitize_utf8 differs from Python's errors=\"replace\"");
        } else {
            BOOST_TEST(ward::io::is_valid_utf8(c.input));
        }
        if (tok.decode(tok.encode(c.input, c.allow_special)) != expected && ++failures <= 5)
            BOOST_ERROR(c.label << ": decode(encode(s)) != s");
    }
    BOOST_TEST(failures == 0u);
    BOOST_TEST(repaired > 20u);  // the fixtures do hold ill-formed input
}

Tokenizer gpt2() { return Tokenizer::from_gpt2_files(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe"); }

/// The parse_error message `make` throws (fails the test when it throws nothing).
std::string parse_failure(const std::function<void()>& make) {
    try {
        make();
    } catch (const ward::parse_error& e) {
        return e.what();
    }
    BOOST_ERROR("no parse_error thrown");
    return "";
}

nlohmann::json tiny_json() {
    std::ifstream in(fixtures / "tiny_tokenizer.json");
    return nlohmann::json::parse(in);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_tokenizer)

BOOST_AUTO_TEST_CASE(gpt2_matches_hf_on_decodingtrust_and_edge_cases) {
    const Tokenizer tok = gpt2();
    const Texts texts = decodingtrust_texts();
    const auto ref = load_reference(fixtures / "gpt2_tokenizer_reference.jsonl", &texts);
    const std::size_t n = check_encodings(tok, ref.cases);
    BOOST_TEST_MESSAGE("GPT-2: " << n << " strings compared with HF tokenizers");
    BOOST_TEST(n > 7000u);
    check_decodes(tok, ref.decodes);
    check_round_trips(tok, ref.cases);
}

BOOST_AUTO_TEST_CASE(gpt2_accessors) {
    const Tokenizer tok = gpt2();
    BOOST_TEST(tok.vocab_size() == 50257u);
    BOOST_TEST(tok.token_to_id("<|endoftext|>").value() == 50256);
    BOOST_TEST(tok.token_to_id("\xC4\xA0the").value() == 262);  // "Ġthe"
    BOOST_TEST(!tok.token_to_id("not a token").has_value());
    BOOST_TEST(tok.id_to_token(262) == "\xC4\xA0the");
    BOOST_TEST(tok.bos_id().value() == 50256);
    BOOST_TEST(tok.eos_id().value() == 50256);
    // HF: "Hello world" -> [15496, 995]
    BOOST_TEST((tok.encode("Hello world") == Ids{15496, 995}));
    BOOST_TEST((tok.encode("<|endoftext|>") == Ids{50256}));
    BOOST_TEST(tok.encode("<|endoftext|>", false).size() > 1u);
    BOOST_TEST(tok.encode("").empty());
}

BOOST_AUTO_TEST_CASE(gpt2_as_tokenizer_json_matches_the_original_files) {
    // A GPT-2 tokenizer.json is the same vocabulary with "a b" merges and the ByteLevel settings.
    nlohmann::json vocab;
    std::ifstream(gpt2_dir / "encoder.json") >> vocab;
    nlohmann::json merges = nlohmann::json::array();
    std::ifstream in(gpt2_dir / "vocab.bpe");
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && !line.starts_with("#version")) merges.push_back(line);
    nlohmann::json config = tiny_json();
    config["added_tokens"][0]["id"] = 50256;
    config["pre_tokenizer"]["add_prefix_space"] = false;
    config["model"]["vocab"] = vocab;
    config["model"]["merges"] = merges;
    TempDir dir;
    write_text(dir.path / "tokenizer.json", config.dump());
    const Tokenizer from_json = Tokenizer::from_dir(dir.path);
    const Tokenizer original = gpt2();
    const auto ref = load_reference(fixtures / "gpt2_tokenizer_reference.jsonl", nullptr);
    check_encodings(from_json, ref.cases);
    BOOST_TEST(from_json.eos_id().value() == 50256);
}

BOOST_AUTO_TEST_CASE(llama3_style_matches_hf) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama3_style_tokenizer.json");
    BOOST_TEST(tok.model().ignores_merges());
    BOOST_TEST(tok.pre_tokenizer().steps().size() == 2u);
    const auto ref = load_reference(fixtures / "llama3_style_reference.jsonl", nullptr);
    const std::size_t n = check_encodings(tok, ref.cases);
    BOOST_TEST_MESSAGE("Llama-3-style: " << n << " strings compared with HF tokenizers");
    BOOST_TEST(n > 700u);
    check_decodes(tok, ref.decodes);
    check_round_trips(tok, ref.cases);
    BOOST_TEST(tok.vocab_size() == 904u);
    BOOST_TEST(tok.bos_id().value() == tok.token_to_id("<|begin_of_text|>").value());
    BOOST_TEST(tok.eos_id().value() == tok.token_to_id("<|end_of_text|>").value());
    BOOST_TEST((tok.encode("<|eot_id|>") == Ids{902}));
}

BOOST_AUTO_TEST_CASE(hand_made_tokenizer_matches_hf) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "tiny_tokenizer.json");
    const auto ref = load_reference(fixtures / "tiny_reference.jsonl", nullptr);
    const std::size_t n = check_encodings(tok, ref.cases);
    BOOST_TEST(n > 300u);
    check_decodes(tok, ref.decodes);
    // add_prefix_space: "the world" is spelled as " the world"; decode keeps the space, as HF's does.
    const Ids ids = tok.encode("the world");
    BOOST_TEST(ids.size() == 2u);
    BOOST_TEST(tok.decode(ids) == " the world");
    BOOST_TEST(tok.eos_id().value() == tok.token_to_id("<|endoftext|>").value());
    BOOST_TEST((tok.bos_id() == tok.eos_id()));
}

BOOST_AUTO_TEST_CASE(out_of_range_ids_throw_index_error) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "tiny_tokenizer.json");
    const auto n = static_cast<std::int32_t>(tok.vocab_size());
    for (const std::int32_t bad : {n, n + 1000, -1}) {
        const Ids ids{0, bad};
        try {
            (void)tok.decode(ids);
            BOOST_ERROR("decode of id " << bad << " did not throw");
        } catch (const ward::index_error& e) {
            const std::string msg = e.what();
            BOOST_TEST(msg.find(std::to_string(bad)) != std::string::npos);
            BOOST_TEST(msg.find(std::to_string(n)) != std::string::npos);
        }
    }
    BOOST_CHECK_THROW((void)tok.id_to_token(n), ward::index_error);
    BOOST_TEST(tok.decode(Ids{}).empty());
}

BOOST_AUTO_TEST_CASE(malformed_files_throw_parse_error_naming_the_file) {
    TempDir dir;
    const fs::path p = dir.path / "broken_tokenizer.json";
    auto failure_of = [&](const std::string& contents) {
        write_text(p, contents);
        return parse_failure([&] { (void)Tokenizer::from_hf_json(p); });
    };
    auto failure_with = [&](const std::function<void(nlohmann::json&)>& edit) {
        nlohmann::json j = tiny_json();
        edit(j);
        return failure_of(j.dump());
    };
    auto names = [&](const std::string& msg, const std::string& what) {
        BOOST_TEST_CONTEXT(msg) {
            BOOST_TEST(msg.find(p.string()) != std::string::npos);
            BOOST_TEST(msg.find(what) != std::string::npos);
        }
    };
    names(failure_of("{\"model\": {"), "malformed JSON");
    names(failure_of("[1, 2]"), "not a JSON object");
    names(failure_with([](auto& j) { j.erase("model"); }), "model");
    names(failure_with([](auto& j) { j["model"].erase("vocab"); }), "model.vocab");
    names(failure_with([](auto& j) { j["model"].erase("merges"); }), "model.merges");
    names(failure_with([](auto& j) { j["model"]["type"] = "WordPiece"; }), "WordPiece");
    names(failure_with([](auto& j) { j["model"]["merges"].push_back("Ġ zzzz"); }), "zzzz");
    names(failure_with([](auto& j) { j["model"]["merges"].push_back("onlyone"); }), "onlyone");
    names(failure_with([](auto& j) { j["model"]["merges"].push_back(nlohmann::json::array({"a"})); }), "model.merges");
    names(failure_with([](auto& j) { j["model"]["vocab"]["x"] = "seven"; }), "seven");
    names(failure_with([](auto& j) { j["added_tokens"][0].erase("id"); }), "added token");
    names(failure_with([](auto& j) { j["added_tokens"][0]["id"] = 3000000000LL; }), "added token");
    names(failure_with([](auto& j) { j["added_tokens"][0]["special"] = "yes"; }),
          "field 'added_tokens[0].special' must be true or false, got \"yes\"");
    names(failure_with([](auto& j) { j["model"]["vocab"]["x"] = 1LL << 40; }), "not a token id");
    names(failure_with([](auto& j) { j["model"]["vocab"]["Ġt"] = 0; }), "id 0");  // two tokens share id 0
    names(failure_with([](auto& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }), "Whitespace");
    names(failure_with([](auto& j) { j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}}; }), "Split");
    names(failure_with([](auto& j) { j["decoder"] = {{"type", "WordPiece"}}; }), "decoder");
    names(failure_with([](auto& j) { j["normalizer"] = {{"type", "Lowercase"}}; }), "normalizer");
    BOOST_CHECK_THROW((void)Tokenizer::from_hf_json(dir.path / "missing.json"), ward::io_error);
    BOOST_CHECK_THROW((void)Tokenizer::from_dir(dir.path / "nothing_here"), ward::io_error);

    // GPT-2's original pair of files.
    write_text(dir.path / "encoder.json", R"({"a": 0, "b": 1, "ab": 2})");
    write_text(dir.path / "vocab.bpe", "#version: 0.2\na b\na c\n");
    const std::string msg = parse_failure([&] { (void)Tokenizer::from_gpt2_files(dir.path / "encoder.json", dir.path / "vocab.bpe"); });
    BOOST_TEST(msg.find((dir.path / "vocab.bpe").string()) != std::string::npos);
    BOOST_TEST(msg.find("'c'") != std::string::npos);
    write_text(dir.path / "encoder.json", R"({"a": 0, "b": )");
    const std::string bad_json = parse_failure([&] { (void)Tokenizer::from_gpt2_files(dir.path / "encoder.json", dir.path / "vocab.bpe"); });
    BOOST_TEST(bad_json.find((dir.path / "encoder.json").string()) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(fields_of_the_wrong_type_are_parse_errors_naming_file_and_field) {
    // from_hf_config takes parsed JSON, so nothing around it turns nlohmann's type_error into a
    // ward::error: each field must be checked where it is read.
    struct Case {
        std::function<void(nlohmann::json&)> edit;
        std::string says;
    };
    const std::vector<Case> cases = {
        {[](auto& j) { j["model"]["byte_fallback"] = "no"; }, "field 'model.byte_fallback' must be true or false, got \"no\""},
        {[](auto& j) { j["model"]["ignore_merges"] = 1; }, "field 'model.ignore_merges' must be true or false, got 1"},
        {[](auto& j) { j["decoder"] = {{"type", 7}}; }, "field 'decoder.type' must be a string, got 7"},
        {[](auto& j) { j["normalizer"] = {{"type", nlohmann::json::array()}}; }, "field 'normalizer.type' must be a string, got []"},
        {[](auto& j) { j["added_tokens"][0]["rstrip"] = nlohmann::json::object(); }, "field 'added_tokens[0].rstrip' must be true or false"},
        {[](auto& j) { j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", 3}}; },
         "field 'pre_tokenizer.behavior' must be a string, got 3"},
    };
    for (const auto& c : cases) {
        nlohmann::json j = tiny_json();
        c.edit(j);
        const std::string msg = ward::testing::message_of<ward::parse_error>([&] { (void)Tokenizer::from_hf_config(j, "tok.json"); });
        BOOST_TEST(msg.find("tok.json: ") == 0u, msg);
        BOOST_TEST(msg.find(c.says) != std::string::npos, msg);
    }
}

BOOST_AUTO_TEST_CASE(split_on_a_literal_string_takes_it_verbatim) {
    // {"String": ...} patterns are literal text (PCRE2_LITERAL), so "." is a dot, not any character.
    auto pieces = [](const std::string& behavior, const std::string& text) {
        const nlohmann::json config = {{"type", "Split"}, {"pattern", {{"String", "."}}}, {"behavior", behavior}};
        std::vector<std::string> out;
        ward::io::PreTokenizer::from_json(config, "tok.json").split(text, out);
        return out;
    };
    BOOST_TEST(pieces("Isolated", "a.b..c") == (std::vector<std::string>{"a", ".", "b", ".", ".", "c"}),
               boost::test_tools::per_element());
    BOOST_TEST(pieces("Removed", "a.b..c") == (std::vector<std::string>{"a", "b", "c"}), boost::test_tools::per_element());
    BOOST_TEST(pieces("Isolated", "abc") == (std::vector<std::string>{"abc"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(from_dir_reads_the_config_and_both_layouts) {
    TempDir dir;
    fs::copy_file(fixtures / "llama3_style_tokenizer.json", dir.path / "tokenizer.json");
    write_text(dir.path / "tokenizer_config.json",
               R"({"bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|eot_id|>"})");
    const Tokenizer tok = Tokenizer::from_dir(dir.path);
    BOOST_TEST(tok.bos_id().value() == 900);
    BOOST_TEST(tok.eos_id().value() == 902);
    write_text(dir.path / "tokenizer_config.json", R"({"eos_token": "<|no_such_token|>"})");
    const std::string msg = parse_failure([&] { (void)Tokenizer::from_dir(dir.path); });
    BOOST_TEST(msg.find("tokenizer_config.json") != std::string::npos);

    TempDir gpt2_copy;  // vocab.json + merges.txt, as Hugging Face names GPT-2's two files
    fs::copy_file(gpt2_dir / "encoder.json", gpt2_copy.path / "vocab.json");
    fs::copy_file(gpt2_dir / "vocab.bpe", gpt2_copy.path / "merges.txt");
    const Tokenizer g = Tokenizer::from_dir(gpt2_copy.path);
    BOOST_TEST((g.encode("Hello world") == Ids{15496, 995}));
}

BOOST_AUTO_TEST_CASE(encode_from_two_threads_gives_the_same_ids) {
    // A cold cache, two threads encoding the same strings at once: both must give HF's ids.
    const Tokenizer tok = gpt2();
    const auto ref = load_reference(fixtures / "gpt2_tokenizer_reference.jsonl", nullptr);
    std::vector<Ids> results[2];
    auto work = [&](int t) {
        for (int pass = 0; pass < 3; ++pass)
            for (const auto& c : ref.cases) results[t].push_back(tok.encode(c.input, c.allow_special));
    };
    std::thread a(work, 0), b(work, 1);
    a.join();
    b.join();
    BOOST_REQUIRE(results[0].size() == 3 * ref.cases.size());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < results[0].size(); ++i)
        if (results[0][i] != results[1][i] || results[0][i] != ref.cases[i % ref.cases.size()].ids) ++mismatches;
    BOOST_TEST(mismatches == 0u);
}

BOOST_AUTO_TEST_CASE(long_inputs_stay_linear_and_exact) {
    // A long run of one character and a long word: BPE must finish quickly and round-trip exactly.
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama3_style_tokenizer.json");
    for (const std::string& s : {std::string(200000, ' '), std::string(100000, 'a'), std::string(50000, '\n') + "x"}) {
        const Ids ids = tok.encode(s);
        BOOST_TEST(!ids.empty());
        BOOST_TEST(tok.decode(ids) == s);
    }
}

BOOST_AUTO_TEST_SUITE_END()
