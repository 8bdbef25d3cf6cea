// An MLP training step (forward, backward, AdamW) through the autograd tape against the same
// matmuls and element-wise passes called directly, with the backward written out by hand. The
// difference is the tape's overhead (nodes, closures, topological sort, gradient bookkeeping).
// Target: the tape step at least 85% as fast as the direct one. Peak tensor memory is reported
// for both.
//
// Run: OMP_NUM_THREADS=2 ./bench_autograd   (prints a summary of the ratio at the end)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include <ward/autograd.hpp>
#include <ward/optim.hpp>
#include <ward/tensor.hpp>

using namespace ward;

namespace {

constexpr index_t batch = 256, in_dim = 784, hidden = 512, classes = 10;

struct Data {
    Tensor<float> x;
    Tensor<std::int64_t> y;
    Data() {
        Generator g(3);
        x = normal<float>(g, {batch, in_dim});
        std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
        for (index_t i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = i % classes;
        y = Tensor<std::int64_t>::from_vector(labels, {batch});
    }
};
const Data& data() {
    static Data d;
    return d;
}

/// Weights (out, in) and biases of the three layers, initialised the same way for both sides.
struct Weights {
    Tensor<float> w[3], b[3];
    Weights() {
        Generator g(1);
        const index_t dims[4] = {in_dim, hidden, hidden, classes};
        for (int l = 0; l < 3; ++l) {
            w[l] = normal<float>(g, {dims[l + 1], dims[l]}, 0.0f, 1.0f / std::sqrt(float(dims[l])));
            b[l] = Tensor<float>::zeros({dims[l + 1]});
        }
    }
};

optim::AdamW<float> make_adamw(const optim::ParameterList<float>& params) {
    optim::AdamWOptions opt;
    opt.lr = 1e-3;
    opt.weight_decay = 0.01;
    return optim::AdamW<float>(params, opt);
}

void BM_tape_step(benchmark::State& st) {
    Weights init;
    ag::Var<float> w[3], b[3];
    optim::ParameterList<float> params;
    for (int l = 0; l < 3; ++l) {
        w[l] = ag::Var<float>(init.w[l], true);
        b[l] = ag::Var<float>(init.b[l], true);
        params.push_back(w[l].parameter("w" + std::to_string(l)));
        params.push_back(b[l].parameter("b" + std::to_string(l)));
    }
    auto opt = make_adamw(params);
    const Data& d = data();
    stats::reset_peak();
    auto base = stats::host_bytes_in_use.load();
    for (auto _ : st) {
        ag::Var<float> x(d.x);
        ag::Var<float> h1 = ag::linear(x, w[0], b[0], Activation::gelu_tanh);
        ag::Var<float> h2 = ag::linear(h1, w[1], b[1], Activation::gelu_tanh);
        ag::Var<float> logits = ag::linear(h2, w[2], b[2]);
        ag::Var<float> loss = ag::cross_entropy(logits, d.y);
        loss.backward();
        opt.step();
        opt.zero_grad();
    }
    st.counters["peak_MB"] = double(stats::host_bytes_peak.load() - base) / 1e6;
}

void BM_direct_step(benchmark::State& st) {
    Weights init;
    Tensor<float> gw[3], gb[3];
    optim::ParameterList<float> params;
    for (int l = 0; l < 3; ++l) {
        gw[l] = Tensor<float>::zeros(init.w[l].shape());
        gb[l] = Tensor<float>::zeros(init.b[l].shape());
        params.push_back({"w" + std::to_string(l), init.w[l], gw[l]});
        params.push_back({"b" + std::to_string(l), init.b[l], gb[l]});
    }
    auto opt = make_adamw(params);
    const Data& d = data();
    Tensor<float> iota = cast<float>(Tensor<std::int64_t>::arange(classes)) * 1.0f;
    Tensor<float> target = cast<float>(d.y.reshape({batch, 1})) * 1.0f;
    stats::reset_peak();
    auto base = stats::host_bytes_in_use.load();
    for (auto _ : st) {
        // forward: z = x W^T + b (bias fused), h = gelu(z)
        Tensor<float> z1 = matmul(d.x, init.w[0].transpose(), init.b[0]);
        Tensor<float> h1 = gelu_tanh(z1);
        Tensor<float> z2 = matmul(h1, init.w[1].transpose(), init.b[1]);
        Tensor<float> h2 = gelu_tanh(z2);
        Tensor<float> logits = matmul(h2, init.w[2].transpose(), init.b[2]);
        Tensor<float> lse = logsumexp(logits, -1, true);
        Tensor<float> picked = sum(logits * eq(iota, target), -1, true);
        float loss = sum(lse - picked).item() / float(batch);
        benchmark::DoNotOptimize(loss);
        // backward
        Tensor<float> g3 = (exp(logits - lse) - eq(iota, target)) * (1.0f / float(batch));
        gw[2].assign(matmul(g3.transpose(), h2));
        gb[2].assign(sum(g3, 0));
        Tensor<float> g2 = matmul(g3, init.w[2]) * gelu_tanh_grad(z2);
        gw[1].assign(matmul(g2.transpose(), h1));
        gb[1].assign(sum(g2, 0));
        Tensor<float> g1 = matmul(g2, init.w[1]) * gelu_tanh_grad(z1);
        gw[0].assign(matmul(g1.transpose(), d.x));
        gb[0].assign(sum(g1, 0));
        opt.step();
        opt.zero_grad();
    }
    st.counters["peak_MB"] = double(stats::host_bytes_peak.load() - base) / 1e6;
}

BENCHMARK(BM_direct_step)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_tape_step)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

class Recorder : public benchmark::ConsoleReporter {
public:
    std::map<std::string, std::pair<double, double>> seen;  // name -> (ms, peak MB)
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.run_type != Run::RT_Iteration) continue;
            auto it = r.counters.find("peak_MB");
            seen[r.benchmark_name()] = {r.GetAdjustedRealTime(), it == r.counters.end() ? 0.0 : double(it->second)};
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    Recorder rec;
    benchmark::RunSpecifiedBenchmarks(&rec);
    auto direct = rec.seen["BM_direct_step/min_time:2.000/real_time"], tape = rec.seen["BM_tape_step/min_time:2.000/real_time"];
    if (direct.first > 0 && tape.first > 0) {
        std::printf("\nsummary (threads=%d, MLP %lld-%lld-%lld-%lld, batch %lld)\n", backend::cpu::max_threads(),
                    static_cast<long long>(in_dim), static_cast<long long>(hidden), static_cast<long long>(hidden),
                    static_cast<long long>(classes), static_cast<long long>(batch));
        std::printf("  tape speed / direct speed: %.1f%% (target >= 85%%): %.2f vs %.2f ms per step\n",
                    100 * direct.first / tape.first, tape.first, direct.first);
        std::printf("  peak tensor memory: tape %.1f MB, direct %.1f MB\n", tape.second, direct.second);
    }
    benchmark::Shutdown();
}
