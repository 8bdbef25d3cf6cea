// One GPT-2-style training step (forward, backward, AdamW, tied embeddings, tanh GELU) in ward, with
// the same command line as the PyTorch peer benchmarks/torch_gpt_step.py, so that
// benchmarks/compare_torch_gpt.sh can run both in one go and print the ratio.
//
//   bench_gpt_step LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS [checkpoint]]
// prints the median seconds per step, tokens/s, the effective GFLOP/s (6 * params * tokens / s) as a
// share of oneDNN's sgemm peak measured in the same process, and the peak tensor memory.
// `checkpoint` turns on activation checkpointing per block (CausalLM::checkpoint_blocks).
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

using namespace ward;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// oneDNN sgemm GFLOP/s at n^3: the machine's practical matmul peak for this thread count.
double sgemm_peak(index_t n) {
    std::vector<float> a(std::size_t(n * n), 0.5f), b(a.size(), 0.25f), c(a.size());
    dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    double best = 1e30;
    for (int i = 0; i < 5; ++i) {
        double t0 = now();
        dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
        best = std::min(best, now() - t0);
    }
    return 2.0 * double(n) * double(n) * double(n) / best * 1e-9;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 7) {
        std::fprintf(stderr, "usage: %s LAYERS EMBD HEADS VOCAB SEQ BATCH [STEPS [checkpoint]]\n", argv[0]);
        return 2;
    }
    const index_t L = std::atol(argv[1]), C = std::atol(argv[2]), H = std::atol(argv[3]), V = std::atol(argv[4]),
                  T = std::atol(argv[5]), B = std::atol(argv[6]);
    const int steps = argc > 7 ? std::atoi(argv[7]) : 5;
    const bool checkpoint = argc > 8 && std::string(argv[8]) == "checkpoint";
    nn::TransformerConfig cfg;
    cfg.family = nn::Family::gpt2;
    cfg.vocab_size = V;
    cfg.hidden = C;
    cfg.layers = L;
    cfg.heads = cfg.kv_heads = H;
    cfg.intermediate = 4 * C;
    cfg.max_positions = T;
    nn::CausalLM<float> model(cfg, 0);
    model.checkpoint_blocks = checkpoint;
    auto params = nn::parameters<float, cpu>(model);
    optim::AdamWOptions o;
    o.lr = 1e-4;
    optim::AdamW<float> opt(params, o);
    opt.set_check_finite(false);  // the peer does not check either
    Generator g(1);
    auto random_ids = [&]() {
        std::vector<std::int64_t> v(std::size_t(B * T));
        for (auto& x : v) x = std::int64_t(g.uniform() * double(V)) % V;
        return Tensor<std::int64_t>::from_vector(v, {B, T});
    };
    Tensor<std::int64_t> idx = random_ids(), tgt = random_ids();
    index_t n = 0;
    for (const auto& p : params) n += p.value.numel();

    std::vector<double> times;
    float loss_value = 0;
    stats::reset_peak();
    const auto base = stats::host_bytes_in_use.load();
    for (int i = 0; i <= steps; ++i) {
        double t0 = now();
        opt.zero_grad();
        auto loss = ag::cross_entropy(model.forward(idx).logits, tgt);
        loss.backward();
        opt.step();
        loss_value = loss.value().item();
        if (i) times.push_back(now() - t0);  // the first step warms caches and primitives
    }
    std::sort(times.begin(), times.end());
    const double med = times[times.size() / 2];
    const double gflops = 6.0 * double(n) * double(B * T) / med * 1e-9;
    const double peak = sgemm_peak(1024);
    std::printf("ward threads=%d params=%lld loss=%.4f%s\n", backend::cpu::max_threads(), static_cast<long long>(n), loss_value,
                checkpoint ? " activation-checkpointing" : "");
    std::printf("step_s=%.4f tokens_per_s=%.1f approx_gflops=%.1f sgemm_peak_gflops=%.1f share=%.0f%% peak_tensor_MB=%.1f\n", med,
                double(B * T) / med, gflops, peak, 100 * gflops / peak,
                double(stats::host_bytes_peak.load() - base) / 1e6);
}
