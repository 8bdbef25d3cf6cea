// One GPT-2 training step on the GPU (forward, backward, AdamW, tied embeddings, tanh GELU), the
// model and the FLOP count of the PyTorch peer benchmarks/torch_gpt_step_gpu.py: CUDA-event timing,
// the median of the steps after a warm-up, tokens/s and MFU against a dense peak (989 TFLOP/s, the
// bf16 figure of an H100/H200 SXM, as the peer uses) counting 6N + 12 L T C FLOPs per token. ward
// runs the step in f32 here (no mixed precision yet), so its MFU is against the bf16 peak the peer
// is measured against, not against f32's. Exits 77 where no GPU exists.
//
//   bench_gpt_step_gpu [LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]]   (default GPT-2 124M, 16 x 1024, 10)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/cuda.cuh>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

using namespace ward;
namespace bc = ward::backend::cuda;

int main(int argc, char** argv) {
    if (!bc::device_available()) {
        std::printf("bench_gpt_step_gpu: no CUDA device found; nothing measured (skipped)\n");
        return 77;
    }
    if (argc != 1 && argc < 7) {
        std::fprintf(stderr, "usage: %s [LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS]]\n", argv[0]);
        return 2;
    }
    auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
    const index_t L = arg(1, 12), C = arg(2, 768), H = arg(3, 12), V = arg(4, 50304), T = arg(5, 1024), B = arg(6, 16);
    const int steps = static_cast<int>(arg(7, 10));
    const double peak_tflops = 989.0;
    nn::TransformerConfig cfg;
    cfg.family = nn::Family::gpt2;
    cfg.vocab_size = V;
    cfg.hidden = C;
    cfg.layers = L;
    cfg.heads = cfg.kv_heads = H;
    cfg.intermediate = 4 * C;
    cfg.max_positions = T;
    nn::CausalLM<float, cuda> model = nn::to_device<cuda>(nn::CausalLM<float>(cfg, 0));
    auto params = nn::parameters<float, cuda>(model);
    optim::AdamWOptions o;
    o.lr = 1e-4;
    optim::AdamW<float, cuda> opt(params, o);
    opt.set_check_finite(false);  // the peer does not check either
    Generator g(1);
    auto random_ids = [&]() {
        std::vector<std::int64_t> v(std::size_t(B * T));
        for (auto& x : v) x = std::int64_t(g.uniform() * double(V)) % V;
        return Tensor<std::int64_t>::from_vector(v, {B, T}).to<cuda>();
    };
    Tensor<std::int64_t, cuda> idx = random_ids(), tgt = random_ids();
    index_t n = 0;
    for (const auto& p : params) n += p.value.numel();
    cudaDeviceProp prop{};
    WARD_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("ward on %s: GPT-2 %lldx%lld, vocab %lld, batch %lld x %lld, f32, AdamW; %lld parameters\n", prop.name,
                (long long)L, (long long)C, (long long)V, (long long)B, (long long)T, (long long)n);

    std::vector<double> times;
    float loss_value = 0;
    for (int i = 0; i <= steps; ++i) {
        bc::Event start, stop;
        start.record();
        opt.zero_grad();
        auto loss = ag::cross_entropy(model.forward(idx).logits, tgt);
        loss.backward();
        opt.step();
        stop.record();
        loss_value = loss.value().item();  // synchronises
        if (i) times.push_back(double(bc::Event::elapsed_ms(start, stop)) * 1e-3);  // step 0 warms the caches
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2];
    const double tokens = double(B * T);
    const double flops_per_token = 6.0 * double(n) + 12.0 * double(L) * double(T) * double(C);
    const double mfu = flops_per_token * tokens / med / (peak_tflops * 1e12);
    std::printf("loss %.4f  step %.2f ms  %.0f tokens/s  MFU %.1f%% (of %.0f TFLOP/s)  device peak %.2f GiB\n", loss_value, med * 1e3,
                tokens / med, 100 * mfu, peak_tflops, double(stats::device_bytes_peak.load()) / double(1ull << 30));
    return 0;
}
