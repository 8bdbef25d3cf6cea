#pragma once
// Sampling completions from a policy for on-policy training (PPO, RLOO, the constraints' samples under
// DPO) and best-of-n: prompts in chunks through the KV-cache generator (nn/generate.hpp), seeded, so a
// seed and the policy's weights fix every sample. Completions come back as ids and decoded text.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ward/io/dialogue.hpp"
#include "ward/nn/generate.hpp"
#include "ward/rl/scorer.hpp"

namespace ward::rl {

/// Prompts as text and as ids.
struct PromptSet {
    std::vector<std::string> text;
    std::vector<std::vector<std::int64_t>> ids;
    std::size_t size() const { return ids.size(); }
};

namespace detail {
/// Prompts kept as text (what a judge reads) with the ids encode(text) gives.
template <class Encode>
PromptSet make_prompts(const std::vector<std::string>& text, const Encode& encode) {
    PromptSet p;
    for (const auto& t : text) {
        p.text.push_back(t);
        p.ids.push_back(encode(t));
        if (p.ids.back().empty()) throw value_error("make_prompts: prompt " + std::to_string(p.ids.size() - 1) + " encodes to no tokens");
    }
    return p;
}
}  // namespace detail

inline PromptSet make_prompts(const std::vector<std::string>& text, const TextCodec& codec) {
    return detail::make_prompts(text, codec.encode);
}

/// Prompts kept as text (what a judge reads) with the ids `format` generates the answer from: in a
/// chat format, the template's generation prompt.
inline PromptSet make_prompts(const std::vector<std::string>& text, const io::Dialogue& format) {
    return detail::make_prompts(text, [&](const std::string& t) { return format.prompt(t); });
}

struct SamplingOptions {
    index_t max_new_tokens = 32;
    double temperature = 1.0;  // 0: greedy
    index_t top_k = 0;
    double top_p = 1.0;
    std::vector<std::int64_t> stop_tokens;
    std::int64_t pad_id = 0;
    index_t batch_size = 64;  // prompts generated together
};

/// Completions of prompts[rows[i]] for each i, sampled in chunks; chunk c draws from seed (seed, c).
template <FloatElement T, Device D>
Completions sample_completions(const nn::CausalLM<T, D>& policy, const PromptSet& prompts, const std::vector<std::size_t>& rows,
                               const SamplingOptions& opt, const TextCodec& codec, std::uint64_t seed) {
    if (opt.batch_size <= 0) throw value_error("sample_completions: batch size must be positive");
    if (opt.max_new_tokens <= 0) throw value_error("sample_completions: max_new_tokens must be positive");
    Completions c;
    nn::GenerateOptions g;
    g.max_new_tokens = opt.max_new_tokens;
    g.temperature = opt.temperature;
    g.top_k = opt.top_k;
    g.top_p = opt.top_p;
    g.stop_tokens = opt.stop_tokens;
    g.pad_id = opt.pad_id;
    std::uint64_t chunk = 0;
    for (std::size_t start = 0; start < rows.size(); start += static_cast<std::size_t>(opt.batch_size), ++chunk) {
        std::vector<std::vector<std::int64_t>> ids;
        for (std::size_t i = start; i < std::min(rows.size(), start + static_cast<std::size_t>(opt.batch_size)); ++i) {
            if (rows[i] >= prompts.size()) throw index_error("sample_completions: prompt " + std::to_string(rows[i]) + " of " + std::to_string(prompts.size()));
            ids.push_back(prompts.ids[rows[i]]);
            c.prompt_ids.push_back(prompts.ids[rows[i]]);
            c.prompts.push_back(prompts.text[rows[i]]);
        }
        g.seed = seed * 0x9E3779B97F4A7C15ull + chunk;
        for (auto& out : nn::generate(policy, ids, g)) {
            c.completions.push_back(codec.decode(out));
            c.completion_ids.push_back(std::move(out));
        }
    }
    return c;
}

/// The rows of draw `draw`: `count` indices into n items taken in turn from a seeded shuffle of them,
/// reshuffled each time it is used up, so draw k is a function of (seed, k) alone.
inline std::vector<std::size_t> draw_rows(std::size_t n, std::size_t count, std::uint64_t seed, std::uint64_t draw) {
    if (n == 0) throw value_error("draw_rows: nothing to draw from");
    std::vector<std::size_t> rows, order;
    std::uint64_t have = ~0ull;
    for (std::uint64_t k = draw * count; k < (draw + 1) * count; ++k) {
        if (const std::uint64_t epoch = k / n; epoch != have) {
            order = shuffled_indices(n, Generator(seed, 0x70726f6du + epoch));
            have = epoch;
        }
        rows.push_back(order[k % n]);
    }
    return rows;
}

}  // namespace ward::rl
