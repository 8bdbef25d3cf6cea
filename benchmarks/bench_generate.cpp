// Greedy generation with the KV cache (nn::generate) on a GPT-2-family model with random weights,
// against the same generation recomputing the whole sequence every step (use_cache = false) in the
// same run; benchmarks/torch_generate.py is the PyTorch/transformers peer with the same arguments.
//
//   bench_generate [--device cpu|cuda] [LAYERS EMBD HEADS VOCAB PROMPT NEW]   (default: GPT-2 124M, prompt 16, 16 new)
// prints, for batch 1 and 8, new tokens/s with the cache, without it, and their ratio.
// bench_generate_gpu is this program built by nvcc, whose --device cuda generates on the GPU (the
// peer: torch_generate.py --device cuda); each generate returns the tokens to the host, which waits
// for the GPU, so wall-clock time is the GPU's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ward/device_choice.hpp>
#include <ward/nn.hpp>
#include <ward/tensor.hpp>

using namespace ward;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

int main(int argc, char** argv) {
    std::string device = "cpu";
    std::vector<long> numbers;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--device" && i + 1 < argc) device = argv[++i];
        else numbers.push_back(std::atol(a.c_str()));
    }
    auto arg = [&](std::size_t i, long d) { return numbers.size() > i ? numbers[i] : d; };
    const index_t L = arg(0, 12), C = arg(1, 768), H = arg(2, 12), V = arg(3, 50257), P = arg(4, 16), N = arg(5, 16);
    nn::TransformerConfig cfg;
    cfg.family = nn::Family::gpt2;
    cfg.vocab_size = V;
    cfg.hidden = C;
    cfg.layers = L;
    cfg.heads = cfg.kv_heads = H;
    cfg.intermediate = 4 * C;
    cfg.max_positions = 1024;
    try {
        return run_on_device(device, "bench_generate", "bench_generate_gpu", [&]<Device D>() {
            const nn::CausalLM<float, D> model = nn::to_device<D>(nn::CausalLM<float>(cfg, 0));
            Generator g(1);
            std::printf("ward generate device=%s threads=%d layers=%ld embd=%ld vocab=%ld prompt=%ld new=%ld\n", D::name,
                        backend::cpu::max_threads(), long(L), long(C), long(V), long(P), long(N));
            for (index_t B : {index_t(1), index_t(8)}) {
                std::vector<std::vector<std::int64_t>> prompts(static_cast<std::size_t>(B));
                for (auto& p : prompts)
                    for (index_t t = 0; t < P; ++t) p.push_back(std::int64_t(g.uniform() * double(V)) % V);
                double rate[2] = {0, 0};
                for (int cached = 1; cached >= 0; --cached) {
                    nn::GenerateOptions o;
                    o.max_new_tokens = N;
                    o.use_cache = cached != 0;
                    nn::GenerateOptions warm = o;
                    warm.max_new_tokens = 2;
                    nn::generate(model, prompts, warm);  // creates the primitives
                    double best = 1e30;
                    for (int rep = 0; rep < 2; ++rep) {  // best of two: the machine is shared
                        double t0 = now();
                        auto out = nn::generate(model, prompts, o);
                        best = std::min(best, now() - t0);
                    }
                    rate[cached] = double(B * N) / best;
                }
                std::printf("batch=%ld cached_tokens_per_s=%.1f recompute_tokens_per_s=%.1f ratio_cached/recompute=%.2f\n", long(B),
                            rate[1], rate[0], rate[1] / rate[0]);
            }
            return 0;
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_generate: %s\n", e.what());
        return 1;
    }
}
