#pragma once
// What scores a batch of completions: a reward (what the policy is trained to raise) or a cost (what a
// constraint bounds). A Scorer sees each completion as token ids and as text, so a trained reward or
// cost model (rl/reward_model.hpp) and any eval::Judge (the synthetic world's rule, a trained
// classifier, an external command; eval/judge.hpp) serve alike:
//   auto cost = rl::judge_scorer(judge);           // harm in [0, 1] per completion
//   auto reward = rl::model_scorer(reward_model);  // the reward model's score per completion

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ward/core/error.hpp"
#include "ward/eval/judge.hpp"

namespace ward::rl {

/// Prompts and their completions, as ids and as text (row i of each belongs together).
struct Completions {
    std::vector<std::vector<std::int64_t>> prompt_ids, completion_ids;
    std::vector<std::string> prompts, completions;
    std::size_t size() const { return completion_ids.size(); }
};

template <class S>
concept Scorer = requires(S& s, const Completions& c) {
    { s.score(c) } -> std::convertible_to<std::vector<double>>;
    { s.name() } -> std::convertible_to<std::string>;
};

/// Text in, ids out and back: what turns prompts into ids and completions into judged text.
struct TextCodec {
    std::function<std::vector<std::int64_t>(const std::string&)> encode;
    std::function<std::string(const std::vector<std::int64_t>&)> decode;
};

/// Checks that a scorer gave one finite score per completion.
inline void check_scores(const std::string& who, const std::vector<double>& s, std::size_t expected) {
    if (s.size() != expected)
        throw value_error(who + ": " + std::to_string(s.size()) + " scores for " + std::to_string(expected) + " completions");
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!std::isfinite(s[i])) throw value_error(who + ": completion " + std::to_string(i) + " scored " + std::to_string(s[i]));
}

/// Any eval::Judge as a scorer: it reads the prompt and completion text.
template <eval::Judge J>
class JudgeScorer {
public:
    explicit JudgeScorer(J& judge) : judge_(&judge) {}
    std::vector<double> score(const Completions& c) const {
        std::vector<double> s = judge_->score(c.prompts, c.completions);
        check_scores("judge '" + std::string(judge_->name()) + "'", s, c.size());
        return s;
    }
    std::string name() const { return judge_->name(); }

private:
    J* judge_;
};

template <eval::Judge J>
JudgeScorer<J> judge_scorer(J& judge) {
    return JudgeScorer<J>(judge);
}

/// No cost: the stand-in where a procedure takes a cost scorer and none is given.
struct NoScorer {
    std::vector<double> score(const Completions&) const { return {}; }
    std::string name() const { return "none"; }
};

static_assert(Scorer<NoScorer>);

}  // namespace ward::rl
