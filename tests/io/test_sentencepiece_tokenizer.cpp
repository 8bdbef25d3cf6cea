// SentencePiece-style BPE (Llama-2, Mistral, plain Metaspace) against Hugging Face `tokenizers`
// (fixtures/make_sentencepiece_tokenizer.py): a tokenizer trained there on DecodingTrust, written as
// Llama-2 and as Mistral lay out their tokenizer.json and with a splitting Metaspace, and HF's ids
// (with and without the post-processor's tokens) and decoded text for DecodingTrust slices and edge
// cases (byte fallback, whitespace runs, emoji, CJK, <s>/</s> in the text), added tokens with
// lstrip/rstrip/single_word/normalized, and special tokens read as text; then the pieces one by
// one, the add_bos_token / add_eos_token override from tokenizer_config.json, and malformed files.
#include <boost/test/unit_test.hpp>

#include <ward/io/tokenizer.hpp>

#include <nlohmann/json.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "error_message.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using ward::io::AddSpecialTokens;
using ward::io::Tokenizer;
using Ids = std::vector<std::int32_t>;

namespace {

const fs::path fixtures = fs::path(__FILE__).parent_path() / "fixtures";

std::vector<nlohmann::json> reference() {
    std::ifstream in(fixtures / "sentencepiece_reference.jsonl");
    BOOST_REQUIRE_MESSAGE(in, "cannot open sentencepiece_reference.jsonl");
    std::vector<nlohmann::json> records;
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) records.push_back(nlohmann::json::parse(line));
    return records;
}

/// Compares `tok` with HF on every reference string that has ids under `name` ("llama", "mistral",
/// "metaspace"; the file leaves the last two out where they equal "llama"'s; "llama_normalized" is
/// on the edge cases only): ids without and with special tokens (where the file does not spell them
/// out, HF gave <s> + ids + `suffix`, as the generator checked), decode skipping special tokens,
/// and (edge cases) decode keeping them. Returns the number of strings compared.
std::size_t compare_with_hf(const Tokenizer& tok, const std::string& name, const Ids& suffix = {}) {
    const auto records = reference();
    const std::int32_t bos = tok.token_to_id("<s>").value();
    std::size_t compared = 0, mismatches = 0, kept_compared = 0, byte_fallbacks = 0;
    auto fail = [&](const nlohmann::json& r, const char* what) {
        if (++mismatches <= 8) BOOST_ERROR(name << ": " << what << " differs from HF for " << r["text"].dump());
    };
    for (const auto& r : records) {
        const bool same_as_llama = name == "mistral" || name == "metaspace";
        if (!r.contains(name) && !same_as_llama) continue;
        const std::string text = r["text"].get<std::string>();
        const Ids want = r.contains(name) ? r[name].get<Ids>() : r["llama"].get<Ids>();
        Ids want_special = r.contains(name + "_special") ? r[name + "_special"].get<Ids>() : Ids{bos};
        if (!r.contains(name + "_special")) {
            want_special.insert(want_special.end(), want.begin(), want.end());
            want_special.insert(want_special.end(), suffix.begin(), suffix.end());
        }
        const std::string want_decoded = r.value(name + "_decoded", text);

        const Ids got = tok.encode(text);
        const Ids got_special = tok.encode(text, AddSpecialTokens::yes);
        if (got != want) fail(r, "ids");
        if (got_special != want_special) fail(r, "ids with special tokens");
        if (tok.decode(want_special, true) != want_decoded) fail(r, "decode(skip_special_tokens)");
        if (r.contains(name + "_kept")) {
            ++kept_compared;
            if (tok.decode(want_special) != r[name + "_kept"].get<std::string>()) fail(r, "decode");
        }
        for (const std::int32_t id : want) byte_fallbacks += id >= 3 && id <= 258;
        ++compared;
    }
    BOOST_TEST_MESSAGE(name << "-style: " << compared << " strings compared with HF tokenizers, " << mismatches
                            << " differences");
    BOOST_TEST(mismatches == 0u);
    BOOST_TEST(kept_compared > 50u);
    BOOST_TEST(byte_fallbacks > 10u);  // the fixtures do exercise byte fallback
    return compared;
}

using ward_test::TempDir;

void write_text(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

nlohmann::json llama2_json() {
    std::ifstream in(fixtures / "llama2_style_tokenizer.json");
    return nlohmann::json::parse(in);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_sentencepiece_tokenizer)

BOOST_AUTO_TEST_CASE(llama2_style_matches_hf) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama2_style_tokenizer.json");
    BOOST_TEST(!tok.model().alphabet().byte_level);
    BOOST_TEST(tok.model().alphabet().byte_fallback);
    BOOST_TEST(tok.normalizer().steps().size() == 2u);
    BOOST_TEST(compare_with_hf(tok, "llama") >= 1100u);
}

BOOST_AUTO_TEST_CASE(special_tokens_read_as_text_match_hf) {
    // encode(text, allow_special = false) against HF's encode_special_tokens=True.
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama2_style_tokenizer.json");
    std::size_t compared = 0, mismatches = 0, with_special_text = 0;
    for (const auto& r : reference()) {
        if (!r.contains("llama_as_text")) continue;
        const std::string text = r["text"].get<std::string>();
        if (tok.encode(text, false) != r["llama_as_text"].get<Ids>() && ++mismatches <= 8)
            BOOST_ERROR("ids with special tokens as text differ from HF for " << r["text"].dump());
        with_special_text += text.find("<s>") != std::string::npos;
        ++compared;
    }
    BOOST_TEST_MESSAGE("special tokens as text: " << compared << " strings compared with HF tokenizers");
    BOOST_TEST(mismatches == 0u);
    BOOST_TEST(compared >= 60u);
    BOOST_TEST(with_special_text >= 5u);
}

BOOST_AUTO_TEST_CASE(mistral_style_matches_hf) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "mistral_style_tokenizer.json");
    BOOST_TEST(tok.normalizer().empty());
    BOOST_TEST(tok.pre_tokenizer().steps().size() == 1u);
    BOOST_TEST(compare_with_hf(tok, "mistral") >= 1100u);
}

BOOST_AUTO_TEST_CASE(added_tokens_marked_normalized_match_hf) {
    // HF looks for them in the normalized text, spelled as the normalizer spells them: "▁<s>".
    nlohmann::json j = llama2_json();
    for (auto& t : j["added_tokens"]) t["normalized"] = true;
    const Tokenizer tok = Tokenizer::from_hf_config(j, "normalized.json");
    BOOST_TEST(compare_with_hf(tok, "llama_normalized") >= 60u);
    const Ids spaced = tok.encode("a <s>b");
    BOOST_TEST((std::find(spaced.begin(), spaced.end(), 1) != spaced.end()));
}

BOOST_AUTO_TEST_CASE(lstrip_rstrip_single_word_and_normalized_match_hf) {
    // fixtures/added_token_options_reference.jsonl: both layouts with lstrip and rstrip on their
    // added tokens, normalized and single_word each way, on special tokens amid spaces.
    std::ifstream in(fixtures / "added_token_options_reference.jsonl");
    BOOST_REQUIRE(in);
    std::size_t compared = 0, mismatches = 0;
    std::string line;
    while (std::getline(in, line)) {
        const auto r = nlohmann::json::parse(line);
        nlohmann::json j;
        std::ifstream file(fixtures / (r["layout"] == "llama" ? "llama2_style_tokenizer.json" : "mistral_style_tokenizer.json"));
        file >> j;
        for (auto& t : j["added_tokens"]) {
            t["lstrip"] = t["rstrip"] = true;
            t["normalized"] = r["normalized"];
            t["single_word"] = r["single_word"];
        }
        const Tokenizer tok = Tokenizer::from_hf_config(j, "options.json");
        const std::string text = r["text"].get<std::string>();
        const bool same = tok.encode(text) == r["ids"].get<Ids>() &&
                          tok.decode(tok.encode(text, AddSpecialTokens::yes), true) == r["decoded"].get<std::string>();
        if (!same && ++mismatches <= 8) BOOST_ERROR("differs from HF: " << line);
        ++compared;
    }
    BOOST_TEST_MESSAGE("added-token options: " << compared << " strings compared with HF tokenizers");
    BOOST_TEST(mismatches == 0u);
    BOOST_TEST(compared == 104u);
}

BOOST_AUTO_TEST_CASE(metaspace_split_and_decoder_match_hf) {
    // Metaspace(prepend_scheme "always", split true), decoder [ByteFallback, Metaspace], and
    // TemplateProcessing "<s> $A </s>" inside a Sequence with ByteLevel.
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "metaspace_tokenizer.json");
    BOOST_TEST(tok.decoder().steps().size() == 2u);
    BOOST_TEST(tok.post_processor().single().size() == 3u);
    BOOST_TEST(compare_with_hf(tok, "metaspace", Ids{2}) >= 1100u);
}

BOOST_AUTO_TEST_CASE(byte_fallback_spells_unknown_characters_as_bytes) {
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama2_style_tokenizer.json");
    // "Ω" is U+03A9, UTF-8 CE A9, and not among the 60 characters of the trained alphabet.
    BOOST_TEST(!tok.token_to_id("\xCE\xA9").has_value());
    const Ids ids = tok.encode("\xCE\xA9");
    BOOST_REQUIRE(ids.size() == 3u);
    BOOST_TEST(ids[0] == tok.token_to_id("\xE2\x96\x81").value());
    BOOST_TEST(ids[1] == 3 + 0xCE);  // <0xCE>: the byte tokens sit at ids 3..258
    BOOST_TEST(ids[2] == 3 + 0xA9);
    BOOST_TEST(tok.id_to_token(ids[1]) == "<0xCE>");
    BOOST_TEST(tok.decode(ids) == "\xCE\xA9");
    // A lone byte that is not UTF-8 decodes to U+FFFD per byte, as HF's ByteFallback decoder.
    BOOST_TEST(tok.decode(Ids{3 + 0xCE, 3 + 0xCE}) == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(without_a_decoder_tokens_are_joined_with_spaces) {
    // HF tokenizers 0.23.3 on the Llama-2 layout with "decoder": null gave these.
    nlohmann::json j = llama2_json();
    j["decoder"] = nullptr;
    const Tokenizer tok = Tokenizer::from_hf_config(j, "no_decoder.json");
    BOOST_TEST(!tok.model().alphabet().byte_level);
    const Ids ids = tok.encode("Hello \xCE\xA9", AddSpecialTokens::yes);
    BOOST_TEST((ids == Ids{1, 468, 569, 304, 318, 209, 172}));
    BOOST_TEST(tok.decode(ids, true) == "\xE2\x96\x81H ell o \xE2\x96\x81 <0xCE> <0xA9>");
    BOOST_TEST(tok.decode(ids) == "<s> \xE2\x96\x81H ell o \xE2\x96\x81 <0xCE> <0xA9>");
}

BOOST_AUTO_TEST_CASE(without_byte_fallback_unknown_characters_fuse_into_unk) {
    nlohmann::json j = llama2_json();
    j["model"]["byte_fallback"] = false;
    const Tokenizer fused = Tokenizer::from_hf_config(j, "fused.json");
    const Ids a = fused.encode("\xCE\xA9\xCE\xA9");  // ▁ then two unknown characters
    BOOST_TEST((a == Ids{fused.token_to_id("\xE2\x96\x81").value(), 0}));
    j["model"]["fuse_unk"] = false;
    const Tokenizer unfused = Tokenizer::from_hf_config(j, "unfused.json");
    BOOST_TEST((unfused.encode("\xCE\xA9\xCE\xA9") == Ids{fused.token_to_id("\xE2\x96\x81").value(), 0, 0}));
}

BOOST_AUTO_TEST_CASE(tokenizer_config_add_bos_and_eos_override_the_template) {
    // fixtures/add_bos_eos_reference.json: transformers' LlamaTokenizerFast given add_bos_token /
    // add_eos_token (or neither, keeping tokenizer.json's "<s> $A") on the Mistral-style tokenizer.
    std::ifstream in(fixtures / "add_bos_eos_reference.json");
    const auto reference = nlohmann::json::parse(in);
    const auto texts = reference["texts"].get<std::vector<std::string>>();
    TempDir dir;
    fs::copy_file(fixtures / "mistral_style_tokenizer.json", dir.path / "tokenizer.json");
    std::size_t compared = 0;
    for (const auto& c : reference["cases"]) {
        nlohmann::json config = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
        for (const char* key : {"add_bos_token", "add_eos_token"})
            if (c.contains(key)) config[key] = c[key];
        write_text(dir.path / "tokenizer_config.json", config.dump());
        const Tokenizer tok = Tokenizer::from_dir(dir.path);
        for (std::size_t i = 0; i < texts.size(); ++i) {
            BOOST_TEST((tok.encode(texts[i], AddSpecialTokens::yes) == c["ids"][i].get<Ids>()), config.dump() << " on " << texts[i]);
            ++compared;
        }
    }
    BOOST_TEST(compared == 30u);
    write_text(dir.path / "tokenizer_config.json", R"({"bos_token": null, "add_bos_token": true})");
    const std::string msg = ward::testing::message_of<ward::parse_error>([&] { (void)Tokenizer::from_dir(dir.path); });
    BOOST_TEST(msg.find("tokenizer_config.json") != std::string::npos, msg);
    BOOST_TEST(msg.find("add_bos_token") != std::string::npos, msg);
    write_text(dir.path / "tokenizer_config.json", R"({"add_eos_token": "yes"})");
    const std::string wrong = ward::testing::message_of<ward::parse_error>([&] { (void)Tokenizer::from_dir(dir.path); });
    BOOST_TEST(wrong.find("field 'add_eos_token' must be true or false") != std::string::npos, wrong);
}

BOOST_AUTO_TEST_CASE(malformed_sentencepiece_fields_are_parse_errors_naming_file_and_field) {
    struct Case {
        std::function<void(nlohmann::json&)> edit;
        std::string says;
    };
    const std::vector<Case> cases = {
        {[](auto& j) { j["normalizer"]["normalizers"][0]["prepend"] = 3; }, "field 'normalizer.normalizers[0].prepend' must be a string"},
        {[](auto& j) { j["normalizer"]["normalizers"][1]["pattern"] = {{"Regex", " +"}}; }, "normalizer.normalizers[1].pattern"},
        {[](auto& j) { j["normalizer"]["normalizers"][1] = {{"type", "NFKC"}}; }, "normalizer.normalizers[1]"},
        {[](auto& j) { j["decoder"]["decoders"][3]["start"] = -1; }, "field 'decoder.decoders[3].start'"},
        {[](auto& j) { j["decoder"]["decoders"][0]["content"] = nullptr; }, "missing field 'decoder.decoders[0].content'"},
        {[](auto& j) { j["decoder"]["decoders"][1] = {{"type", "CTC"}}; }, "decoder.decoders[1]"},
        {[](auto& j) { j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<t>"; }, "'<t>', which is not in post_processor.special_tokens"},
        {[](auto& j) { j["post_processor"]["special_tokens"]["<s>"]["ids"] = "1"; }, "post_processor.special_tokens['<s>'].ids"},
        {[](auto& j) { j["post_processor"] = {{"type", "Unknown"}}; }, "post_processor"},
        {[](auto& j) { j["post_processor"]["special_tokens"]["<s>"]["ids"] = {5000}; }, "post_processor adds id 5000"},
        {[](auto& j) { j["model"]["fuse_unk"] = "yes"; }, "field 'model.fuse_unk' must be true or false"},
        {[](auto& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"prepend_scheme", "sometimes"}}; }, "pre_tokenizer.prepend_scheme"},
        {[](auto& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "__"}}; }, "pre_tokenizer.replacement must be one character"},
        {[](auto& j) { j["decoder"] = {{"type", "Metaspace"}, {"replacement", ""}}; }, "decoder.replacement must be one character"},
        {[](auto& j) { j["decoder"]["decoders"][3]["content"] = "ab"; }, "decoder.decoders[3].content must be one character"},
    };
    for (const auto& c : cases) {
        nlohmann::json j = llama2_json();
        c.edit(j);
        const std::string msg = ward::testing::message_of<ward::parse_error>([&] { (void)Tokenizer::from_hf_config(j, "sp.json"); });
        BOOST_TEST(msg.find("sp.json: ") == 0u, msg);
        BOOST_TEST(msg.find(c.says) != std::string::npos, msg);
    }
}

BOOST_AUTO_TEST_CASE(long_inputs_stay_fast_and_round_trip) {
    // With no pre-tokenizer the whole text is one BPE piece; the merge heap keeps it O(n log n).
    const Tokenizer tok = Tokenizer::from_hf_json(fixtures / "llama2_style_tokenizer.json");
    for (const std::string& s : {std::string(200000, 'a'), std::string(100000, ' ') + "x", std::string(30000, '\n')}) {
        const Ids ids = tok.encode(s);
        BOOST_TEST(!ids.empty());
        BOOST_TEST(tok.decode(ids).size() == s.size());  // decode drops the prepended space only
    }
}

BOOST_AUTO_TEST_SUITE_END()
