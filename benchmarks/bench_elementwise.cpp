// A fused six-op element-wise expression on 16M floats against (a) the same ops evaluated one at a
// time into fresh temporaries, (b) one at a time into preallocated buffers, and (c) a plain memcpy,
// all in the same run (memcpy on one thread and split over the threads; the faster is the peer). Targets: fused at least 3x faster than (a), and at least 50% of memcpy's
// bandwidth (bytes read + written per second).
//
// Run: OMP_NUM_THREADS=2 ./bench_elementwise   (prints a summary of the ratios at the end)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <ward/tensor.hpp>

using namespace ward;

namespace {

constexpr index_t n = index_t(1) << 24;  // 16M floats = 64 MiB per array

struct Inputs {
    Tensor<float> a, b, c, out, t1, t2, t3, t4, t5;
    Inputs() {
        Generator g(1);
        a = normal<float>(g, {n});
        b = normal<float>(g, {n});
        c = normal<float>(g, {n});
        for (Tensor<float>* t : {&out, &t1, &t2, &t3, &t4, &t5}) *t = Tensor<float>::zeros({n});  // touched once
    }
};
Inputs& inputs() {
    static Inputs in;
    return in;
}

void set_bandwidth(benchmark::State& st, double arrays) {
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * arrays * double(n) * sizeof(float)));
}

// mul, add, mul, sub, clamp, abs: read a, b, c once, write out once (4 arrays of traffic).
void BM_fused(benchmark::State& st) {
    Inputs& in = inputs();
    for (auto _ : st) {
        in.out.assign(abs(clamp((in.a * in.b + in.c) * 2.0f - in.a, -4.0, 4.0)));
        benchmark::ClobberMemory();
    }
    set_bandwidth(st, 4);
}

void BM_unfused_fresh_temporaries(benchmark::State& st) {
    Inputs& in = inputs();
    for (auto _ : st) {
        Tensor<float> t1 = in.a * in.b;
        Tensor<float> t2 = t1 + in.c;
        Tensor<float> t3 = t2 * 2.0f;
        Tensor<float> t4 = t3 - in.a;
        Tensor<float> t5 = clamp(t4, -4.0, 4.0);
        Tensor<float> t6 = abs(t5);
        benchmark::DoNotOptimize(t6.data());
    }
    set_bandwidth(st, 15);
}

void BM_unfused_preallocated(benchmark::State& st) {
    Inputs& in = inputs();
    for (auto _ : st) {
        in.t1.assign(in.a * in.b);
        in.t2.assign(in.t1 + in.c);
        in.t3.assign(in.t2 * 2.0f);
        in.t4.assign(in.t3 - in.a);
        in.t5.assign(clamp(in.t4, -4.0, 4.0));
        in.out.assign(abs(in.t5));
        benchmark::ClobberMemory();
    }
    set_bandwidth(st, 15);
}

// Read one array, write one: 2 arrays of traffic.
void BM_memcpy(benchmark::State& st) {
    Inputs& in = inputs();
    for (auto _ : st) {
        std::memcpy(in.out.data(), in.a.data(), std::size_t(n) * sizeof(float));
        benchmark::ClobberMemory();
    }
    set_bandwidth(st, 2);
}

// The same copy split across the threads the fused pass uses (the fairer bandwidth peer).
void BM_memcpy_threads(benchmark::State& st) {
    Inputs& in = inputs();
    for (auto _ : st) {
        backend::cpu::parallel_for(n, 1, [&](index_t b, index_t e) {
            std::memcpy(in.out.data() + b, in.a.data() + b, std::size_t(e - b) * sizeof(float));
        });
        benchmark::ClobberMemory();
    }
    set_bandwidth(st, 2);
}

BENCHMARK(BM_fused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_unfused_fresh_temporaries)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_unfused_preallocated)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_threads)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Console output plus a record of each benchmark's time and bandwidth for the summary.
class Recorder : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> seen;  // name -> ms per iteration
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs)
            if (r.run_type == Run::RT_Iteration) seen[r.benchmark_name()] = r.GetAdjustedRealTime();
    }
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    Recorder rec;
    benchmark::RunSpecifiedBenchmarks(&rec);
    auto ms = [&](const char* name) { return rec.seen.count(name) ? rec.seen[name] : 0.0; };
    double fused = ms("BM_fused/real_time"), fresh = ms("BM_unfused_fresh_temporaries/real_time"),
           pre = ms("BM_unfused_preallocated/real_time"), copy1 = ms("BM_memcpy/real_time"),
           copyn = ms("BM_memcpy_threads/real_time");
    const double copy = copyn > 0 && copyn < copy1 ? copyn : copy1;  // the faster copy is the peer
    auto gbps = [](double arrays, double t_ms) { return arrays * double(n) * sizeof(float) / (t_ms * 1e-3) * 1e-9; };
    if (fused > 0 && copy > 0) {
        std::printf("\nsummary (threads=%d, n=%lld floats)\n", backend::cpu::max_threads(), static_cast<long long>(n));
        if (fresh > 0) std::printf("  fused vs unfused, fresh temporaries:  %.2fx faster (target >= 3x)\n", fresh / fused);
        if (pre > 0) std::printf("  fused vs unfused, preallocated:       %.2fx faster\n", pre / fused);
        std::printf("  fused bandwidth / memcpy bandwidth:   %.0f%% (%.1f vs %.1f GB/s; target >= 50%%)\n",
                    100 * gbps(4, fused) / gbps(2, copy), gbps(4, fused), gbps(2, copy));
        std::printf("  (memcpy on 1 thread %.1f GB/s, split over the threads %.1f GB/s; the faster is the peer)\n",
                    gbps(2, copy1), copyn > 0 ? gbps(2, copyn) : 0.0);
    }
    benchmark::Shutdown();
}
