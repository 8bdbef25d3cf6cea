// The scale target of a RepNoise step, ward's side of benchmarks/torch_repnoise_7b.py: a
// Llama-2-7B-shaped model (random weights: 32 layers, 4,096 wide, 32 heads, 11,008 MLP, vocab
// 32,000) in bf16, batch 4 x 256 (a 16-token prompt and a 240-token answer on each side), AdamW:
//   - a plain fine-tuning step (next-token cross-entropy on the harmful side);
//   - a RepNoise step, defence::repnoise(1, 1e-3): stability on the harmless side, logit-lens ascent
//     over every layer's output, 5-bandwidth MMD noise on every layer's MLP output.
// Prints the median seconds of each (after one warm-up step), tokens/s of the harmful side, the
// peak tensor memory of each and the ratio RepNoise / plain (target: at most 2.5).
//
//   bench_repnoise_7b [--device cpu|cuda] [--small] [--steps N] [--dtype bf16|f32] [--master-weights]
//                     [--checkpoint]
//   --small           torch_repnoise_7b.py --small's model (2 layers, 64 wide, MLP 172, vocab 512) at
//                     batch 2 x 16: the program checked on the CPU
//   --master-weights  f32 master weights and optimiser state (16 more bytes per parameter); without
//                     it weights, gradients and AdamW state are all bf16, as in the peer
//   --checkpoint      activation checkpointing per block (CausalLM::checkpoint_blocks)
// --device cuda needs the build by nvcc (bench_repnoise_7b_gpu); it exits 77 (skipped) without a GPU.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ward/defence.hpp>
#include <ward/device_choice.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

#include "device_clock.hpp"

using namespace ward;

namespace {

struct Options {
    std::string device = "cpu", dtype = "bf16";
    bool small = false, master_weights = false, checkpoint = false;
    int steps = 5;
};

template <FloatElement T, Device D, class Opt>
int measure(nn::CausalLM<T, D>& model, Opt& adam, const defence::PairedBatch<T, D>& batch, const Options& o) {
    const auto repnoise = defence::repnoise(1.0, 1e-3);
    struct Row {
        const char* name;
        std::vector<double> secs;
        double peak = 0, loss = 0;
    };
    Row rows[2] = {{"plain fine-tuning", {}}, {"RepNoise", {}}};
    for (int r = 0; r < 2; ++r) {
        for (int i = 0; i <= o.steps; ++i) {
            bench::wait_for_device<D>();
            stats::reset_peak();
            const double base = bench::bytes_in_use<D>(), t0 = bench::now();
            double loss = 0;
            if (r == 0) {
                ag::Var<T, D> l = ag::cross_entropy(model.forward(batch.harmful_inputs).logits, batch.harmful_targets);
                l.backward();
                loss = double(static_cast<float>(l.value().item()));
            } else {
                loss = defence::defence_step(model, repnoise, batch, nullptr, static_cast<std::uint64_t>(i)).loss;
            }
            adam.step();
            adam.zero_grad();
            bench::wait_for_device<D>();
            if (!std::isfinite(loss)) {
                std::fprintf(stderr, "bench_repnoise_7b: %s: loss %g at step %d\n", rows[r].name, loss, i);
                return 1;
            }
            if (i == 0) continue;  // warms caches, primitives and the allocator
            rows[r].secs.push_back(bench::now() - t0);
            rows[r].peak = std::max(rows[r].peak, bench::peak_bytes<D>() - base);
            rows[r].loss = loss;
        }
    }
    const double tokens = double(batch.harmful_inputs.numel());
    double median[2];
    for (int r = 0; r < 2; ++r) {
        std::sort(rows[r].secs.begin(), rows[r].secs.end());
        median[r] = rows[r].secs[rows[r].secs.size() / 2];
        std::printf("%s: step %.0f ms, %.0f tokens/s (harmful side), peak %.3f GiB above the model and optimiser, loss %.3f\n",
                    rows[r].name, median[r] * 1e3, tokens / median[r], rows[r].peak / double(1ull << 30), rows[r].loss);
    }
    std::printf("ratio RepNoise / plain: %.2f (target <= 2.5)\n", median[1] / median[0]);
    return 0;
}

template <FloatElement T, Device D>
int run(const Options& o) {
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    index_t batch_size = 4, prompt = 16, answer = 240;
    if (o.small) {
        c.vocab_size = 512, c.hidden = 64, c.intermediate = 172, c.layers = 2, c.heads = c.kv_heads = 4;
        batch_size = 2, prompt = 4, answer = 12;
    } else {
        c.vocab_size = 32000, c.hidden = 4096, c.intermediate = 11008, c.layers = 32, c.heads = c.kv_heads = 32;
        c.norm_eps = 1e-5;
    }
    c.max_positions = 4096;
    c.tie_embeddings = false;
    nn::CausalLM<T, D> model(c, 0);
    model.checkpoint_blocks = o.checkpoint;

    Generator g(1);
    auto ids = [&](index_t n) {
        std::vector<std::int64_t> v(static_cast<std::size_t>(n));
        for (auto& x : v) x = std::int64_t(g.uniform() * double(c.vocab_size)) % c.vocab_size;
        return v;
    };
    std::vector<defence::Pair> pairs;
    std::vector<std::size_t> rows;
    for (index_t b = 0; b < batch_size; ++b) {
        pairs.push_back({ids(prompt), ids(answer), ids(answer)});
        rows.push_back(static_cast<std::size_t>(b));
    }
    const auto batch = defence::make_paired_batch<T>(pairs, rows, 0).template to<D>();

    auto params = nn::parameters<T, D>(model);
    index_t n = 0;
    for (const auto& p : params) n += p.value.numel();
    std::printf("ward on %s: Llama %lldx%lld, %lld parameters, %s%s%s, batch %lld x %lld\n", D::name, (long long)c.layers,
                (long long)c.hidden, (long long)n, o.dtype.c_str(),
                std::is_same_v<T, bf16> ? (o.master_weights ? " with f32 master weights" : " (weights and AdamW state)") : "",
                o.checkpoint ? ", activation checkpointing" : "", (long long)batch_size, (long long)(prompt + answer));
    const optim::AdamWOptions adam_options{.lr = 1e-5};
    if constexpr (std::is_same_v<T, bf16>) {
        if (o.master_weights) {
            optim::MasterWeights<optim::AdamRule<true>, D> adam(params, adam_options);
            return measure(model, adam, batch, o);
        }
    }
    optim::AdamW<T, D> adam(params, adam_options);
    return measure(model, adam, batch, o);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&] {
                if (i + 1 >= argc) throw value_error(a + " needs a value");
                return std::string(argv[++i]);
            };
            if (a == "--device") o.device = value();
            else if (a == "--dtype") o.dtype = value();
            else if (a == "--steps") {
                const std::string v = value();
                if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) throw value_error("--steps takes a count, got '" + v + "'");
                o.steps = std::stoi(v);
            }
            else if (a == "--small") o.small = true;
            else if (a == "--master-weights") o.master_weights = true;
            else if (a == "--checkpoint") o.checkpoint = true;
            else throw value_error("unknown argument '" + a + "'; usage: bench_repnoise_7b [--device cpu|cuda] [--small] [--steps N] "
                                   "[--dtype bf16|f32] [--master-weights] [--checkpoint]");
        }
        if (o.steps < 1) throw value_error("--steps must be at least 1");
        return run_on_device(o.device, "bench_repnoise_7b", "bench_repnoise_7b_gpu", [&]<Device D>() {
            return run_in_dtype(o.dtype, [&]<FloatElement T>() { return run<T, D>(o); });
        });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_repnoise_7b: %s\n", e.what());
        return 1;
    }
}
