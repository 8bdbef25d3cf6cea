// Benchmarks of the stitching fit, each against a peer measured in the same run (the machines are
// shared and noisy, so ratios mean more than absolute times):
//   fit on the paper's data (~1.3k observations, ~256 parameters): Schur-complement LM vs the same LM
//     with a dense solve of the whole normal matrix;
//   1,000 bootstrap replicates: all threads vs one thread;
//   10,000 models x 100 benchmarks, 30% observed: the fit vs one objective+gradient pass (the ratio is
//     the cost of the fit in passes over the data), with peak memory reported.
// The paper's data is read from data/benchmark-stitching (shipped with ward); a synthetic table of the same size stands in if it is removed.
//
//   ./build/benchmarks/bench_irt [--benchmark_filter=...]
#include <ward/irt.hpp>

#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace irt = ward::irt;

namespace {

struct PaperData {
    irt::Dataset data;
    irt::FitOptions opt;
    std::string source;
};


const PaperData& paper() {
    static const PaperData p = [] {
        PaperData x;
        const std::string dir = std::string(WARD_DATA_DIR) + "/benchmark-stitching";  // shipped in data/
        if (std::filesystem::exists(dir)) {
            x.data = irt::read_epoch(dir);
            x.source = "Epoch data";
        } else {  // same shape: ~180 models, ~39 benchmarks, ~19% observed
            irt::SimulationOptions o;
            o.num_models = 180;
            o.num_benchmarks = 39;
            o.observed_fraction = 0.19;
            x.data = irt::simulate(o).data;
            x.opt.anchor = irt::Anchor::on_benchmark("bench_000");
            x.source = "synthetic stand-in (data/benchmark-stitching absent)";
        }
        std::printf("paper-size data: %s, %lld observations, %lld models, %lld benchmarks\n", x.source.c_str(),
                    static_cast<long long>(x.data.num_obs()), static_cast<long long>(x.data.num_models()),
                    static_cast<long long>(x.data.num_benchmarks()));
        return x;
    }();
    return p;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

void BM_FitPaper(benchmark::State& state) {
    const auto& p = paper();
    irt::FitOptions opt = p.opt;
    opt.solver = state.range(0) ? irt::LinearSolver::dense : irt::LinearSolver::schur;
    int iterations = 0;
    for (auto _ : state) {
        const irt::FitResult f = irt::fit(p.data, opt);
        iterations = f.iterations;
        benchmark::DoNotOptimize(f.objective);
    }
    state.counters["lm_iterations"] = iterations;
    state.SetLabel(state.range(0) ? "dense normal matrix (peer)" : "Schur complement");
}
BENCHMARK(BM_FitPaper)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

double process_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void BM_Bootstrap1000(benchmark::State& state) {
    const auto& p = paper();
    const irt::FitResult full = irt::fit(p.data, p.opt);
    const int threads = static_cast<int>(state.range(0));
    double cpu = 0, wall = 0;
    for (auto _ : state) {
        const double c0 = process_cpu_s();
        const auto t0 = std::chrono::steady_clock::now();
        const auto b = irt::bootstrap(p.data, p.opt, full, {.replicates = 1000, .seed = 1, .threads = threads});
        benchmark::DoNotOptimize(b.capability_low.data());
        wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        cpu += process_cpu_s() - c0;
    }
    // CPU seconds of all threads per wall second: ~2 when both cores are free, ~1 when others hold one.
    state.counters["cores_busy"] = cpu / wall;
    state.SetLabel(threads == 1 ? "1 thread (peer)" : "OpenMP default threads");
}
#if defined(_OPENMP)
BENCHMARK(BM_Bootstrap1000)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);
#else
BENCHMARK(BM_Bootstrap1000)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(1);
#endif

const irt::Simulation& large() {
    static const irt::Simulation s = [] {
        irt::SimulationOptions o;
        o.num_models = 10000;
        o.num_benchmarks = 100;
        o.observed_fraction = 0.3;
        o.seed = 7;
        return irt::simulate(o);
    }();
    return s;
}

void BM_Fit10kModels(benchmark::State& state) {
    const double rss_before = peak_rss_mb();
    const auto& s = large();
    irt::FitOptions opt;
    opt.anchor = irt::Anchor::on_benchmark("bench_000");
    irt::FitResult f;
    for (auto _ : state) {
        f = irt::fit(s.data, opt);
        benchmark::DoNotOptimize(f.objective);
    }
    state.counters["observations"] = static_cast<double>(s.data.num_obs());
    state.counters["lm_iterations"] = f.iterations;
    state.counters["corr_truth"] = irt::pearson(f.capability, s.capability);
    state.counters["peak_rss_MB"] = peak_rss_mb();
    state.counters["rss_growth_MB"] = peak_rss_mb() - rss_before;
    state.counters["obs_table_MB"] = static_cast<double>(s.data.obs.size() * sizeof(irt::Observation)) / (1 << 20);
    state.SetLabel("10,000 x 100, 30% observed");
}
BENCHMARK(BM_Fit10kModels)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_Gradient10kModels(benchmark::State& state) {
    const auto& s = large();
    irt::FitOptions opt;
    opt.anchor = irt::Anchor::on_benchmark("bench_000");
    const irt::Problem p = irt::make_problem(s.data, opt);
    const Eigen::VectorXd theta = Eigen::Map<const Eigen::VectorXd>(p.start.data(), p.size());
    for (auto _ : state) {
        const Eigen::VectorXd g = irt::gradient(p, theta);
        benchmark::DoNotOptimize(g.data());
    }
    state.SetLabel("one gradient pass (peer)");
}
BENCHMARK(BM_Gradient10kModels)->Unit(benchmark::kMillisecond);

/// Prints as the console does, and keeps each run's real time for the ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) ms[r.benchmark_name()] = r.GetAdjustedRealTime() *
                                                             (r.time_unit == benchmark::kMillisecond ? 1.0 : 1e-6);
        ConsoleReporter::ReportRuns(runs);
    }
    std::map<std::string, double> ms;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    auto ratio = [&](const char* what, const char* a, const char* b, const char* target) {
        const auto ia = reporter.ms.find(a), ib = reporter.ms.find(b);
        if (ia == reporter.ms.end() || ib == reporter.ms.end()) return;
        std::printf("%-44s %10.2f ms   peer %10.2f ms   ratio %6.2f   (%s)\n", what, ia->second, ib->second,
                    ib->second / ia->second, target);
    };
    std::printf("\n");
    ratio("fit, paper data: Schur vs dense", "BM_FitPaper/0", "BM_FitPaper/1", "target <= 20 ms");
    ratio("1000 bootstrap replicates: threads vs 1", "BM_Bootstrap1000/0/iterations:1", "BM_Bootstrap1000/1/iterations:1",
          "target <= 10 s on 2 cores");
    const auto f = reporter.ms.find("BM_Fit10kModels/iterations:1"), g = reporter.ms.find("BM_Gradient10kModels");
    if (f != reporter.ms.end() && g != reporter.ms.end())
        std::printf("%-44s %10.2f ms   = %.0f gradient passes (%.2f ms each)   (target <= 10 s)\n",
                    "fit, 10,000 x 100 synthetic", f->second, f->second / g->second, g->second);
    benchmark::Shutdown();
    return 0;
}
