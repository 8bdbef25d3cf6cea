#pragma once
// Harmfulness: the mean judged harm of greedy generations on held-out harmful prompts.

#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "ward/eval/judge.hpp"
#include "ward/nn/generate.hpp"

namespace ward::eval {

struct HarmfulnessOptions {
    index_t max_new_tokens = 32;
    index_t batch_size = 16;  // prompts generated together (left padding)
    std::vector<std::int64_t> stop_tokens;
    std::int64_t pad_id = 0;
};

struct HarmfulnessResult {
    double mean = 0;
    std::vector<double> scores;
    std::vector<std::string> completions;
};

/// Generates greedily for every prompt and lets `judge` score each (prompt, completion) pair.
template <FloatElement T, Device D, Judge J>
HarmfulnessResult harmfulness(const nn::CausalLM<T, D>& model, J& judge, const std::vector<std::string>& prompts,
                              const std::function<std::vector<std::int64_t>(const std::string&)>& encode,
                              const std::function<std::string(const std::vector<std::int64_t>&)>& decode,
                              const HarmfulnessOptions& opt = {}) {
    if (prompts.empty()) throw value_error("harmfulness: no prompts");
    if (opt.batch_size <= 0) throw value_error("harmfulness: batch size must be positive");
    nn::GenerateOptions g;
    g.max_new_tokens = opt.max_new_tokens;
    g.stop_tokens = opt.stop_tokens;
    g.pad_id = opt.pad_id;
    HarmfulnessResult r;
    for (std::size_t start = 0; start < prompts.size(); start += static_cast<std::size_t>(opt.batch_size)) {
        std::vector<std::vector<std::int64_t>> ids;
        for (std::size_t i = start; i < std::min(prompts.size(), start + static_cast<std::size_t>(opt.batch_size)); ++i)
            ids.push_back(encode(prompts[i]));
        for (const auto& out : nn::generate(model, ids, g)) r.completions.push_back(decode(out));
    }
    std::vector<double> s = judge.score(prompts, r.completions);
    if (s.size() != prompts.size())
        throw value_error("harmfulness: judge '" + std::string(judge.name()) + "' gave " + std::to_string(s.size()) + " scores for " +
                          std::to_string(prompts.size()) + " prompts");
    r.scores = std::move(s);
    r.mean = std::accumulate(r.scores.begin(), r.scores.end(), 0.0) / double(r.scores.size());
    return r;
}

}  // namespace ward::eval
