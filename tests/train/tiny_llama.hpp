#pragma once
// The tiny Llama the training tests run (GQA, untied head, vocabulary 24): small enough that a
// whole run takes milliseconds, with every part of the family present.
#include <ward/nn/transformer.hpp>

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

}  // namespace ward_test
