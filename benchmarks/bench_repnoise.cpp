// A RepNoise training step (harmful and harmless batch, logit-lens ascent over every layer, MMD
// noise over every layer's MLP output) against a plain fine-tuning step on the harmful half of the
// same batch, both with AdamW, alternating in one loop. Target: RepNoise at most 2.5x the plain step.
// Two passes (harmful and harmless) are 2x by themselves; the logit lens adds L - 1 projections onto
// the vocabulary, so with a large vocabulary the ratio is bounded below by the FLOPs. The variant
// with the ascent on the final layer alone shows what the lens costs.
//
//   bench_repnoise [STEPS]
// prints, per configuration, the median seconds of each step, their ratio, and the peak tensor
// memory of each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <ward/defence.hpp>
#include <ward/nn.hpp>
#include <ward/optim.hpp>

using namespace ward;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Config {
    const char* name;
    nn::Family family;
    index_t layers, hidden, heads, vocab, prompt, answer, batch;
};

void run(const Config& k, int steps) {
    nn::TransformerConfig c;
    c.family = k.family;
    c.vocab_size = k.vocab;
    c.hidden = k.hidden;
    c.layers = k.layers;
    c.heads = c.kv_heads = k.heads;
    c.intermediate = 4 * k.hidden;
    c.max_positions = k.prompt + k.answer + 1;
    nn::CausalLM<float> model(c, 0);
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
    auto batch = defence::make_paired_batch<float>(pairs, rows, 0);

    auto params = nn::parameters<float, cpu>(model);
    optim::AdamW<float> adam(params, {});
    const auto repnoise = defence::repnoise(1.0, 1e-3);
    // The same with the ascent on the final layer only: what the logit lens costs.
    const auto final_only = defence::stability() - 1.0 * defence::ascent(false) + 1e-3 * defence::mmd_noise();
    auto plain_step = [&] {
        ag::cross_entropy(model.forward(batch.harmful_inputs).logits, batch.harmful_targets).backward();
        adam.step();
        adam.zero_grad();
    };
    auto defence_step = [&](const auto& term, std::uint64_t s) {
        defence::defence_step<std::decay_t<decltype(term)>, float>(model, term, batch, nullptr, s);
        adam.step();
        adam.zero_grad();
    };
    std::vector<double> plain, rep, fin;
    double plain_mb = 0, rep_mb = 0;
    for (int i = 0; i <= steps; ++i) {
        const auto base = stats::host_bytes_in_use.load();
        stats::reset_peak();
        double t0 = now();
        plain_step();
        double t1 = now();
        plain_mb = std::max(plain_mb, double(stats::host_bytes_peak.load() - base) / 1e6);
        stats::reset_peak();
        double t2 = now();
        defence_step(repnoise, static_cast<std::uint64_t>(i));
        double t3 = now();
        rep_mb = std::max(rep_mb, double(stats::host_bytes_peak.load() - base) / 1e6);
        defence_step(final_only, static_cast<std::uint64_t>(i));
        double t4 = now();
        if (i) {  // the first round warms caches and primitives
            plain.push_back(t1 - t0);
            rep.push_back(t3 - t2);
            fin.push_back(t4 - t3);
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

int main(int argc, char** argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 10;
    std::printf("threads=%d steps=%d\n", backend::cpu::max_threads(), steps);
    run({"demo llama 3x64 V=256 B=8", nn::Family::llama, 3, 64, 4, 256, 8, 14, 8}, steps);
    run({"gpt2 4x256 V=8192 T=128 B=8", nn::Family::gpt2, 4, 256, 4, 8192, 32, 96, 8}, steps);
}
