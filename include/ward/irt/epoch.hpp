#pragma once
// Reader for Epoch AI's benchmarking-hub layout (the data behind "A Rosetta Stone for AI Benchmarks"),
// building the paper's table of scores step by step (the files: data/benchmark-stitching):
//   1. benchmarks_runs.csv: six tasks, column "Best score (across scorers)" (a fraction);
//   2. external_benchmark_*.csv: one score column per file, scaled as the table below says;
//   3. keep models scored on more than 3 distinct benchmarks;
//   4. inner join with model_versions.csv (release date), keep models released on or after 2022-11-01;
//   5. duplicates (model, benchmark) keep their maximum (DatasetBuilder), scores clipped to [0.001, 0.999].
// Every row left out is counted in Dataset::report.

#include <ward/irt/csv.hpp>
#include <ward/irt/dataset.hpp>
#include <ward/irt/date.hpp>
#include <ward/irt/long_csv.hpp>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace ward::irt {

enum class Scale { fraction, percent, percent_strip, tenths };

struct ExternalBenchmark {
    const char* file;
    const char* column;
    const char* name;
    Scale scale;
};

/// The external benchmark files the paper uses (step 2). Left out, as in the paper's code:
/// external_benchmark_boolq.csv (it duplicates SuperGLUE), _mcbench, _metr and _csqa2 (not loaded).
inline const std::vector<ExternalBenchmark>& epoch_external_benchmarks() {
    using S = Scale;
    static const std::vector<ExternalBenchmark> table = {
        {"external_benchmark_aider_polyglot.csv", "Percent correct", "Aider polyglot", S::percent},
        {"external_benchmark_anli.csv", "Score", "ANLI", S::percent_strip},
        {"external_benchmark_arc_agi.csv", "Score", "ARC-AGI", S::percent_strip},
        {"external_benchmark_arc_ai2.csv", "Challenge score", "ARC AI2", S::percent_strip},
        {"external_benchmark_balrog.csv", "Average progress", "Balrog", S::percent_strip},
        {"external_benchmark_bbh.csv", "Average", "BBH", S::percent_strip},
        {"external_benchmark_cadeval.csv", "Overall pass (%)", "CadEval", S::percent_strip},
        {"external_benchmark_cybench.csv", "Unguided % Solved", "Cybench", S::percent_strip},
        {"external_benchmark_deepresearch.csv", "Average score", "DeepResearch Bench", S::percent_strip},
        {"external_benchmark_factorio_learning_environment.csv", "Lab Success %", "Factorio learning environment", S::percent_strip},
        {"external_benchmark_fictionlivebench.csv", "16k token score", "Fiction.LiveBench", S::percent_strip},
        {"external_benchmark_geobench.csv", "ACW Country %", "GeoBench", S::percent_strip},
        {"external_benchmark_gsm8k.csv", "EM", "GSM8K", S::percent_strip},
        {"external_benchmark_gso_bench.csv", "Score OPT@1", "GSO-Bench", S::percent_strip},
        {"external_benchmark_hellaswag.csv", "Overall accuracy", "HellaSwag", S::percent_strip},
        {"external_benchmark_lambada.csv", "Score", "LAMBADA", S::percent_strip},
        {"external_benchmark_lech_mazur_writing.csv", "Mean score", "Lech Mazur Writing", S::tenths},
        {"external_benchmark_livebench.csv", "Global average", "LiveBench", S::percent},
        {"external_benchmark_mmlu.csv", "EM", "MMLU", S::percent_strip},
        {"external_benchmark_openbookqa.csv", "Accuracy", "OpenBookQA", S::percent_strip},
        {"external_benchmark_os_world.csv", "Score", "OSWorld", S::percent},
        {"external_benchmark_osuniverse.csv", "Weighted Score", "OSUniverse", S::percent_strip},
        {"external_benchmark_piqa.csv", "Score", "PIQA", S::percent_strip},
        {"external_benchmark_scienceqa.csv", "Score", "ScienceQA", S::percent_strip},
        {"external_benchmark_simple_bench.csv", "Score (AVG@5)", "SimpleBench", S::percent_strip},
        {"external_benchmark_superglue.csv", "Score", "SuperGLUE", S::percent_strip},
        {"external_benchmark_terminal_bench.csv", "Accuracy mean", "Terminal Bench", S::percent_strip},
        {"external_benchmark_the_agent_company.csv", "% Resolved", "The Agent Company", S::percent_strip},
        {"external_benchmark_triviaqa.csv", "EM", "TriviaQA", S::percent_strip},
        {"external_benchmark_videomme.csv", "Overall (no subtitles)", "VideoMME", S::percent_strip},
        {"external_benchmark_vpct.csv", "Correct", "VPCT", S::percent_strip},
        {"external_benchmark_weirdml.csv", "Accuracy", "WeirdML", S::percent_strip},
        {"external_benchmark_winogrande.csv", "Accuracy", "Winogrande", S::percent_strip},
    };
    return table;
}

/// The Epoch-run tasks the paper uses (step 1).
inline const std::vector<std::string>& epoch_run_tasks() {
    static const std::vector<std::string> tasks = {
        "GPQA diamond", "FrontierMath-2025-02-28-Private", "MATH level 5", "OTIS Mock AIME 2024-2025",
        "SWE-Bench verified", "FrontierMath-Tier-4-2025-07-01-Private"};
    return tasks;
}

struct EpochOptions {
    index_t min_benchmarks_exclusive = 3;     // keep models with more than this many benchmarks
    std::string released_since = "2022-11-01";  // empty: no date filter (models without a date still kept)
    UnknownModel unknown_model = UnknownModel::skip_and_count;  // score rows whose model is not in model_versions.csv
    BuildOptions build{};
};

inline double scale_score(std::string_view cell, Scale s, const CellLocation& at) {
    switch (s) {
        case Scale::fraction: return parse_number(cell, at);
        case Scale::percent: return parse_number(cell, at) / 100.0;
        case Scale::percent_strip: return parse_number(cell, at, /*allow_percent=*/true) / 100.0;
        case Scale::tenths: return parse_number(cell, at) / 10.0;
    }
    return 0.0;
}

/// Reads the Epoch layout in `dir` into a Dataset with release dates.
inline Dataset read_epoch(const std::string& dir, const EpochOptions& opt = {}) {
    namespace fs = std::filesystem;
    auto file = [&](const std::string& name) {
        const auto p = (fs::path(dir) / name).string();
        if (!fs::exists(p)) throw io_error("read_epoch: missing file '" + p + "'");
        return p;
    };
    DatasetBuilder builder(opt.build);
    auto& report = builder.report();

    {   // 1. Epoch's own runs
        const CsvTable t = read_csv(file("benchmarks_runs.csv"));
        const auto ct = t.column("task"), cm = t.column("model"), cs = t.column("Best score (across scorers)");
        const auto& tasks = epoch_run_tasks();
        for (index_t r = 0; r < t.size(); ++r) {
            const std::string task(trim(t.cell(r, ct)));
            if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) {
                report.add("benchmarks_runs.csv rows of tasks the paper does not use");
                continue;
            }
            const std::string model(trim(t.cell(r, cm)));
            if (model.empty() || trim(t.cell(r, cs)).empty()) {
                report.add("rows without model version or score");
                continue;
            }
            builder.add(model, task, scale_score(t.cell(r, cs), Scale::fraction, t.where(r, cs)));
        }
    }
    for (const auto& eb : epoch_external_benchmarks()) {  // 2. external benchmarks
        const CsvTable t = read_csv(file(eb.file));
        const auto cm = t.column("Model version"), cs = t.column(eb.column);
        for (index_t r = 0; r < t.size(); ++r) {
            const std::string model(trim(t.cell(r, cm)));
            if (model.empty() || trim(t.cell(r, cs)).empty()) {
                report.add("rows without model version or score");
                continue;
            }
            builder.add(model, eb.name, scale_score(t.cell(r, cs), eb.scale, t.where(r, cs)));
        }
    }
    Dataset d = builder.build();
    filter_min_benchmarks(d, opt.min_benchmarks_exclusive);  // 3.

    {   // 4. release dates from model_versions.csv
        const auto path = file("model_versions.csv");
        const CsvTable t = read_csv(path);
        const auto cid = t.column("id"), cd = t.column("Version release date");
        std::unordered_map<std::string, std::string> date_of;
        for (index_t r = 0; r < t.size(); ++r) date_of.emplace(std::string(trim(t.cell(r, cid))), t.cell(r, cd));
        std::vector<bool> known(static_cast<std::size_t>(d.num_models()), false);
        for (index_t m = 0; m < d.num_models(); ++m) {
            const auto& name = d.models[static_cast<std::size_t>(m)];
            const auto it = date_of.find(name);
            if (it == date_of.end()) {
                if (opt.unknown_model == UnknownModel::error)
                    throw parse_error(path + ": unknown model '" + name + "' (scored, but not in model_versions.csv)");
                continue;
            }
            known[static_cast<std::size_t>(m)] = true;
            Date date;
            if (try_parse_date(it->second, date)) d.release[static_cast<std::size_t>(m)] = decimal_year(date);
        }
        filter_models(d, [&](index_t m) { return known[static_cast<std::size_t>(m)]; }, "model not in model_versions.csv");
        if (!opt.released_since.empty())
            filter_released_since(d, decimal_year(parse_date(opt.released_since, "EpochOptions::released_since")),
                                  opt.released_since);
    }
    return d;
}

}  // namespace ward::irt
