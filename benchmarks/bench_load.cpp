// Loading a Hugging Face checkpoint: seconds and the peak resident memory the load adds, against the
// weights' bytes in the target dtype. benchmarks/compare_torch_load.sh runs it beside transformers'
// from_pretrained on the same files (benchmarks/torch_load.py), on a Llama-2-7B-shaped checkpoint.
//
//   bench_load DIR [f32|bf16]     prints one line: seconds=... params=... weights_GB=... peak_added_GB=... ratio=...
#include <chrono>
#include <cstdio>
#include <string>

#include <ward/core/process_memory.hpp>
#include <ward/nn.hpp>

using namespace ward;

template <FloatElement T>
int run(const std::string& dir) {
    const auto before = resident_bytes();
    reset_peak_resident();
    const auto start = std::chrono::steady_clock::now();
    auto model = nn::load_causal_lm<T>(dir);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto peak = peak_resident_bytes();
    double params = 0;
    model.visit([&](const std::string&, ag::Var<T>& v) { params += double(v.value().numel()); }, "");
    const double weights = params * double(sizeof(T));
    const double added = before && peak ? double(*peak) - double(*before) : -1;
    std::printf("ward dtype=%s seconds=%.2f params=%.0f weights_GB=%.3f peak_added_GB=%.3f ratio=%.3f\n",
                std::string(dtype_name(dtype_of_v<T>)).c_str(), seconds, params, weights / 1e9, added / 1e9, added / weights);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: bench_load DIR [f32|bf16]\n");
        return 2;
    }
    try {
        const std::string dtype = argc == 3 ? argv[2] : "bf16";
        if (dtype == "bf16") return run<bf16>(argv[1]);
        if (dtype == "f32") return run<float>(argv[1]);
        std::fprintf(stderr, "bench_load: dtype must be f32 or bf16, not '%s'\n", dtype.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_load: %s\n", e.what());
        return 1;
    }
}
