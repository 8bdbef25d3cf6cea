// Fuzzes loading a sharded Hugging Face model directory (model.safetensors.index.json and its
// shards, nn::load_causal_lm): the input is config.json, the index and the shards, cut at
// fuzz::separator; shard k of n is written as model-0000k-of-0000n.safetensors, the names the
// seeds' indexes use. A model that loads must run a forward pass.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include <ward/autograd.hpp>
#include <ward/nn/hf.hpp>

#include "fuzz_support.hpp"
#include "load_model.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fuzz::ScratchDir dir;
    dir.clear();
    const auto parts = fuzz::split_input(data, size, 2 + 8);
    dir.write("config.json", parts[0]);
    if (parts.size() > 1) dir.write("model.safetensors.index.json", parts[1]);
    const std::size_t shards = parts.size() > 2 ? parts.size() - 2 : 0;
    for (std::size_t k = 1; k <= shards; ++k) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, shards);
        dir.write(name, parts[k + 1]);
    }
    fuzz::load_and_run(dir.path());
    return 0;
}
