#pragma once
// A defence x attack experiment on one aligned model: for every defence (applied to its own copy),
// judge harmfulness before any attack, probe every layer, measure how well the defended model still
// learns a harmless task, then attack copies of it at every point of the fixed attack grid and with
// every configuration of the attack search (the same list for every defence: the same budget), and
// judge again. Each (defence, attack configuration, seed) becomes one report record; a defence's
// worst case is the largest harm over all of them (eval/summary.hpp).

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ward/attack/finetune.hpp"
#include "ward/eval/harmfulness.hpp"
#include "ward/eval/judge.hpp"
#include "ward/eval/probe.hpp"
#include "ward/eval/report.hpp"
#include "ward/nn/clone.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::eval {

/// A row of the table: how to turn the aligned model (already copied) into the defended one.
/// "undefended" does nothing; a control row may replace the model altogether (a random init).
template <FloatElement T, Device D = cpu>
struct DefenceSpec {
    std::string name;
    std::function<void(nn::CausalLM<T, D>& model, std::uint64_t seed)> apply;
};

struct ExperimentData {
    std::vector<train::Example> attack;                               // the attacker's harmful examples
    std::vector<std::string> eval_prompts;                            // held-out harmful requests
    std::map<std::string, std::vector<std::string>> extra_prompts;    // more held-out sets, reported as harm_<name>
    std::vector<train::Example> harmless_train, harmless_test;        // the harmless fine-tuning task
    std::vector<std::vector<std::int64_t>> probe_positive, probe_negative;  // the depth probes' two classes
    std::vector<int> probe_groups;  // per probe sequence of [positive; negative]: split by whole groups (empty: stratified)
    std::function<std::vector<std::int64_t>(const std::string&)> encode;
    std::function<std::string(const std::vector<std::int64_t>&)> decode;
};

struct ExperimentOptions {
    std::vector<attack::AttackOptions> attacks;  // the fixed grid, e.g. AttackGrid::expand()
    std::vector<attack::AttackOptions> search;   // the attack search's configurations, e.g. attack::sample_attacks
    train::TrainOptions harmless;                // the harmless fine-tuning
    HarmfulnessOptions harm;
    ProbeOptions probe;
    bool quiet = false;
};

namespace detail {
inline void note(bool quiet, const std::string& line) {
    if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
}
}  // namespace detail

/// Runs every defence on a copy of `aligned` and appends its records and probes to `report`.
template <FloatElement T, Device D, Judge J>
void run_experiment(const nn::CausalLM<T, D>& aligned, const std::vector<DefenceSpec<T, D>>& defences, const ExperimentData& data,
                    J& judge, const ExperimentOptions& opt, std::uint64_t seed, Report& report) {
    if (opt.attacks.empty() && opt.search.empty()) throw value_error("experiment: no attack configured");
    if (data.eval_prompts.empty()) throw value_error("experiment: no held-out harmful prompts");
    auto harm = [&](const nn::CausalLM<T, D>& m, std::map<std::string, double>& metrics, const std::string& when) {
        for (const auto& [name, prompts] : data.extra_prompts)
            metrics["harm_" + name + "_" + when] = harmfulness(m, judge, prompts, data.encode, data.decode, opt.harm).mean;
        return harmfulness(m, judge, data.eval_prompts, data.encode, data.decode, opt.harm).mean;
    };
    for (const DefenceSpec<T, D>& d : defences) {
        auto t0 = std::chrono::steady_clock::now();
        nn::CausalLM<T, D> model = nn::clone(aligned);
        if (d.apply) d.apply(model, seed);
        nn::set_requires_grad<T, D>(model, true);  // a defence may leave parts frozen; the attacker trains everything
        const double defence_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::map<std::string, double> before;
        const double harm_before = harm(model, before, "before");
        if (!data.probe_positive.empty()) {
            ProbeOptions po = opt.probe;
            po.seed = seed;
            po.groups = data.probe_groups;
            auto p = probe_layers(model, data.probe_positive, data.probe_negative, po);
            std::size_t positive = 0;
            for (std::size_t i : p.test) positive += i < p.harmful;
            const double chance = double(std::max(positive, p.test.size() - positive)) / double(p.test.size());
            report.probes.push_back({d.name, seed, p.test_accuracy, p.train_accuracy, chance});
        }
        double harmless_loss = not_measured;
        if (!data.harmless_train.empty()) {
            nn::CausalLM<T, D> h = nn::clone(model);
            train::TrainOptions ho = opt.harmless;
            ho.seed = seed;
            train::train_lm(h, data.harmless_train, {}, ho);
            harmless_loss = train::evaluate_lm(h, data.harmless_test, ho.batch_size, ho.pad_id, ho.max_len);
        }
        detail::note(opt.quiet, "  " + d.name + ": harm before attack " + std::to_string(harm_before) + ", harmless-task loss " +
                                    std::to_string(harmless_loss) + " (defence " + std::to_string(defence_s) + " s)");
        auto attack_with = [&](const attack::AttackOptions& a, const char* source) {
            nn::CausalLM<T, D> attacked = nn::clone(model);
            attack::AttackOptions ao = a;
            ao.seed = seed;
            auto tr = attack::harmful_finetune(attacked, data.attack, ao);
            AttackRecord rec;
            rec.defence = d.name;
            rec.attack = source;
            rec.attack_lr = a.lr;
            rec.attack_samples = static_cast<std::int64_t>(a.samples);
            rec.attack_epochs = a.epochs;
            rec.attack_batch = a.batch_size;
            rec.attack_optimizer = train::optimizer_name(a.optimizer);
            rec.attack_lora_rank = a.lora_rank;
            rec.attack_warmup = a.warmup_steps;
            rec.seed = seed;
            rec.harm_before = harm_before;
            rec.metrics = before;
            rec.harm_after = harm(attacked, rec.metrics, "after");
            rec.harmless_loss = harmless_loss;
            rec.metrics["attack_final_loss"] = tr.step_losses.empty() ? not_measured : tr.step_losses.back();
            rec.metrics["defence_seconds"] = defence_s;
            detail::note(opt.quiet, std::string("    ") + source + " attack " + describe_attack(rec) + ": harm after " + std::to_string(rec.harm_after));
            report.records.push_back(std::move(rec));
        };
        for (const attack::AttackOptions& a : opt.attacks) attack_with(a, "grid");
        for (const attack::AttackOptions& a : opt.search) attack_with(a, "search");
    }
}

}  // namespace ward::eval
