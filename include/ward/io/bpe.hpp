#pragma once
// BPE as Hugging Face `tokenizers` runs it, in one of two alphabets:
//  - byte-level (GPT-2, Llama-3, Qwen2): a piece of raw bytes is spelled in the byte-level alphabet,
//    one symbol per byte;
//  - characters (SentencePiece-style: Llama-2, Mistral): one symbol per UTF-8 character; a character
//    missing from the vocabulary becomes its bytes as <0xNN> tokens (byte_fallback), else the unk
//    token (runs of unknown characters fused into one with fuse_unk).
// Adjacent symbols are merged, lowest merge rank first (leftmost among equal ranks), until no
// adjacent pair has a merge. This is the order Hugging Face `tokenizers`
// merges in: a min-heap of candidate pairs over a linked list of symbols, O(n log n) per piece.
// Pieces seen before come from a bounded cache shared by all threads.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ward/core/error.hpp"
#include "ward/io/byte_level.hpp"
#include "ward/io/utf8.hpp"

namespace ward::io {

namespace detail {
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

/// Encoded pieces, keyed by their raw bytes; emptied when full (so memory stays bounded on any input).
class PieceCache {
public:
    static constexpr std::size_t capacity = 1 << 16;
    static constexpr std::size_t longest_piece = 256;  // longer pieces are rare and not worth keeping

    bool find(std::string_view piece, std::vector<std::int32_t>& out) const {
        std::shared_lock lock(mutex_);
        const auto it = map_.find(piece);
        if (it == map_.end()) return false;
        out.insert(out.end(), it->second.begin(), it->second.end());
        return true;
    }
    void insert(std::string_view piece, const std::int32_t* ids, std::size_t count) {
        if (piece.size() > longest_piece) return;
        std::unique_lock lock(mutex_);
        if (map_.size() >= capacity) map_.clear();
        map_.try_emplace(std::string(piece), ids, ids + count);
    }

private:
    mutable std::shared_mutex mutex_;
    StringMap<std::vector<std::int32_t>> map_;
};
}  // namespace detail

/// How a piece becomes its first BPE symbols (see the header comment).
struct BpeAlphabet {
    bool byte_level = true;
    bool byte_fallback = false;  // characters only
    bool fuse_unk = false;       // characters only
};

class BpeModel {
public:
    using Vocab = detail::StringMap<std::int32_t>;
    using Merges = std::vector<std::pair<std::string, std::string>>;

    using Alphabet = BpeAlphabet;

    BpeModel() = default;

    /// `vocab`: token (byte-level spelling) -> id; `merges`: pairs in rank order. `ignore_merges`
    /// (Llama-3): a piece that is itself a token is that token, whatever the merges would make of it.
    /// A merge naming a token not in the vocab, or whose result is not in it, is a parse_error
    /// naming `file` and the merge's line (1-based rank).
    BpeModel(Vocab vocab, const Merges& merges, bool ignore_merges, std::optional<std::int32_t> unk_id,
             const std::string& file, Alphabet alphabet = {})
        : vocab_(std::move(vocab)), ignore_merges_(ignore_merges), unk_id_(unk_id), alphabet_(alphabet) {
        std::int32_t max_id = -1;
        for (const auto& [token, id] : vocab_) {
            if (id < 0) throw parse_error(file + ": token '" + token + "' has a negative id " + std::to_string(id));
            max_id = std::max(max_id, id);
        }
        tokens_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
        has_token_.assign(tokens_.size(), false);
        for (const auto& [token, id] : vocab_) {
            const auto i = static_cast<std::size_t>(id);
            if (has_token_[i])
                throw parse_error(file + ": id " + std::to_string(id) + " is given to both '" + tokens_[i] +
                                  "' and '" + token + "'");
            tokens_[i] = token;
            has_token_[i] = true;
        }
        const auto& spell = byte_level_spellings();
        for (unsigned b = 0; b < 256; ++b) {
            static constexpr char hex[] = "0123456789ABCDEF";
            const std::string fallback = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
            const auto it = vocab_.find(alphabet_.byte_level ? spell[b] : fallback);
            byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
        }
        merges_.reserve(merges.size());
        for (std::size_t rank = 0; rank < merges.size(); ++rank) {
            const std::string& left = merges[rank].first;  // not a structured binding: clang < 16 cannot capture one
            const std::string& right = merges[rank].second;
            auto id_of = [&](const std::string& token) {
                const auto it = vocab_.find(token);
                if (it == vocab_.end())
                    throw parse_error(file + ": merge " + std::to_string(rank + 1) + " ('" + left + "' '" + right +
                                      "') names '" + token + "', which is not in the vocabulary");
                return it->second;
            };
            const std::int32_t a = id_of(left), b = id_of(right), merged = id_of(left + right);
            // As in HF, a repeated pair keeps its last rank.
            merges_.insert_or_assign(pair_key(a, b), Merge{static_cast<std::uint32_t>(rank), merged});
        }
    }

    /// One past the largest id.
    std::size_t size() const { return tokens_.size(); }
    std::size_t merge_count() const { return merges_.size(); }
    const Alphabet& alphabet() const { return alphabet_; }
    bool ignores_merges() const { return ignore_merges_; }

    std::optional<std::int32_t> id(std::string_view token) const {
        const auto it = vocab_.find(token);
        if (it == vocab_.end()) return std::nullopt;
        return it->second;
    }
    /// The token with `id`, or nullptr where the vocabulary has none.
    const std::string* token(std::int32_t id) const {
        if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size() || !has_token_[static_cast<std::size_t>(id)])
            return nullptr;
        return &tokens_[static_cast<std::size_t>(id)];
    }

    /// Appends the ids of one pre-tokenized piece (raw bytes) to `out`.
    void encode_piece(std::string_view piece, std::vector<std::int32_t>& out) const {
        if (piece.empty()) return;
        if (cache_->find(piece, out)) return;
        const std::size_t first = out.size();
        encode_uncached(piece, out);
        cache_->insert(piece, out.data() + first, out.size() - first);
    }

private:
    struct Merge {
        std::uint32_t rank;
        std::int32_t merged;
    };
    struct Symbol {
        std::int32_t id;  // -1 once merged into its left neighbour
        std::int32_t prev, next;
    };
    struct Candidate {
        std::uint32_t rank;
        std::int32_t pos;  // the left symbol; ties go to the leftmost, as in HF
        std::int32_t left, right, merged;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };

    static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
        return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
    }

    void encode_uncached(std::string_view piece, std::vector<std::int32_t>& out) const {
        if (ignore_merges_) {
            if (const auto whole = vocab_.find(alphabet_.byte_level ? byte_level_encode(piece) : std::string(piece));
                whole != vocab_.end()) {
                out.push_back(whole->second);
                return;
            }
        }
        thread_local std::vector<Symbol> symbols;
        thread_local std::vector<Candidate> heap;
        symbols.clear();
        heap.clear();
        auto add = [&](std::int32_t id) {
            const auto n = static_cast<std::int32_t>(symbols.size());
            symbols.push_back({id, n - 1, n + 1});
        };
        if (alphabet_.byte_level) {
            for (char c : piece) {
                std::int32_t id = byte_ids_[static_cast<std::uint8_t>(c)];
                if (id < 0) {
                    if (!unk_id_) continue;  // HF drops a symbol it cannot spell when there is no unk token
                    id = *unk_id_;
                }
                add(id);
            }
        } else {
            first_symbols_by_character(piece, add);
        }
        if (symbols.empty()) return;
        symbols.back().next = -1;

        const auto greater = std::greater<Candidate>{};
        auto consider = [&](std::int32_t pos) {
            const std::int32_t next = symbols[static_cast<std::size_t>(pos)].next;
            if (next < 0) return;
            const std::int32_t a = symbols[static_cast<std::size_t>(pos)].id, b = symbols[static_cast<std::size_t>(next)].id;
            const auto it = merges_.find(pair_key(a, b));
            if (it == merges_.end()) return;
            heap.push_back({it->second.rank, pos, a, b, it->second.merged});
            std::push_heap(heap.begin(), heap.end(), greater);
        };
        for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(symbols.size()); ++i) consider(i);

        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), greater);
            const Candidate c = heap.back();
            heap.pop_back();
            Symbol& left = symbols[static_cast<std::size_t>(c.pos)];
            if (left.id != c.left || left.next < 0) continue;  // stale: the pair has changed since
            Symbol& right = symbols[static_cast<std::size_t>(left.next)];
            if (right.id != c.right) continue;
            left.id = c.merged;
            right.id = -1;
            left.next = right.next;
            if (left.next >= 0) symbols[static_cast<std::size_t>(left.next)].prev = c.pos;
            if (left.prev >= 0) consider(left.prev);
            consider(c.pos);
        }
        for (std::int32_t i = 0; i >= 0; i = symbols[static_cast<std::size_t>(i)].next)
            out.push_back(symbols[static_cast<std::size_t>(i)].id);
    }

    /// HF's BPE::merge_word before merging, quirks included: a pending unk is emitted only when the
    /// next character is in the vocabulary (or at the end), so it may follow byte-fallback tokens.
    template <class Add>
    void first_symbols_by_character(std::string_view piece, Add&& add) const {
        std::optional<std::int32_t> pending_unk;
        for (std::size_t i = 0; i < piece.size();) {
            const std::size_t begin = i;
            next_code_point(piece, i);
            const std::string_view character = piece.substr(begin, i - begin);
            if (const auto it = vocab_.find(character); it != vocab_.end()) {
                if (pending_unk) add(*std::exchange(pending_unk, std::nullopt));
                add(it->second);
                continue;
            }
            if (alphabet_.byte_fallback &&
                std::all_of(character.begin(), character.end(), [&](char c) { return byte_ids_[static_cast<std::uint8_t>(c)] >= 0; })) {
                for (char c : character) add(byte_ids_[static_cast<std::uint8_t>(c)]);
                continue;
            }
            if (!unk_id_) continue;  // HF drops a character it cannot spell when there is no unk token
            if (pending_unk && !alphabet_.fuse_unk) add(*pending_unk);
            pending_unk = *unk_id_;
        }
        if (pending_unk) add(*pending_unk);
    }

    Vocab vocab_;
    std::vector<std::string> tokens_;
    std::vector<bool> has_token_;
    std::array<std::int32_t, 256> byte_ids_ = [] {  // -1: the vocabulary cannot spell the byte
        std::array<std::int32_t, 256> ids;
        ids.fill(-1);
        return ids;
    }();
    std::unordered_map<std::uint64_t, Merge> merges_;
    bool ignore_merges_ = false;
    std::optional<std::int32_t> unk_id_;
    Alphabet alphabet_;
    std::shared_ptr<detail::PieceCache> cache_ = std::make_shared<detail::PieceCache>();
};

}  // namespace ward::io
