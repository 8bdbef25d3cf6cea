// Fuzzes config.json -> TransformerConfig (nn::config_from_hf): the input is the file. A config
// that is accepted must be valid and survive config_to_hf -> config_from_hf unchanged.
#include <cstddef>
#include <cstdint>

#include <ward/nn/hf.hpp>

#include "fuzz_support.hpp"

using namespace ward;

namespace {

bool same(const nn::TransformerConfig& a, const nn::TransformerConfig& b) {
    return a.family == b.family && a.vocab_size == b.vocab_size && a.hidden == b.hidden && a.layers == b.layers &&
           a.heads == b.heads && a.kv_heads == b.kv_heads && a.intermediate == b.intermediate &&
           a.max_positions == b.max_positions && a.norm_eps == b.norm_eps && a.rope_theta == b.rope_theta &&
           a.tie_embeddings == b.tie_embeddings && a.qkv_bias == b.qkv_bias && a.bos_id == b.bos_id && a.eos_id == b.eos_id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
    nn::TransformerConfig c;
    bool accepted = false;
    fuzz::expect_ward_error_only(file.path(), [&] {
        c = nn::config_from_hf(file.path());
        accepted = true;
    });
    if (!accepted) return 0;
    try {
        c.validate();
    } catch (const ward::error& e) {
        fuzz::fail(std::string("config_from_hf accepted an invalid config: ") + e.what());
    }
    fuzz::MemFile again(nn::config_to_hf(c).dump());
    try {
        if (!same(nn::config_from_hf(again.path()), c)) fuzz::fail("config_to_hf -> config_from_hf changed the config");
    } catch (const ward::error& e) {
        fuzz::fail(std::string("config_from_hf refused what config_to_hf wrote: ") + e.what());
    }
    return 0;
}
