#pragma once
// Text generation with a KV cache: greedy, temperature, top-k and top-p sampling, stop tokens, and
// batches of prompts of different lengths (left-padded, with attention masks and per-row
// positions). Sampling draws from a seeded Generator, so a seed fixes the output.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "ward/autograd/var.hpp"
#include "ward/core/rng.hpp"
#include "ward/nn/transformer.hpp"

namespace ward::nn {

struct GenerateOptions {
    index_t max_new_tokens = 32;
    double temperature = 0.0;  // 0: greedy
    index_t top_k = 0;         // 0: no top-k filter
    double top_p = 1.0;        // 1: no nucleus filter
    std::vector<std::int64_t> stop_tokens;  // generation of a row ends after one of these
    std::int64_t pad_id = 0;
    std::uint64_t seed = 0;
    bool use_cache = true;  // false recomputes the whole sequence every step (a reference)
};

namespace detail {
/// Picks the next token from one row of logits.
template <class V>
std::int64_t pick_token(const V* logits, index_t vocab, const GenerateOptions& opt, Generator& gen) {
    if (opt.temperature <= 0) return std::max_element(logits, logits + vocab) - logits;  // first maximum
    std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b]; });
    std::size_t keep = order.size();
    if (opt.top_k > 0) keep = std::min<std::size_t>(keep, static_cast<std::size_t>(opt.top_k));
    std::vector<double> p(keep);
    const double top = double(logits[order[0]]);
    double total = 0;
    for (std::size_t i = 0; i < keep; ++i) total += p[i] = std::exp((double(logits[order[i]]) - top) / opt.temperature);
    if (opt.top_p < 1.0) {  // the smallest prefix whose probability reaches top_p
        double acc = 0;
        std::size_t n = 0;
        while (n < keep && acc < opt.top_p * total) acc += p[n++];
        keep = std::max<std::size_t>(1, n);
        total = acc;
    }
    double u = gen.uniform() * total, acc = 0;
    for (std::size_t i = 0; i < keep; ++i)
        if ((acc += p[i]) >= u) return order[i];
    return order[keep - 1];
}
}  // namespace detail

/// Continues each prompt; returns the new tokens of each row (a stop token, when met, is the last).
template <FloatElement T, Device D>
std::vector<std::vector<std::int64_t>> generate(const CausalLM<T, D>& model, const std::vector<std::vector<std::int64_t>>& prompts,
                                                const GenerateOptions& opt = {}) {
    if (prompts.empty()) return {};
    for (std::size_t i = 0; i < prompts.size(); ++i)
        if (prompts[i].empty()) throw value_error("generate: prompt " + std::to_string(i) + " is empty");
    if (opt.top_p <= 0 || opt.top_p > 1) throw value_error("generate: top_p must lie in (0, 1], got " + std::to_string(opt.top_p));
    ag::NoGrad no_grad;
    Generator gen(opt.seed);
    const index_t B = static_cast<index_t>(prompts.size()), V = model.config.vocab_size;
    index_t L = 0;
    for (const auto& p : prompts) L = std::max<index_t>(L, static_cast<index_t>(p.size()));

    // Left padding: row b's tokens sit at the end; its positions count real tokens only.
    std::vector<std::vector<std::int64_t>> seq(prompts.size());
    std::vector<std::vector<float>> real(prompts.size());
    for (index_t b = 0; b < B; ++b) {
        const auto& p = prompts[static_cast<std::size_t>(b)];
        seq[static_cast<std::size_t>(b)].assign(static_cast<std::size_t>(L) - p.size(), opt.pad_id);
        seq[static_cast<std::size_t>(b)].insert(seq[static_cast<std::size_t>(b)].end(), p.begin(), p.end());
        real[static_cast<std::size_t>(b)].assign(static_cast<std::size_t>(L) - p.size(), 0.0f);
        real[static_cast<std::size_t>(b)].resize(static_cast<std::size_t>(L), 1.0f);
    }
    auto tensor_of = [&](index_t from, index_t to) {  // ids, mask over all keys so far, positions
        std::vector<std::int64_t> ids, pos;
        std::vector<T> mask;
        for (index_t b = 0; b < B; ++b) {
            const auto& s = seq[static_cast<std::size_t>(b)];
            const auto& r = real[static_cast<std::size_t>(b)];
            std::int64_t seen = 0;  // real tokens before t: t's position
            for (index_t t = 0; t < to; ++t) {
                const bool is_real = r[static_cast<std::size_t>(t)] > 0;
                mask.push_back(element_cast<T>(is_real ? 1.0f : 0.0f));
                if (t >= from) {
                    ids.push_back(s[static_cast<std::size_t>(t)]);
                    pos.push_back(is_real ? seen : 0);
                }
                if (is_real) ++seen;
            }
        }
        ForwardContext<T, D> ctx;
        ctx.padding_mask = Tensor<T, D>::from_vector(mask, {B, to});
        ctx.position_ids = Tensor<std::int64_t, D>::from_vector(pos, {B, to - from});
        return std::pair{Tensor<std::int64_t, D>::from_vector(ids, {B, to - from}), ctx};
    };

    std::vector<KVCache<T, D>> cache;
    if (opt.use_cache) cache = model.make_cache(B, L + opt.max_new_tokens);
    std::vector<std::vector<std::int64_t>> out(prompts.size());
    std::vector<bool> done(prompts.size(), false);
    index_t fed = 0;  // positions already in the cache
    for (index_t step = 0; step < opt.max_new_tokens; ++step) {
        const index_t total = static_cast<index_t>(seq[0].size());
        auto [ids, ctx] = tensor_of(opt.use_cache ? fed : 0, total);
        if (opt.use_cache) ctx.cache = &cache;
        Tensor<T, D> logits = model.forward(ids, {}, {}, ctx).logits.value();  // (B, t, V)
        fed = total;
        Tensor<compute_t<T>> last = Tensor<compute_t<T>>(cast<compute_t<T>>(logits.select(1, ids.size(1) - 1).template to<cpu>()));
        bool all_done = true;
        for (index_t b = 0; b < B; ++b) {
            std::int64_t next = opt.pad_id;
            float is_real = 0.0f;
            if (!done[static_cast<std::size_t>(b)]) {
                next = detail::pick_token(last.data() + b * V, V, opt, gen);
                out[static_cast<std::size_t>(b)].push_back(next);
                is_real = 1.0f;
                if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), next) != opt.stop_tokens.end())
                    done[static_cast<std::size_t>(b)] = true;
            }
            seq[static_cast<std::size_t>(b)].push_back(next);
            real[static_cast<std::size_t>(b)].push_back(is_real);
            all_done = all_done && done[static_cast<std::size_t>(b)];
        }
        if (all_done) break;
    }
    return out;
}

}  // namespace ward::nn
