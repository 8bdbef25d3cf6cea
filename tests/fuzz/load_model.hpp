#pragma once
// The model-directory harnesses' common step: load, and if the files are accepted, run the model.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/nn/hf.hpp>

#include "fuzz_support.hpp"

namespace ward::fuzz {

/// Loads `dir`; a model it accepts must take a forward pass over its first few token ids.
inline void load_and_run(const std::filesystem::path& dir) {
    nn::CausalLM<float> model;
    bool loaded = false;
    expect_ward_error_only(dir.string(), [&] {
        model = nn::load_causal_lm<float>(dir);
        loaded = true;
    });
    if (!loaded) return;
    const auto& c = model.config;
    const index_t n = std::min<index_t>({index_t(3), c.vocab_size, c.family == nn::Family::gpt2 ? c.max_positions : index_t(3)});
    if (n == 0) return;
    std::vector<std::int64_t> ids;
    for (index_t i = 0; i < n; ++i) ids.push_back(i);
    ag::NoGrad no_grad;
    // An error here means the loader accepted files the model cannot use.
    try {
        auto logits = model.forward(Tensor<std::int64_t>::from_vector(ids, {1, n})).logits.value();
        if (!(logits.shape() == Shape{1, n, c.vocab_size})) fail("forward: logits of shape " + logits.shape().str());
    } catch (const ward::error& e) {
        fail(std::string("a model that loaded cannot run: ") + e.what());
    }
}

}  // namespace ward::fuzz
