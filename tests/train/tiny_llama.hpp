#pragma once
// The tiny Llama the training tests run (GQA, untied head, vocabulary 24): small enough that a
// whole run takes milliseconds, with every part of the family present; and the corpus they train on.
#include <cstdint>
#include <vector>

#include <ward/nn/transformer.hpp>
#include <ward/train/lm_trainer.hpp>

namespace ward_test {

inline ward::nn::TransformerConfig tiny_llama() {
    ward::nn::TransformerConfig c;
    c.family = ward::nn::Family::llama;
    c.vocab_size = 24;
    c.hidden = 32;
    c.layers = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.intermediate = 64;
    c.max_positions = 32;
    c.tie_embeddings = false;
    return c;
}

/// Four fixed "sentences" over the 24-token vocabulary; the first 3 tokens are the prompt.
inline std::vector<ward::train::Example> tiny_corpus() {
    std::vector<std::vector<std::int64_t>> seqs = {{1, 5, 9, 13, 17, 21, 2}, {1, 6, 10, 14, 18, 22, 2},
                                                   {1, 7, 11, 15, 19, 23, 2}, {1, 8, 12, 16, 20, 3, 4, 2}};
    std::vector<ward::train::Example> out;
    for (auto& s : seqs) {
        ward::train::Example e{s, std::vector<std::uint8_t>(s.size(), 1)};
        e.loss_mask[0] = e.loss_mask[1] = e.loss_mask[2] = 0;
        out.push_back(e);
    }
    return out;
}

}  // namespace ward_test
