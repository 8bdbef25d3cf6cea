// Fuzzes loading a Hugging Face model directory with one weights file (nn::load_causal_lm): the
// input is config.json and model.safetensors, cut at fuzz::separator. A model that loads must run
// a forward pass.
#include <cstddef>
#include <cstdint>

#include <ward/autograd.hpp>
#include <ward/nn/hf.hpp>

#include "fuzz_support.hpp"
#include "load_model.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const fuzz::ScratchDir dir;
    dir.clear();
    const auto parts = fuzz::split_input(data, size, 2);
    dir.write("config.json", parts[0]);
    if (parts.size() > 1) dir.write("model.safetensors", parts[1]);
    fuzz::load_and_run(dir.path());
    return 0;
}
