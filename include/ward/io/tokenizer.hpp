#pragma once
// ward::io::Tokenizer: BPE tokenizers giving the same ids as Hugging Face `tokenizers`:
//  - byte-level BPE as GPT-2, Llama-3 and Qwen2 use it;
//  - SentencePiece-style BPE as Llama-2 and Mistral's tokenizer.json describe it (normalizers
//    Prepend/Replace, Metaspace, byte_fallback to <0xNN> tokens, decoders Replace/ByteFallback/Fuse/
//    Strip/Metaspace; see normalizer.hpp, decoder.hpp).
//
//   auto tok = io::Tokenizer::from_dir("models/gpt2");   // tokenizer.json, or encoder.json + vocab.bpe
//   std::vector<std::int32_t> ids = tok.encode("Hello world<|endoftext|>");   // no BOS added
//   auto with_bos = tok.encode("Hello", io::AddSpecialTokens::yes);             // HF's default
//   std::string text = tok.decode(ids);
//
// encode(text) is HF's encode(text, add_special_tokens=False); encode(text, AddSpecialTokens::yes)
// adds what the post-processor says (post_processor.hpp; tokenizer_config.json's add_bos_token /
// add_eos_token override it, as transformers' LlamaTokenizerFast does).
// encode: (1) ill-formed UTF-8 is repaired first, each maximal ill-formed subsequence becoming
// U+FFFD, as Python's bytes.decode("utf-8", "replace") does before text reaches HF (see utf8.hpp);
// (2) added tokens with normalized = false are cut out verbatim; (3) the normalizer runs on the text
// between them, and added tokens with normalized = true, normalized themselves, are cut out of its
// result; (4) the pre-tokenizer splits the rest (PCRE2); (5) BPE encodes each piece.
// decode, byte-level: the raw bytes the tokens spell, so decode(encode(s)) == s for well-formed s; a
// cut through a multi-byte character leaves an incomplete sequence, which sanitize_utf8 turns into
// exactly what HF's decode returns. Otherwise the decoder chain runs on the tokens as in HF.
//
// Qwen2's NFC normalizer is accepted and skipped, which differs from HF only on text that is not
// already in NFC.
// Needs PCRE2 (-lpcre2-8) and nlohmann-json.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/added_tokens.hpp"
#include "ward/io/bpe.hpp"
#include "ward/io/byte_level.hpp"
#include "ward/io/decoder.hpp"
#include "ward/io/json_field.hpp"
#include "ward/io/normalizer.hpp"
#include "ward/io/post_processor.hpp"
#include "ward/io/pretokenizer.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

/// Whether encode adds the post-processor's special tokens (HF's add_special_tokens).
enum class AddSpecialTokens : bool { no = false, yes = true };

class Tokenizer {
public:
    /// A Hugging Face tokenizer.json with a BPE model (byte-level, or SentencePiece-style).
    static Tokenizer from_hf_json(const std::filesystem::path& path) {
        const std::string file = path.string();
        const nlohmann::json root = read_json(path);
        try {
            return from_hf_config(root, file);
        } catch (const nlohmann::json::exception& e) {  // a field of the wrong JSON type
            throw parse_error(file + ": " + e.what());
        }
    }

    /// A parsed tokenizer.json; `file` names it in errors.
    static Tokenizer from_hf_config(const nlohmann::json& root, const std::string& file) {
        if (!root.is_object()) throw parse_error(file + ": the top level is not a JSON object");
        if (!root.contains("model") || !root["model"].is_object()) throw parse_error(file + ": no \"model\" object");
        const auto& model = root["model"];
        if (model.contains("type") && model["type"] != "BPE")
            throw parse_error(file + ": model.type is " + model["type"].dump() + "; only \"BPE\" is supported");
        for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
            if (model.contains(key) && !model[key].is_null() && model[key] != "")
                throw parse_error(file + ": model." + key + " is not supported");
        if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
            throw parse_error(file + ": model.dropout is a training-time option and is not supported");
        Normalizer normalizer = Normalizer::from_json(root.value("normalizer", nlohmann::json()), file);
        PreTokenizer pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", nlohmann::json()), file);
        Decoder decoder = Decoder::from_json(root.value("decoder", nlohmann::json()), file);
        PostProcessor post_processor = PostProcessor::from_json(root.value("post_processor", nlohmann::json()), file);
        // HF's BPE works on characters; byte-level tokenizers get theirs from the ByteLevel
        // pre-tokenizer, which we fold into the model instead. With no ByteLevel anywhere, a file
        // with nothing SentencePiece-like about it either keeps its old reading as byte-level.
        BpeModel::Alphabet alphabet;
        alphabet.byte_fallback = json_field_or(model, "byte_fallback", false, file, "model.");
        alphabet.fuse_unk = json_field_or(model, "fuse_unk", false, file, "model.");
        alphabet.byte_level = pre_tokenizer.has_byte_level() || decoder.has_byte_level() ||
                              (decoder.empty() && normalizer.empty() && !pre_tokenizer.has_metaspace() &&
                               !alphabet.byte_fallback);
        if (alphabet.byte_level && alphabet.byte_fallback)
            throw parse_error(file + ": model.byte_fallback with a ByteLevel pre-tokenizer or decoder is not supported");
        if (alphabet.byte_level && !normalizer.empty())
            throw parse_error(file + ": normalizer " + detail::json_excerpt(root["normalizer"], 200) +
                              " with a byte-level tokenizer is not supported");

        BpeModel::Vocab vocab = vocab_from_json(model.contains("vocab") ? model["vocab"] : nlohmann::json(), file, "model.vocab");
        if (!model.contains("merges") || !model["merges"].is_array()) throw parse_error(file + ": no model.merges array");
        BpeModel::Merges merges;
        merges.reserve(model["merges"].size());
        for (const auto& m : model["merges"]) {
            if (m.is_string()) {  // "a b" (tokenizers < 0.20)
                merges.push_back(split_merge(m.get<std::string>(), file, merges.size() + 1));
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["a", "b"]
                merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
            } else {
                throw parse_error(file + ": model.merges[" + std::to_string(merges.size()) + "] is " +
                                  m.dump().substr(0, 100) + ", not \"a b\" or [\"a\", \"b\"]");
            }
        }
        std::optional<std::int32_t> unk;
        if (model.contains("unk_token") && model["unk_token"].is_string()) {
            const auto it = vocab.find(model["unk_token"].get<std::string>());
            if (it == vocab.end()) throw parse_error(file + ": model.unk_token is not in model.vocab");
            unk = it->second;
        }
        const bool ignore_merges = json_field_or(model, "ignore_merges", false, file, "model.");

        std::vector<AddedToken> added;
        if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
            if (!root["added_tokens"].is_array()) throw parse_error(file + ": added_tokens is not an array");
            for (const auto& t : root["added_tokens"]) {
                const std::string at = "added_tokens[" + std::to_string(added.size()) + "].";
                if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
                    !t["content"].is_string() || t["content"].get<std::string>().empty() || t["id"].get<std::int64_t>() < 0)
                    throw parse_error(file + ": added token " + t.dump().substr(0, 200) +
                                      " needs a non-negative integer \"id\" and a non-empty \"content\"");
                if (t["id"].get<std::int64_t>() > max_token_id)
                    throw parse_error(file + ": added token " + t.dump().substr(0, 200) + " has an implausible id");
                AddedToken a;
                a.id = t["id"].get<std::int32_t>();
                a.content = t["content"].get<std::string>();
                a.special = json_field_or(t, "special", false, file, at);
                a.lstrip = json_field_or(t, "lstrip", false, file, at);
                a.rstrip = json_field_or(t, "rstrip", false, file, at);
                a.single_word = json_field_or(t, "single_word", false, file, at);
                a.normalized = json_field_or(t, "normalized", !a.special, file, at);
                added.push_back(std::move(a));
            }
        }
        Tokenizer tok(BpeModel(std::move(vocab), merges, ignore_merges, unk, file, alphabet), std::move(pre_tokenizer),
                      std::move(added));
        tok.normalizer_ = std::move(normalizer);
        // As HF, tokens marked normalized are looked for as the normalizer spells them (Llama-2's
        // "<s>" as "▁<s>").
        std::vector<AddedToken> normalized_added;
        for (const AddedToken& a : tok.added_.tokens())
            if (a.normalized) {
                normalized_added.push_back(a);
                normalized_added.back().content = tok.normalizer_.apply(a.content);
            }
        tok.normalized_added_ = AddedTokenMatcher(std::move(normalized_added));
        tok.decoder_ = std::move(decoder);
        tok.post_processor_ = std::move(post_processor);
        for (const auto& piece : tok.post_processor_.single())
            for (const std::int32_t id : piece.ids)
                if (id < 0 || static_cast<std::size_t>(id) >= tok.vocab_size_ || !tok.has_token(id))
                    throw parse_error(file + ": post_processor adds id " + std::to_string(id) + ", which has no token");
        tok.guess_bos_eos();
        return tok;
    }

    /// GPT-2's original files: encoder.json (token -> id) and vocab.bpe (merges, one "a b" per line,
    /// after a "#version" comment). <|endoftext|> is a special token, as in GPT-2's tokenizer.json.
    static Tokenizer from_gpt2_files(const std::filesystem::path& encoder_json, const std::filesystem::path& vocab_bpe) {
        BpeModel::Vocab vocab = vocab_from_json(read_json(encoder_json), encoder_json.string(), "the top level");
        std::ifstream in(vocab_bpe, std::ios::binary);
        if (!in) throw io_error(vocab_bpe.string() + ": cannot open for reading");
        BpeModel::Merges merges;
        std::string line;
        std::size_t line_number = 0;
        while (std::getline(in, line)) {
            ++line_number;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty() || line.starts_with("#version")) continue;
            merges.push_back(split_merge(line, vocab_bpe.string(), line_number));
        }
        if (in.bad()) throw io_error(vocab_bpe.string() + ": read failed");
        std::vector<AddedToken> added;
        if (const auto it = vocab.find("<|endoftext|>"); it != vocab.end())
            added.push_back({it->second, "<|endoftext|>", true, false, false, false, false});
        Tokenizer tok(BpeModel(std::move(vocab), merges, false, std::nullopt, vocab_bpe.string()), PreTokenizer::gpt2(),
                      std::move(added));
        tok.guess_bos_eos();
        return tok;
    }

    /// A model directory: tokenizer.json if present, else encoder.json or vocab.json with vocab.bpe or
    /// merges.txt. A tokenizer_config.json there names bos/eos ("bos_token", "eos_token"); its
    /// "add_bos_token" / "add_eos_token", where either is present, replace the post-processor by
    /// [bos] $A [eos] (the one absent counts as false), as transformers' LlamaTokenizerFast does
    /// with them; asking for a bos or eos the config sets to null is a parse_error.
    static Tokenizer from_dir(const std::filesystem::path& dir) {
        namespace fs = std::filesystem;
        auto first_of = [&](std::initializer_list<const char*> names) -> std::optional<fs::path> {
            for (const char* n : names)
                if (fs::exists(dir / n)) return dir / n;
            return std::nullopt;
        };
        Tokenizer tok;
        if (fs::exists(dir / "tokenizer.json")) {
            tok = from_hf_json(dir / "tokenizer.json");
        } else {
            const auto vocab = first_of({"encoder.json", "vocab.json"});
            const auto merges = first_of({"vocab.bpe", "merges.txt"});
            if (!vocab || !merges)
                throw io_error(dir.string() + ": no tokenizer.json, nor encoder.json/vocab.json with vocab.bpe/merges.txt");
            tok = from_gpt2_files(*vocab, *merges);
        }
        if (fs::exists(dir / "tokenizer_config.json")) tok.read_config(dir / "tokenizer_config.json");
        return tok;
    }

    /// The ids of `text`, as HF's encode(text, add_special_tokens=False). With allow_special = false,
    /// special tokens in the text are ordinary text (as HF's encode_special_tokens = True); non-special
    /// added tokens are still matched.
    std::vector<std::int32_t> encode(std::string_view text, bool allow_special = true) const {
        std::string repaired;
        if (!is_valid_utf8(text)) {
            repaired = sanitize_utf8(text);
            text = repaired;
        }
        std::vector<std::int32_t> ids;
        ids.reserve(text.size() / 3 + 1);
        std::vector<std::string> pieces;
        auto encode_plain = [&](std::string_view part, bool at_text_start) {
            if (part.empty()) return;
            pieces.clear();
            pre_tokenizer_.split(part, pieces, at_text_start);
            for (const auto& piece : pieces) model_->encode_piece(piece, ids);
        };
        if (normalizer_.empty()) {  // both passes of added tokens on the text itself
            std::size_t done = 0;
            for (const auto& m : added_.find(text, allow_special)) {
                encode_plain(text.substr(done, m.begin - done), done == 0);
                ids.push_back(m.token->id);
                done = m.end;
            }
            encode_plain(text.substr(done), done == 0);
            return ids;
        }
        auto encode_normalized = [&](std::string_view raw, bool at_text_start) {
            const std::string normalized = normalizer_.apply(raw);
            const std::string_view part = normalized;
            std::size_t done = 0;
            for (const auto& m : normalized_added_.find_pass(part, allow_special, true)) {
                encode_plain(part.substr(done, m.begin - done), at_text_start && done == 0);
                ids.push_back(m.token->id);
                done = m.end;
            }
            encode_plain(part.substr(done), at_text_start && done == 0);
        };
        std::size_t done = 0;
        for (const auto& m : added_.find_pass(text, allow_special, false)) {
            encode_normalized(text.substr(done, m.begin - done), done == 0);
            ids.push_back(m.token->id);
            done = m.end;
        }
        encode_normalized(text.substr(done), done == 0);
        return ids;
    }

    /// As HF's encode(text, add_special_tokens): with AddSpecialTokens::yes the post-processor's
    /// tokens (Llama-2: <s>) are added around the ids.
    std::vector<std::int32_t> encode(std::string_view text, AddSpecialTokens add, bool allow_special = true) const {
        std::vector<std::int32_t> ids = encode(text, allow_special);
        return add == AddSpecialTokens::yes ? post_processor_.apply(std::move(ids)) : ids;
    }

    /// The text `ids` spell (special tokens as their text unless `skip_special`, as HF's
    /// skip_special_tokens); byte-level: the raw bytes. An id without a token is an index_error
    /// naming it and the vocab size.
    std::string decode(std::span<const std::int32_t> ids, bool skip_special = false) const {
        if (!model_->alphabet().byte_level) {
            std::vector<std::string> tokens;
            tokens.reserve(ids.size());
            for (const std::int32_t id : ids) {
                const AddedToken* added = added_token(id);
                if (added && added->normalized && !normalizer_.empty()) {
                    // HF (0.23) spells such a token as the normalizer does (Llama-2: "▁<s>"), and
                    // skip_special_tokens looks for that spelling among the special tokens' contents.
                    std::string spelled = normalizer_.apply(added->content);
                    if (added->special && skip_special && spelled == added->content) continue;
                    tokens.push_back(std::move(spelled));
                    continue;
                }
                if (added && added->special && skip_special) continue;
                tokens.push_back(token_or_throw(id));
            }
            return decoder_.decode(std::move(tokens));
        }
        std::string out;
        out.reserve(ids.size() * 4);
        for (const std::int32_t id : ids) {
            const AddedToken* added = added_token(id);
            if (added && added->special && skip_special) continue;
            byte_level_decode_append(out, added ? added->content : token_or_throw(id));
        }
        return out;
    }

    /// One past the largest id (vocabulary and added tokens).
    std::size_t vocab_size() const { return vocab_size_; }
    /// The id of a token, as spelled in the vocabulary (byte-level: "Ġthe") or an added token's content.
    std::optional<std::int32_t> token_to_id(std::string_view token) const {
        if (const auto it = added_by_content_.find(token); it != added_by_content_.end()) return it->second;
        return model_->id(token);
    }
    /// The token with `id` (byte-level spelling); index_error where there is none.
    const std::string& id_to_token(std::int32_t id) const { return token_or_throw(id); }

    std::optional<std::int32_t> bos_id() const { return bos_; }
    std::optional<std::int32_t> eos_id() const { return eos_; }
    void set_bos_id(std::optional<std::int32_t> id) { bos_ = id; }
    void set_eos_id(std::optional<std::int32_t> id) { eos_ = id; }
    const std::vector<AddedToken>& added_tokens() const { return added_.tokens(); }
    const PreTokenizer& pre_tokenizer() const { return pre_tokenizer_; }
    const Normalizer& normalizer() const { return normalizer_; }
    const Decoder& decoder() const { return decoder_; }
    const PostProcessor& post_processor() const { return post_processor_; }
    void set_post_processor(PostProcessor p) { post_processor_ = std::move(p); }
    const BpeModel& model() const { return *model_; }

    Tokenizer() = default;
    Tokenizer(BpeModel model, PreTokenizer pre_tokenizer, std::vector<AddedToken> added)
        : model_(std::make_shared<const BpeModel>(std::move(model))),
          pre_tokenizer_(std::move(pre_tokenizer)),
          added_(std::move(added)) {
        vocab_size_ = model_->size();
        for (const auto& a : added_.tokens()) vocab_size_ = std::max(vocab_size_, static_cast<std::size_t>(a.id) + 1);
        added_by_id_.assign(vocab_size_, -1);
        const auto& tokens = added_.tokens();
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            added_by_id_[static_cast<std::size_t>(tokens[i].id)] = static_cast<std::int32_t>(i);
            added_by_content_.emplace(tokens[i].content, tokens[i].id);
        }
    }

private:
    // Ids index tables, so a corrupt file's huge id must not make us allocate for it; the largest
    // vocabularies in use hold ~260k tokens.
    static constexpr std::int64_t max_token_id = (1 << 22) - 1;

    std::shared_ptr<const BpeModel> model_ = std::make_shared<const BpeModel>();
    PreTokenizer pre_tokenizer_;
    Normalizer normalizer_;
    Decoder decoder_;
    PostProcessor post_processor_;
    AddedTokenMatcher added_;
    AddedTokenMatcher normalized_added_;  // those with normalized = true, as the normalizer spells them
    std::size_t vocab_size_ = 0;
    std::optional<std::int32_t> bos_, eos_;
    std::vector<std::int32_t> added_by_id_;  // id -> index in added_.tokens(), -1 for vocabulary tokens
    detail::StringMap<std::int32_t> added_by_content_;

    const AddedToken* added_token(std::int32_t id) const {
        if (id < 0 || static_cast<std::size_t>(id) >= added_by_id_.size() || added_by_id_[static_cast<std::size_t>(id)] < 0)
            return nullptr;
        return &added_.tokens()[static_cast<std::size_t>(added_by_id_[static_cast<std::size_t>(id)])];
    }

    bool has_token(std::int32_t id) const { return added_token(id) || model_->token(id); }

    const std::string& token_or_throw(std::int32_t id) const {
        if (const AddedToken* a = added_token(id)) return a->content;  // overrides the vocabulary's spelling
        if (const std::string* t = model_->token(id)) return *t;
        if (id < 0 || static_cast<std::size_t>(id) >= vocab_size_)
            throw index_error("token id " + std::to_string(id) + " is out of range for a vocabulary of " +
                              std::to_string(vocab_size_));
        throw index_error("token id " + std::to_string(id) + " has no token (vocabulary of " + std::to_string(vocab_size_) + ")");
    }

    static nlohmann::json read_json(const std::filesystem::path& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw io_error(path.string() + ": cannot open for reading");
        std::stringstream buffer;
        buffer << in.rdbuf();
        try {
            return nlohmann::json::parse(buffer.str());
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(path.string() + ": malformed JSON: " + e.what());
        }
    }

    static BpeModel::Vocab vocab_from_json(const nlohmann::json& j, const std::string& file, const std::string& where) {
        if (!j.is_object()) throw parse_error(file + ": " + where + " is not an object of token -> id");
        BpeModel::Vocab vocab;
        vocab.reserve(j.size());
        for (const auto& [token, id] : j.items()) {
            if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > max_token_id)
                throw parse_error(file + ": " + where + "[\"" + token + "\"] is " + id.dump() + ", not a token id");
            vocab.emplace(token, id.get<std::int32_t>());
        }
        return vocab;
    }

    static std::pair<std::string, std::string> split_merge(const std::string& merge, const std::string& file, std::size_t line) {
        const auto space = merge.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= merge.size() ||
            merge.find(' ', space + 1) != std::string::npos)
            throw parse_error(file + ": merge " + std::to_string(line) + " \"" + merge + "\" is not two tokens \"a b\"");
        return {merge.substr(0, space), merge.substr(space + 1)};
    }

    /// The usual names: GPT-2's <|endoftext|> is both; Llama-3's <|begin_of_text|> / <|end_of_text|>.
    void guess_bos_eos() {
        auto find = [&](std::initializer_list<const char*> names) -> std::optional<std::int32_t> {
            for (const char* n : names)
                if (const auto it = added_by_content_.find(std::string_view(n)); it != added_by_content_.end()) return it->second;
            return std::nullopt;
        };
        eos_ = find({"<|end_of_text|>", "<|endoftext|>", "</s>"});
        bos_ = find({"<|begin_of_text|>", "<s>", "<|startoftext|>"});
        if (!bos_ && added_.tokens().size() == 1 && added_.tokens()[0].content == "<|endoftext|>") bos_ = eos_;
    }

    void read_config(const std::filesystem::path& path) {
        const nlohmann::json config = read_json(path);
        if (!config.is_object()) throw parse_error(path.string() + ": the top level is not a JSON object");
        auto named = [&](const char* key, std::optional<std::int32_t>& slot) {
            if (!config.contains(key)) return;
            const auto& v = config[key];
            std::string name;
            if (v.is_null()) {
                slot.reset();
                return;
            }
            if (v.is_string()) name = v.get<std::string>();
            else if (v.is_object() && v.contains("content") && v["content"].is_string()) name = v["content"].get<std::string>();
            else throw parse_error(path.string() + ": " + key + " is " + v.dump().substr(0, 100) + ", not a token");
            const auto id = token_to_id(name);
            if (!id) throw parse_error(path.string() + ": " + key + " '" + name + "' is not a token of the tokenizer");
            slot = id;
        };
        named("bos_token", bos_);
        named("eos_token", eos_);
        if (!config.contains("add_bos_token") && !config.contains("add_eos_token")) return;
        const std::string file = path.string();
        // The one not given is false, as in transformers 5 (4.x defaulted add_bos_token to true).
        const bool add_bos = json_field_or(config, "add_bos_token", false, file);
        const bool add_eos = json_field_or(config, "add_eos_token", false, file);
        if (add_bos && !bos_) throw parse_error(file + ": add_bos_token is true but there is no bos_token");
        if (add_eos && !eos_) throw parse_error(file + ": add_eos_token is true but there is no eos_token");
        post_processor_ = PostProcessor::around(add_bos ? std::vector{*bos_} : std::vector<std::int32_t>{},
                                                add_eos ? std::vector{*eos_} : std::vector<std::int32_t>{});
    }
};

}  // namespace ward::io
