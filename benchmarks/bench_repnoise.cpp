// A RepNoise training step (harmful and harmless batch, logit-lens ascent over every layer, MMD
// noise over every layer's MLP output) against a plain fine-tuning step on the harmful half of the
// same batch, both with AdamW, alternating in one loop. Target: RepNoise at most 2.5x the plain step.
// Two passes (harmful and harmless) are 2x by themselves; the logit lens adds L - 1 projections onto
// the vocabulary, so with a large vocabulary the ratio is bounded below by the FLOPs. The variant
// with the ascent on the final layer alone shows what the lens costs.
//
//   bench_repnoise [--device cpu|cuda] [STEPS]
// prints, per configuration, the median seconds of each step, their ratio, and the peak tensor
// memory of each (the host's, or the GPU's with --device cuda in bench_repnoise_gpu, this program
// built by nvcc).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ward/defence.hpp>
#include <ward/device_choice.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

#include "device_clock.hpp"

using namespace ward;

namespace {

struct Config {
    const char* name;
    nn::Family family;
    index_t layers, hidden, heads, vocab, prompt, answer, batch;
};

template <Device D>
void run(const Config& k, int steps) {
    nn::TransformerConfig c;
    c.family = k.family;
    c.vocab_size = k.vocab;
    c.hidden = k.hidden;
    c.layers = k.layers;
    c.heads = c.kv_heads = k.heads;
    c.intermediate = 4 * k.hidden;
    c.max_positions = k.prompt + k.answer + 1;
    nn::CausalLM<float, D> model = nn::to_device<D>(nn::CausalLM<float>(c, 0));
    Generator g(1);
    auto ids = [&](index_t n) {
        std::vector<std::int64_t> v(static_cast<std::size_t>(n));
        for (auto& x : v) x = 2 + std::int64_t(g.uniform() * double(k.vocab - 2)) % (k.vocab - 2);
        return v;
    };
    std::vector<defence::Pair> pairs;
    for (index_t b = 0; b < k.batch; ++b) pairs.push_back({ids(k.prompt), ids(k.answer), ids(k.answer)});
    std::vector<std::size_t> rows(static_cast<std::size_t>(k.batch));
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
    const auto batch = defence::make_paired_batch<float>(pairs, rows, 0).template to<D>();

    auto params = nn::parameters<float, D>(model);
    optim::AdamW<float, D> adam(params, {});
    const auto repnoise = defence::repnoise(1.0, 1e-3);
    // The same with the ascent on the final layer only: what the logit lens costs.
    const auto final_only = defence::stability() - 1.0 * defence::ascent(false) + 1e-3 * defence::mmd_noise();
    auto plain_step = [&] {
        ag::cross_entropy(model.forward(batch.harmful_inputs).logits, batch.harmful_targets).backward();
        adam.step();
        adam.zero_grad();
    };
    auto defence_step = [&](const auto& term, std::uint64_t s) {
        defence::defence_step(model, term, batch, nullptr, s);
        adam.step();
        adam.zero_grad();
    };
    std::vector<double> plain, rep, fin;
    double plain_mb = 0, rep_mb = 0;
    for (int i = 0; i <= steps; ++i) {
        const double base = bench::bytes_in_use<D>();
        stats::reset_peak();
        const double p = bench::timed<D>(plain_step);
        plain_mb = std::max(plain_mb, (bench::peak_bytes<D>() - base) / 1e6);
        stats::reset_peak();
        const double r = bench::timed<D>([&] { defence_step(repnoise, static_cast<std::uint64_t>(i)); });
        rep_mb = std::max(rep_mb, (bench::peak_bytes<D>() - base) / 1e6);
        const double f = bench::timed<D>([&] { defence_step(final_only, static_cast<std::uint64_t>(i)); });
        if (i) {  // the first round warms caches, primitives and the allocator
            plain.push_back(p);
            rep.push_back(r);
            fin.push_back(f);
        }
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double p = median(plain), r = median(rep), f = median(fin);
    std::printf("%-28s plain_s=%.4f repnoise_s=%.4f ratio=%.2f (target <= 2.5) final-layer-ascent ratio=%.2f peak_MB plain=%.1f repnoise=%.1f\n",
                k.name, p, r, r / p, f / p, plain_mb, rep_mb);
}
}  // namespace

int main(int argc, char** argv) try {
    std::string device = "cpu";
    int steps = 10;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--device" && i + 1 < argc) device = argv[++i];
        else if (a.empty() || a.find_first_not_of("0123456789") != std::string::npos || (steps = std::atoi(a.c_str())) <= 0)
            throw value_error("usage: bench_repnoise [--device cpu|cuda] [STEPS > 0], got '" + a + "'");
    }
    return run_on_device(device, "bench_repnoise", "bench_repnoise_gpu", [&]<Device D>() {
        std::printf("device=%s threads=%d steps=%d\n", D::name, backend::cpu::max_threads(), steps);
        run<D>({"demo llama 3x64 V=256 B=8", nn::Family::llama, 3, 64, 4, 256, 8, 14, 8}, steps);
        run<D>({"gpt2 4x256 V=8192 T=128 B=8", nn::Family::gpt2, 4, 256, 4, 8192, 32, 96, 8}, steps);
        return 0;
    });
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_repnoise: %s\n", e.what());
    return 2;
}
