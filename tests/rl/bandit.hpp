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

/// pi(y | [3]) for y = 0 .. 3, of a policy of any element type on any device.
template <FloatElement T, Device D>
std::vector<double> policy_probs(const nn::CausalLM<T, D>& m) {
    ag::NoGrad ng;
    const auto logits = rl::host_doubles(m.forward(Tensor<std::int64_t, D>::from_vector({3}, {1, 1})).logits.value());
    double mx = logits[0], z = 0;
    for (double l : logits) mx = std::max(mx, l);
    std::vector<double> p;
    for (double l : logits) z += std::exp(l - mx);
    for (double l : logits) p.push_back(std::exp(l - mx) / z);
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

/// PPO's settings on the bandit: 64 rollouts in 2 minibatches, 2 epochs (4 updates per iteration).
inline rl::PpoOptions bandit_ppo(index_t iterations) {
    rl::PpoOptions o;
    o.iterations = iterations;
    o.rollouts = 64;
    o.minibatch = 32;
    o.epochs = 2;
    o.lr = 3e-3;
    o.value_coef = 0.5;
    o.sampling = one_token();
    o.seed = 5;
    o.quiet = true;
    return o;
}

/// The bandit's preference data: for each pair of answers a < b in {0, 1, 2}, 20 comparisons of which
/// round(20 sigmoid(r_a - r_b)) prefer a, with r = (0, log 3, 2 log 3): sigmoids 1/4, 1/10, 1/4 exactly.
inline std::vector<rl::TokenPreference> bandit_preferences() {
    const double r[3] = {0.0, std::log(3.0), 2 * std::log(3.0)};
    std::vector<rl::TokenPreference> out;
    for (int a = 0; a < 3; ++a)
        for (int b = a + 1; b < 3; ++b) {
            const int wins = static_cast<int>(std::lround(20.0 / (1.0 + std::exp(r[b] - r[a]))));
            for (int k = 0; k < 20; ++k) out.push_back(k < wins ? rl::TokenPreference{{3}, {a}, {b}, {}, {}, {}} : rl::TokenPreference{{3}, {b}, {a}, {}, {}, {}});
        }
    return out;
}

/// DPO's settings on the bandit: the whole data set a step, 150 steps.
inline rl::DpoOptions bandit_dpo() {
    rl::DpoOptions o;
    o.beta = 1.0;
    o.lr = 5e-3;
    o.batch_size = 60;
    o.epochs = 150;
    o.seed = 2;
    o.quiet = true;
    o.sampling = one_token();
    o.samples = 8;
    return o;
}

}  // namespace rl_test
