// RLHF on the RLHF demo's model (Llama-style, 3 layers x 64, the synthetic world's vocabulary, random
// weights): one PPO iteration (64 rollouts of up to 16 tokens, 2 epochs of 2 minibatches) split into its
// phases as rl::ppo times them (generation with the KV cache and the teacher-forced passes, scoring by a
// reward model and the rule judge, the minibatch updates), with generated tokens per second; and a DPO
// step (chosen and rejected answers, AdamW) against a plain SFT step on the chosen answers of the same
// batch of 16 pairs, measured in the same run. Expected: DPO about 2x SFT (twice the sequences; the
// reference's log-likelihoods are computed once, before training).
//
// Run: OMP_NUM_THREADS=2 ./bench_rlhf [--device cpu|cuda] [Google Benchmark flags]   (prints a summary
// of the ratios at the end; --device cuda in bench_rlhf_gpu, this program built by nvcc)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <ward/data/preference_world.hpp>
#include <ward/data/world_model.hpp>
#include <ward/device_choice.hpp>
#include <ward/nn/clone.hpp>
#include <ward/optim.hpp>
#include <ward/rl.hpp>

#include "device_clock.hpp"

using namespace ward;

namespace {

template <Device D>
struct Setup {
    data::World world{{.seed = 0}};
    data::PreferenceWorld prefs{world};
    nn::CausalLM<float, D> model = nn::to_device<D>(nn::CausalLM<float>(data::world_model_config(world, {}), 0));
    rl::TextCodec codec;
    rl::PromptSet prompts;
    std::vector<rl::TokenPreference> pairs;
    rl::RewardModel<float, D> rm{nn::clone(model), 1};
    Setup() {
        const auto& v = world.vocabulary();
        codec = {[&v](const std::string& t) { return v.encode(t); }, [&v](const std::vector<std::int64_t>& ids) { return v.decode(ids); }};
        prompts = rl::make_prompts(prefs.attack_prompts(), codec);
        pairs = rl::encode_preferences(rl::flip_unsafe_feedback(prefs.preferences(), 1.0, 0).pairs, codec.encode, data::Vocabulary::eos);
        pairs.resize(16);
    }
};
template <Device D>
Setup<D>& setup() {
    static Setup<D> s;
    return s;
}

template <Device D>
void BM_ppo_iteration(benchmark::State& st) {
    Setup<D>& s = setup<D>();
    data::SyntheticJudge judge(s.world);
    auto cost = rl::judge_scorer(judge);
    rl::ModelScorer<float, D> reward(s.rm, "rm");
    rl::PpoOptions o;
    o.iterations = 1;
    o.rollouts = 64;
    o.minibatch = 32;
    o.epochs = 2;
    o.sampling.max_new_tokens = 16;  // random weights rarely stop early: about 16 tokens each
    o.sampling.stop_tokens = {data::Vocabulary::eos};
    o.quiet = true;
    double gen = 0, score = 0, update = 0, tokens = 0;
    std::uint64_t seed = 0;
    for (auto _ : st) {
        rl::ActorCritic<float, D> ac(nn::clone(s.model), 0);
        auto c = rl::none();
        o.seed = seed++;
        const auto r = rl::ppo(ac, s.model, s.prompts, s.codec, reward, cost, c, o);
        gen += r.rollout_seconds;
        score += r.scoring_seconds;
        update += r.update_seconds;
        tokens += r.iterations[0].at("response_length") * double(o.rollouts);
    }
    const double n = double(st.iterations());
    st.counters["generation_s"] = gen / n;
    st.counters["scoring_s"] = score / n;
    st.counters["update_s"] = update / n;
    st.counters["tokens_per_s"] = tokens / gen;
}

/// The 16 pairs as the DPO step sees them (chosen rows, then rejected rows) and as SFT sees them (chosen only).
template <Device D>
struct Batches {
    rl::SequenceBatch both, chosen;
    Tensor<std::int64_t, D> sft_inputs, sft_targets;
    Tensor<float, D> ref_chosen, ref_rejected;
    Batches() {
        Setup<D>& s = setup<D>();
        std::vector<std::vector<std::int64_t>> p, a, c;
        std::vector<train::Example> ex;
        for (int side = 0; side < 2; ++side)
            for (const auto& x : s.pairs) {
                p.push_back(x.prompt);
                a.push_back(side == 0 ? x.chosen : x.rejected);
            }
        both = rl::make_sequence_batch(p, a, 0);
        for (const auto& x : s.pairs) {
            train::Example e;
            e.ids = x.prompt;
            e.ids.insert(e.ids.end(), x.chosen.begin(), x.chosen.end());
            e.loss_mask.assign(e.ids.size(), 1);
            for (std::size_t t = 0; t < x.prompt.size(); ++t) e.loss_mask[t] = 0;
            ex.push_back(e);
        }
        std::vector<std::size_t> rows(ex.size());
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i;
        const train::LmBatch sft = train::make_batch(ex, rows, 0, 1024);
        sft_inputs = on_device<D>(sft.inputs);
        sft_targets = on_device<D>(sft.targets);
        ag::NoGrad ng;
        const auto ref = rl::sequence_log_probs(s.model, both).value();
        ref_chosen = ref.slice(0, 0, 16).contiguous();
        ref_rejected = ref.slice(0, 16, 32).contiguous();
    }
};

template <Device D>
void BM_dpo_step(benchmark::State& st) {
    Batches<D> b;
    auto model = nn::clone(setup<D>().model);
    auto params = nn::parameters<float, D>(model);
    optim::AdamW<float, D> adam(params, {});
    for (auto _ : st) {
        ag::Var<float, D> lp = rl::sequence_log_probs(model, b.both);
        rl::dpo_loss(ag::slice(lp, 0, 0, 16), ag::slice(lp, 0, 16, 32), b.ref_chosen, b.ref_rejected, 0.1).backward();
        adam.step();
        adam.zero_grad();
        bench::wait_for_device<D>();
    }
}

template <Device D>
void BM_sft_step(benchmark::State& st) {
    Batches<D> b;
    auto model = nn::clone(setup<D>().model);
    auto params = nn::parameters<float, D>(model);
    optim::AdamW<float, D> adam(params, {});
    for (auto _ : st) {
        ag::cross_entropy(model.forward(b.sft_inputs).logits, b.sft_targets).backward();
        adam.step();
        adam.zero_grad();
        bench::wait_for_device<D>();
    }
}

template <Device D>
void register_benchmarks() {
    benchmark::RegisterBenchmark("BM_ppo_iteration", BM_ppo_iteration<D>)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
    benchmark::RegisterBenchmark("BM_sft_step", BM_sft_step<D>)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
    benchmark::RegisterBenchmark("BM_dpo_step", BM_dpo_step<D>)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
}

class Recorder : public benchmark::ConsoleReporter {
public:
    std::map<std::string, Run> seen;
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs)
            if (r.run_type == Run::RT_Iteration) seen[r.run_name.function_name] = r;
    }
};

template <Device D>
int run_benchmarks() {
    register_benchmarks<D>();
    Recorder rec;
    benchmark::RunSpecifiedBenchmarks(&rec);
    std::printf("\nsummary (device=%s, threads=%d, Llama 3x64, vocabulary %lld)\n", D::name, backend::cpu::max_threads(),
                static_cast<long long>(setup<D>().world.vocabulary().size()));
    if (rec.seen.count("BM_ppo_iteration")) {
        const auto& r = rec.seen["BM_ppo_iteration"];
        const double g = r.counters.at("generation_s"), s = r.counters.at("scoring_s"), u = r.counters.at("update_s");
        std::printf("  PPO iteration %.1f ms: generation %.0f%%, scoring %.0f%%, update %.0f%%; %.0f generated tokens/s\n",
                    r.GetAdjustedRealTime(), 100 * g / (g + s + u), 100 * s / (g + s + u), 100 * u / (g + s + u), double(r.counters.at("tokens_per_s")));
    }
    if (rec.seen.count("BM_dpo_step") && rec.seen.count("BM_sft_step")) {
        const double dpo = rec.seen["BM_dpo_step"].GetAdjustedRealTime(), sft = rec.seen["BM_sft_step"].GetAdjustedRealTime();
        std::printf("  DPO step / SFT step on the same 16 pairs: %.2f (%.2f vs %.2f ms; expected about 2)\n", dpo / sft, dpo, sft);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    // --device is this program's; every other flag goes to Google Benchmark.
    std::string device = "cpu";
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--device" && i + 1 < argc) device = argv[++i];
        else rest.push_back(argv[i]);
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    const int code = run_on_device(device, "bench_rlhf", "bench_rlhf_gpu", []<Device D>() { return run_benchmarks<D>(); });
    benchmark::Shutdown();
    return code;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rlhf: %s\n", e.what());
    return 2;
}
