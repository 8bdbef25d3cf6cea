// ward's f32 matmul (oneDNN primitive through ward's cache) against a direct dnnl_sgemm call on the
// same buffers, at 512^3 and 64^3. The per-call overhead of ward (key, cache lookup, argument
// binding) shows at 64; at 512 the kernels dominate.
//
// Reported: each side's time, a paired benchmark whose `ratio` counter is ward/sgemm measured
// alternately in the same loop (robust to drift on a shared machine; `ratio_prim` is ward against
// the bare oneDNN primitive it runs, i.e. ward's own overhead), and a final summary of the median
// ratios. The paired numbers are the ones to trust on a loaded machine. Run with e.g. OMP_NUM_THREADS=2 ./bench_matmul --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ward/backend/cpu/matmul.hpp"

namespace cpu = ward::backend::cpu;
using ward::index_t;

namespace {

struct Problem {
    index_t n;
    std::vector<float> a, b, c;
    explicit Problem(index_t n_) : n(n_), a(static_cast<std::size_t>(n * n)), b(a.size()), c(a.size()) {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> u(-1.f, 1.f);
        for (auto& x : a) x = u(rng);
        for (auto& x : b) x = u(rng);
    }
    void ward() {
        const ward::Shape s{n, n};
        const ward::Strides st{n, 1};
        cpu::matmul<float>({a.data(), s, st}, {b.data(), s, st}, nullptr, cpu::Epilogue::none, {c.data(), s, st});
    }
    void direct() {
        dnnl_sgemm('N', 'N', n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    }
    // The same oneDNN matmul primitive ward uses, created once with its memory objects bound: the
    // floor for ward's path, so ward / primitive is ward's own per-call overhead.
    void primitive() {
        if (!prim) {
            namespace dnn = cpu::onednn;
            const dnnl_dim_t d[2] = {n, n}, st[2] = {n, 1};
            dnn::MemoryDesc md(2, d, st, dnnl_f32);
            dnnl_primitive_desc_t pd = nullptr;
            dnn::check(dnn::matmul_pd(&pd, md, md, nullptr, md, nullptr), "matmul pd");
            dnn::check(dnnl_primitive_create(&prim, pd), "dnnl_primitive_create");
            dnnl_primitive_desc_destroy(pd);
            float* ptr[3] = {a.data(), b.data(), c.data()};
            for (int i = 0; i < 3; ++i) dnn::check(dnnl_memory_create(&mem[i], md.get(), dnn::engine(), ptr[i]), "dnnl_memory_create");
        }
        const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]}};
        dnnl_primitive_execute(prim, cpu::onednn::stream(), 3, args);
        dnnl_stream_wait(cpu::onednn::stream());
    }
    dnnl_primitive_t prim = nullptr;
    dnnl_memory_t mem[3] = {};
};

Problem& problem(index_t n) {
    static std::map<index_t, Problem> ps;
    return ps.try_emplace(n, n).first->second;
}

void set_flops(benchmark::State& st, index_t n) {
    const double gflop = 2.0 * static_cast<double>(n * n * n) * 1e-9;
    st.counters["GFLOP/s"] = benchmark::Counter(gflop * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}

void BM_ward_matmul(benchmark::State& st) {
    Problem& p = problem(st.range(0));
    p.ward();  // first call creates and caches the primitive
    for (auto _ : st) {
        p.ward();
        benchmark::DoNotOptimize(p.c.data());
        benchmark::ClobberMemory();
    }
    set_flops(st, p.n);
}

void BM_dnnl_sgemm(benchmark::State& st) {
    Problem& p = problem(st.range(0));
    p.direct();
    for (auto _ : st) {
        p.direct();
        benchmark::DoNotOptimize(p.c.data());
        benchmark::ClobberMemory();
    }
    set_flops(st, p.n);
}

double median_of(std::vector<double>& v) {
    if (v.empty()) return 0;
    const std::size_t m = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
    return v[m];
}

// Alternates the calls and times each, so all see the same machine state; the ratios are of
// per-call medians, which a shared machine's preemption spikes do not move.
void BM_paired(benchmark::State& st) {
    Problem& p = problem(st.range(0));
    p.ward();
    p.direct();
    p.primitive();
    using clock = std::chrono::steady_clock;
    std::vector<double> tw, td, tp;
    const auto cap = static_cast<std::size_t>(st.max_iterations);
    tw.reserve(cap), td.reserve(cap), tp.reserve(cap);
    for (auto _ : st) {
        auto t0 = clock::now();
        p.ward();
        auto t1 = clock::now();
        p.direct();
        auto t2 = clock::now();
        p.primitive();
        auto t3 = clock::now();
        benchmark::ClobberMemory();
        tw.push_back(std::chrono::duration<double>(t1 - t0).count());
        td.push_back(std::chrono::duration<double>(t2 - t1).count());
        tp.push_back(std::chrono::duration<double>(t3 - t2).count());
    }
    const double w = median_of(tw), d = median_of(td), q = median_of(tp);
    st.counters["ward_us"] = w * 1e6;
    st.counters["sgemm_us"] = d * 1e6;
    st.counters["prim_us"] = q * 1e6;
    st.counters["ratio"] = w / d;
    st.counters["ratio_prim"] = w / q;
}

BENCHMARK(BM_ward_matmul)->Arg(512)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_dnnl_sgemm)->Arg(512)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_paired)->Arg(512)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Console output plus the medians needed for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs) {
            if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
            const std::string name = r.run_name.str();
            times_[name].push_back(r.GetAdjustedRealTime());
            auto it = r.counters.find("ratio");
            if (it != r.counters.end()) paired_[name].push_back(it->second.value);
            it = r.counters.find("ratio_prim");
            if (it != r.counters.end()) prim_[name].push_back(it->second.value);
        }
        ConsoleReporter::ReportRuns(runs);
    }
    void summary() {
        std::printf("\nward/direct time ratios (median over repetitions; target <= 1.05 at 512, <= 1.25 at 64):\n");
        for (const char* n : {"512", "64"}) {
            const std::string w = std::string("BM_ward_matmul/") + n + "/real_time";
            const std::string d = std::string("BM_dnnl_sgemm/") + n + "/real_time";
            const std::string p = std::string("BM_paired/") + n + "/real_time";
            std::printf("  n = %-4s", n);
            if (times_.count(w) && times_.count(d))
                std::printf(" separate runs: %.3f  ", median(times_[w]) / median(times_[d]));
            if (paired_.count(p)) std::printf(" paired: %.3f", median(paired_[p]));
            if (prim_.count(p)) std::printf("   (ward / bare oneDNN primitive, paired: %.3f)", median(prim_[p]));
            std::printf("\n");
        }
        const auto s = cpu::onednn::cache_stats();
        std::printf("primitive cache: %llu created, %llu hits, %llu layout copies\n",
                    static_cast<unsigned long long>(s.created), static_cast<unsigned long long>(s.hits),
                    static_cast<unsigned long long>(s.layout_copies));
    }

private:
    static double median(std::vector<double> v) {
        std::sort(v.begin(), v.end());
        const std::size_t m = v.size() / 2;
        return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
    }
    std::map<std::string, std::vector<double>> times_, paired_, prim_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    SummaryReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.summary();
    benchmark::Shutdown();
    return 0;
}
