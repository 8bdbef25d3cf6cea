#pragma once
// A one-step language bandit for the RLHF tests: a tiny transformer sees the prompt [3] and answers one
// token y in {0, 1, 2, 3}; the reward of y is a table, so the optimum of every objective is known in
// closed form: with a KL penalty beta to the reference, pi*(y) = pi_ref(y) exp(r(y) / beta) / Z.
#include <ward/nn.hpp>
#include <ward/nn/clone.hpp>
#include <ward/rl.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace rl_test {

using namespace ward;

inline constexpr index_t vocab = 4;

inline nn::CausalLM<float> bandit_model(std::uint64_t seed) {
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    c.vocab_size = vocab;
    c.hidden = 16;
    c.layers = 1;
    c.heads = c.kv_heads = 2;
    c.intermediate = 32;
    c.max_positions = 8;
    return nn::CausalLM<float>(c, seed);
}

/// pi(y | [3]) for y = 0 .. 3.
inline std::vector<double> policy_probs(const nn::CausalLM<float>& m) {
    ag::NoGrad ng;
    auto logits = m.forward(Tensor<std::int64_t>::from_vector({3}, {1, 1})).logits.value().to_vector();
    double mx = logits[0], z = 0;
    for (auto l : logits) mx = std::max(mx, double(l));
    std::vector<double> p;
    for (auto l : logits) z += std::exp(double(l) - mx);
    for (auto l : logits) p.push_back(std::exp(double(l) - mx) / z);
    return p;
}

/// pi_ref(y) exp(r(y) / beta), normalised.
inline std::vector<double> kl_optimum(const std::vector<double>& ref, const std::vector<double>& r, double beta) {
    std::vector<double> p;
    double z = 0;
    for (std::size_t y = 0; y < ref.size(); ++y) z += ref[y] * std::exp(r[y] / beta);
    for (std::size_t y = 0; y < ref.size(); ++y) p.push_back(ref[y] * std::exp(r[y] / beta) / z);
    return p;
}

inline rl::TextCodec codec() {
    return {[](const std::string& s) { return std::vector<std::int64_t>{std::stoll(s)}; },
            [](const std::vector<std::int64_t>& ids) {
                std::string s;
                for (auto i : ids) s += (s.empty() ? "" : " ") + std::to_string(i);
                return s;
            }};
}

inline rl::PromptSet prompts() { return rl::make_prompts({"3"}, codec()); }

/// r(y) from a table, read from the completion's one token.
struct TableReward {
    std::vector<double> table;
    std::vector<double> score(const rl::Completions& c) const {
        std::vector<double> out;
        for (const auto& ids : c.completion_ids) out.push_back(table[static_cast<std::size_t>(ids.at(0))]);
        return out;
    }
    std::string name() const { return "table"; }
};

inline rl::SamplingOptions one_token() {
    rl::SamplingOptions s;
    s.max_new_tokens = 1;
    s.temperature = 1.0;
    return s;
}

}  // namespace rl_test
