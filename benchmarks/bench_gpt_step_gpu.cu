// One GPT-2 training step on the GPU (forward, backward, AdamW, tied embeddings, tanh GELU), the
// model and the FLOP count of the PyTorch peer benchmarks/torch_gpt_step_gpu.py: CUDA-event timing,
// the median of the steps after a warm-up, tokens/s and MFU against a dense peak (989 TFLOP/s, the
// bf16 figure of an H100/H200 SXM, as the peer uses) counting 6N + 12 L T C FLOPs per token. ward
// runs the step in f32 by default, so its MFU is against the bf16 peak the peer is measured against,
// not against f32's; --dtype bf16 is mixed precision as the peer's autocast is (bf16 weights and
// activations, f32 master weights and AdamW state). Exits 77 where no GPU exists.
//
//   bench_gpt_step_gpu [--dtype f32|bf16] [LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]]   (default GPT-2 124M, 16 x 1024, 10)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/cuda.cuh>
#include <ward/device_choice.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

using namespace ward;
namespace bc = ward::backend::cuda;

namespace {

struct Sizes {
    index_t L, C, H, V, T, B;
    int steps;
};

/// The step in element type T: f32 throughout, or bf16 weights and activations with f32 master
/// weights and AdamW state.
template <FloatElement T>
int measure(const Sizes& z) {
    const auto [L, C, H, V, T_, B, steps] = z;
    const double peak_tflops = 989.0;
    nn::TransformerConfig cfg;
    cfg.family = nn::Family::gpt2;
    cfg.vocab_size = V;
    cfg.hidden = C;
    cfg.layers = L;
    cfg.heads = cfg.kv_heads = H;
    cfg.intermediate = 4 * C;
    cfg.max_positions = T_;
    nn::CausalLM<T, cuda> model = nn::to_dtype<T>(nn::to_device<cuda>(nn::CausalLM<float>(cfg, 0)));
    auto params = nn::parameters<T, cuda>(model);
    optim::AdamWOptions o;
    o.lr = 1e-4;
    optim::MixedPrecision<optim::AdamRule<true>, T, cuda> opt(params, o);  // bf16: f32 master weights, as autocast
    opt.set_check_finite(false);  // the peer does not check either
    Generator g(1);
    auto random_ids = [&]() {
        std::vector<std::int64_t> v(std::size_t(B * T_));
        for (auto& x : v) x = std::int64_t(g.uniform() * double(V)) % V;
        return Tensor<std::int64_t>::from_vector(v, {B, T_}).to<cuda>();
    };
    Tensor<std::int64_t, cuda> idx = random_ids(), tgt = random_ids();
    index_t n = 0;
    for (const auto& p : params) n += p.value.numel();
    cudaDeviceProp prop{};
    WARD_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("ward on %s: GPT-2 %lldx%lld, vocab %lld, batch %lld x %lld, %s, AdamW; %lld parameters\n", prop.name,
                (long long)L, (long long)C, (long long)V, (long long)B, (long long)T_,
                std::is_same_v<T, bf16> ? "bf16 with f32 master weights" : "f32", (long long)n);

    std::vector<double> times;
    double loss_value = 0;
    for (int i = 0; i <= steps; ++i) {
        bc::Event start, stop;
        start.record();
        opt.zero_grad();
        auto loss = ag::cross_entropy(model.forward(idx).logits, tgt);
        loss.backward();
        opt.step();
        stop.record();
        loss_value = double(loss.value().item());  // synchronises
        if (i) times.push_back(double(bc::Event::elapsed_ms(start, stop)) * 1e-3);  // step 0 warms the caches
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2];
    const double tokens = double(B * T_);
    const double flops_per_token = 6.0 * double(n) + 12.0 * double(L) * double(T_) * double(C);
    const double mfu = flops_per_token * tokens / med / (peak_tflops * 1e12);
    std::printf("loss %.4f  step %.2f ms  %.0f tokens/s  MFU %.1f%% (of %.0f TFLOP/s)  device peak %.2f GiB\n", loss_value, med * 1e3,
                tokens / med, 100 * mfu, peak_tflops, double(stats::device_bytes_peak.load()) / double(1ull << 30));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dtype = "f32";
    std::vector<long> numbers;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--dtype" && i + 1 < argc) dtype = argv[++i];
        else numbers.push_back(std::atol(a.c_str()));
    }
    if (!numbers.empty() && numbers.size() < 6) {
        std::fprintf(stderr, "usage: %s [--dtype f32|bf16] [LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]]\n", argv[0]);
        return 2;
    }
    if (!bc::device_available()) {
        std::printf("bench_gpt_step_gpu: no CUDA device found; nothing measured (skipped)\n");
        return 77;
    }
    auto arg = [&](std::size_t i, long fallback) { return numbers.size() > i ? numbers[i] : fallback; };
    const Sizes z{arg(0, 12), arg(1, 768), arg(2, 12), arg(3, 50304), arg(4, 1024), arg(5, 16), static_cast<int>(arg(6, 10))};
    try {
        return run_in_dtype(dtype, [&]<FloatElement T>() { return measure<T>(z); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_gpt_step_gpu: %s\n", e.what());
        return 1;
    }
}
