// load_probe DIR f32|bf16: loads a Hugging Face model directory in a fresh process and prints
// "<parameters> <peak resident bytes added by the load>", or exits 77 where /proc cannot say.
// tests/nn/test_load_memory.cpp runs it, so that nothing the test allocated is reused by the load.
#include <cstdio>
#include <string>

#include <ward/core/process_memory.hpp>
#include <ward/nn.hpp>

using namespace ward;

template <FloatElement T>
int probe(const char* dir) {
    const auto before = resident_bytes();
    if (!before || !reset_peak_resident()) return 77;
    auto model = nn::load_causal_lm<T>(dir);
    const auto peak = peak_resident_bytes();
    if (!peak) return 77;
    std::size_t params = 0;
    model.visit([&](const std::string&, ag::Var<T>& v) { params += static_cast<std::size_t>(v.value().numel()); }, "");
    std::printf("%zu %lld\n", params, static_cast<long long>(*peak) - static_cast<long long>(*before));
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: load_probe DIR f32|bf16\n");
        return 2;
    }
    try {
        const std::string dtype = argv[2];
        if (dtype == "f32") return probe<float>(argv[1]);
        if (dtype == "bf16") return probe<bf16>(argv[1]);
        std::fprintf(stderr, "load_probe: unknown dtype '%s'\n", argv[2]);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "load_probe: %s\n", e.what());
        return 1;
    }
}
