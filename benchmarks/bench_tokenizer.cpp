// Tokenizer throughput: GPT-2's byte-level BPE encoding the DecodingTrust texts (prompts,
// continuations, refusals; ~3.8k strings, ~180k tokens), one string per encode call as a data loader
// makes them, single-threaded:
//   warm: the piece cache already holds the texts' words (the steady state of a long run);
//   cold: a freshly loaded tokenizer for each pass, so every piece goes through BPE;
//   decode: the ids back to text.
// The peer is Hugging Face `tokenizers` on the same texts, measured by hand in the same session
// (Python, one Tokenizer.encode per string); its figure goes next to the "tokens/s" counter here.
// Reads data/: GPT-2's files and the DecodingTrust texts.
//
//   ./build/benchmarks/bench_tokenizer [--benchmark_filter=...]
#include <ward/io/tokenizer.hpp>

#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using ward::io::Tokenizer;

namespace {

/// The data shipped in data/ (GPT-2's BPE files, the DecodingTrust texts).
const fs::path data_dir = WARD_DATA_DIR;

struct Corpus {
    std::vector<std::string> texts;
    std::size_t tokens = 0;
    std::optional<Tokenizer> tokenizer;
};

Tokenizer load_gpt2() {
    const fs::path dir = data_dir / "gpt2-tokenizer";
    return Tokenizer::from_gpt2_files(dir / "encoder.json", dir / "vocab.bpe");
}

const Corpus& corpus() {
    static const Corpus c = [] {
        Corpus x;
        const fs::path dt = data_dir / "decodingtrust";
        if (!fs::exists(dt / "training_dataset.jsonl") || !fs::exists(data_dir / "gpt2-tokenizer")) return x;
        std::ifstream lines(dt / "training_dataset.jsonl");
        for (std::string line; std::getline(lines, line);) {
            const auto r = nlohmann::json::parse(line);
            x.texts.push_back(r["prompt"]["text"].get<std::string>());
            x.texts.push_back(r["continuation"]["text"].get<std::string>());
        }
        std::ifstream in(dt / "decoding_trust_with_refusals_train.json");
        for (const auto& r : nlohmann::json::parse(in)) {
            x.texts.push_back(r["prompt"]["text"].get<std::string>());
            x.texts.push_back(r["continuation"]["text"].get<std::string>());
            x.texts.push_back(r["refusal"].get<std::string>());
        }
        x.tokenizer.emplace(load_gpt2());
        for (const auto& t : x.texts) x.tokens += x.tokenizer->encode(t).size();
        return x;
    }();
    return c;
}

bool ready(benchmark::State& state) {
    if (corpus().texts.empty()) {
        state.SkipWithError("data/ (GPT-2 files, DecodingTrust texts) is absent");
        return false;
    }
    return true;
}

void report(benchmark::State& state) {
    const auto tokens = static_cast<double>(corpus().tokens);
    state.counters["tokens/s"] = benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["strings"] = static_cast<double>(corpus().texts.size());
}

void BM_encode_warm(benchmark::State& state) {
    if (!ready(state)) return;
    const Tokenizer& tok = *corpus().tokenizer;
    for (auto _ : state)
        for (const auto& t : corpus().texts) benchmark::DoNotOptimize(tok.encode(t));
    report(state);
}
BENCHMARK(BM_encode_warm)->Unit(benchmark::kMillisecond);

void BM_encode_cold(benchmark::State& state) {
    if (!ready(state)) return;
    for (auto _ : state) {
        state.PauseTiming();
        const Tokenizer tok = load_gpt2();  // an empty piece cache
        state.ResumeTiming();
        for (const auto& t : corpus().texts) benchmark::DoNotOptimize(tok.encode(t));
    }
    report(state);
}
BENCHMARK(BM_encode_cold)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_decode(benchmark::State& state) {
    if (!ready(state)) return;
    const Tokenizer& tok = *corpus().tokenizer;
    std::vector<std::vector<std::int32_t>> ids;
    for (const auto& t : corpus().texts) ids.push_back(tok.encode(t));
    for (auto _ : state)
        for (const auto& i : ids) benchmark::DoNotOptimize(tok.decode(i));
    report(state);
}
BENCHMARK(BM_decode)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
