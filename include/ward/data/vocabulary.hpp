#pragma once
// A word-level vocabulary for synthetic corpora: one token per space-separated word, with <pad> = 0
// and <eos> = 1. Real text goes through io::Tokenizer; a toy world whose words are its facts reads
// more clearly one word per token.

#include <cstdint>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "ward/core/error.hpp"

namespace ward::data {

class Vocabulary {
public:
    static constexpr std::int64_t pad = 0, eos = 1;

    Vocabulary() {
        add("<pad>");
        add("<eos>");
    }

    /// The word's id, adding it when new.
    std::int64_t add(const std::string& word) {
        if (word.empty() || word.find(' ') != std::string::npos) throw value_error("vocabulary: bad word '" + word + "'");
        auto [it, fresh] = ids_.emplace(word, static_cast<std::int64_t>(words_.size()));
        if (fresh) words_.push_back(word);
        return it->second;
    }
    std::int64_t id(const std::string& word) const {
        auto it = ids_.find(word);
        if (it == ids_.end()) throw value_error("vocabulary: unknown word '" + word + "'");
        return it->second;
    }
    bool contains(const std::string& word) const { return ids_.count(word) != 0; }
    const std::string& word(std::int64_t id) const {
        if (id < 0 || id >= size()) throw index_error("vocabulary: id " + std::to_string(id) + " of " + std::to_string(size()));
        return words_[static_cast<std::size_t>(id)];
    }
    std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }

    std::vector<std::int64_t> encode(const std::string& text) const {
        std::vector<std::int64_t> out;
        std::istringstream in(text);
        for (std::string w; in >> w;) out.push_back(id(w));
        return out;
    }
    /// Words joined by spaces; padding and end-of-sequence are dropped.
    std::string decode(const std::vector<std::int64_t>& ids) const {
        std::string out;
        for (auto i : ids) {
            if (i == pad || i == eos) continue;
            if (!out.empty()) out += ' ';
            out += word(i);
        }
        return out;
    }

private:
    std::vector<std::string> words_;
    std::unordered_map<std::string, std::int64_t> ids_;
};

}  // namespace ward::data
