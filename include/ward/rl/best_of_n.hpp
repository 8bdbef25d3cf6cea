#pragma once
// Best-of-n sampling: n completions per prompt, the one a scorer ranks highest kept. An attack that
// trains nothing (Rosati et al. 2024 use it as the cheap baseline of unsafe feedback): with a reward model
// learnt from flipped preferences, it surfaces the harmful completions a safety-aligned model still
// gives now and then. The expected KL of best-of-n to the policy is at most log n - (n - 1) / n.

#include <cmath>
#include <string>
#include <vector>

#include "ward/rl/rollout.hpp"
#include "ward/rl/scorer.hpp"

namespace ward::rl {

struct BestOfN {
    Completions best;               // one per prompt, in prompt order
    std::vector<double> scores;     // the best completion's score per prompt
    std::vector<double> mean_scores;  // the mean over the n samples per prompt
};

/// The analytic upper bound on KL(best-of-n || policy): log n - (n - 1) / n.
inline double best_of_n_kl_bound(std::size_t n) {
    if (n == 0) throw value_error("best_of_n_kl_bound: n must be positive");
    return std::log(double(n)) - double(n - 1) / double(n);
}

/// Samples n completions of each prompt (seeded) and keeps the highest-scoring one (the first at ties).
template <FloatElement T, Device D, Scorer S>
BestOfN best_of_n(const nn::CausalLM<T, D>& policy, const PromptSet& prompts, std::size_t n, S& scorer, const TextCodec& codec,
                  const SamplingOptions& sampling, std::uint64_t seed) {
    if (n == 0) throw value_error("best_of_n: n must be positive");
    std::vector<std::size_t> rows;
    for (std::size_t p = 0; p < prompts.size(); ++p)
        for (std::size_t k = 0; k < n; ++k) rows.push_back(p);
    const Completions all = sample_completions(policy, prompts, rows, sampling, codec, seed);
    const std::vector<double> s = scorer.score(all);
    check_scores("best_of_n: scorer '" + std::string(scorer.name()) + "'", s, all.size());
    BestOfN out;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
        std::size_t best = p * n;
        double total = 0;
        for (std::size_t i = p * n; i < (p + 1) * n; ++i) {
            total += s[i];
            if (s[i] > s[best]) best = i;
        }
        out.best.prompt_ids.push_back(all.prompt_ids[best]);
        out.best.completion_ids.push_back(all.completion_ids[best]);
        out.best.prompts.push_back(all.prompts[best]);
        out.best.completions.push_back(all.completions[best]);
        out.scores.push_back(s[best]);
        out.mean_scores.push_back(total / double(n));
    }
    return out;
}

}  // namespace ward::rl
