#pragma once
// The data a defence trains on: a harmful request with its harmful answer, paired with the same
// request and a refusal. A paired batch pads both sides to one length, so position t means the same
// thing on both, and marks which positions carry loss, which are real, and where the two differ.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ward/autograd/loss.hpp"
#include "ward/io/dialogue.hpp"
#include "ward/tensor/tensor.hpp"
#include "ward/train/lm_trainer.hpp"

namespace ward::defence {

/// One request with its harmful answer and its refusal, as token ids.
struct Pair {
    std::vector<std::int64_t> prompt, harmful, harmless;  // harmful/harmless: the answers, without the prompt
};

/// Encodes text into a Pair; an end-of-sequence id, when given, closes both answers.
template <class Encode>
Pair make_pair(const Encode& encode, const std::string& prompt, const std::string& harmful_answer,
               const std::string& refusal, std::int64_t eos = -1) {
    Pair p;
    for (auto id : encode(prompt)) p.prompt.push_back(id);
    for (auto id : encode(harmful_answer)) p.harmful.push_back(id);
    for (auto id : encode(refusal)) p.harmless.push_back(id);
    if (eos >= 0) {
        p.harmful.push_back(eos);
        p.harmless.push_back(eos);
    }
    return p;
}

/// A Pair as `format` lays it out: in a chat format both answers follow one shared prompt (the
/// generation prompt's common prefix with both conversations) and end with the template's end token.
inline Pair make_pair(const io::Dialogue& format, const std::string& prompt, const std::string& harmful_answer, const std::string& refusal) {
    auto s = format.split(prompt, harmful_answer, refusal);
    return {std::move(s.prompt), std::move(s.first), std::move(s.second)};
}

/// One side of each pair as causal-LM examples (loss on the answer only): the harmful side is what an
/// attacker fine-tunes on, the harmless side an alignment set.
inline std::vector<train::Example> side_examples(const std::vector<Pair>& pairs, bool harmful) {
    std::vector<train::Example> out;
    for (const Pair& p : pairs) {
        train::Example e;
        e.ids = p.prompt;
        const auto& answer = harmful ? p.harmful : p.harmless;
        e.ids.insert(e.ids.end(), answer.begin(), answer.end());
        e.loss_mask.assign(e.ids.size(), 1);
        for (std::size_t t = 0; t < p.prompt.size(); ++t) e.loss_mask[t] = 0;
        out.push_back(std::move(e));
    }
    return out;
}

/// Both sides of a batch of pairs, (B, T) each, T the longer side's length minus one. Targets are the
/// next tokens of the answers (prompts and padding carry ag::ignore_index).
template <FloatElement T, Device D = cpu>
struct PairedBatch {
    Tensor<std::int64_t, D> harmful_inputs, harmful_targets;
    Tensor<std::int64_t, D> harmless_inputs, harmless_targets;
    Tensor<T, D> harmful_real, harmless_real;  // (B, T): 1 where the input is a token, 0 for padding
    Tensor<T, D> differs;                      // (B, T): 1 where the harmful input is real and differs from the harmless one
    index_t harmful_tokens = 0, harmless_tokens = 0;  // positions that carry loss
    index_t batch() const { return harmful_inputs.size(0); }
    index_t length() const { return harmful_inputs.size(1); }
    /// The batch on device D2 (itself where it lives there already).
    template <Device D2>
    PairedBatch<T, D2> to() const {
        return {on_device<D2>(harmful_inputs), on_device<D2>(harmful_targets), on_device<D2>(harmless_inputs),
                on_device<D2>(harmless_targets), on_device<D2>(harmful_real), on_device<D2>(harmless_real),
                on_device<D2>(differs), harmful_tokens, harmless_tokens};
    }
};

template <FloatElement T>
PairedBatch<T, cpu> make_paired_batch(const std::vector<Pair>& pairs, const std::vector<std::size_t>& rows, std::int64_t pad_id,
                                      index_t max_len = 1024) {
    if (rows.empty()) throw value_error("make_paired_batch: no rows");
    auto side = [&](const Pair& p, bool harmful) {
        std::vector<std::int64_t> s = p.prompt;
        const auto& answer = harmful ? p.harmful : p.harmless;
        s.insert(s.end(), answer.begin(), answer.end());
        if (static_cast<index_t>(s.size()) > max_len) s.resize(static_cast<std::size_t>(max_len));
        return s;
    };
    index_t L = 0;
    for (auto r : rows) {
        if (r >= pairs.size()) throw index_error("make_paired_batch: row " + std::to_string(r) + " of " + std::to_string(pairs.size()));
        L = std::max<index_t>(L, std::max(static_cast<index_t>(side(pairs[r], true).size()), static_cast<index_t>(side(pairs[r], false).size())));
    }
    if (L < 2) throw value_error("make_paired_batch: sequences need at least 2 tokens");
    const index_t B = static_cast<index_t>(rows.size()), Tn = L - 1;
    const std::size_t n = static_cast<std::size_t>(B * Tn);
    std::vector<std::int64_t> hin(n, pad_id), htg(n, ag::ignore_index), sin(n, pad_id), stg(n, ag::ignore_index);
    std::vector<T> hreal(n, T(0)), sreal(n, T(0)), diff(n, T(0));
    PairedBatch<T, cpu> out;
    for (index_t b = 0; b < B; ++b) {
        const Pair& p = pairs[rows[static_cast<std::size_t>(b)]];
        const auto h = side(p, true), s = side(p, false);
        const index_t prompt = static_cast<index_t>(p.prompt.size());
        auto fill = [&](const std::vector<std::int64_t>& seq, std::vector<std::int64_t>& in, std::vector<std::int64_t>& tg,
                        std::vector<T>& real, index_t& tokens) {
            for (index_t t = 0; t + 1 < static_cast<index_t>(seq.size()); ++t) {
                const std::size_t i = static_cast<std::size_t>(b * Tn + t);
                in[i] = seq[static_cast<std::size_t>(t)];
                real[i] = T(1);
                if (t + 1 >= prompt) {  // the next token belongs to the answer
                    tg[i] = seq[static_cast<std::size_t>(t + 1)];
                    ++tokens;
                }
            }
        };
        fill(h, hin, htg, hreal, out.harmful_tokens);
        fill(s, sin, stg, sreal, out.harmless_tokens);
        for (index_t t = 0; t < Tn; ++t) {
            const std::size_t i = static_cast<std::size_t>(b * Tn + t);
            const bool harmful_real = hreal[i] != T(0), harmless_real = sreal[i] != T(0);
            if (harmful_real && (!harmless_real || hin[i] != sin[i])) diff[i] = T(1);
        }
    }
    const Shape s{B, Tn};
    out.harmful_inputs = Tensor<std::int64_t>::from_vector(hin, s);
    out.harmful_targets = Tensor<std::int64_t>::from_vector(htg, s);
    out.harmless_inputs = Tensor<std::int64_t>::from_vector(sin, s);
    out.harmless_targets = Tensor<std::int64_t>::from_vector(stg, s);
    out.harmful_real = Tensor<T>::from_vector(hreal, s);
    out.harmless_real = Tensor<T>::from_vector(sreal, s);
    out.differs = Tensor<T>::from_vector(diff, s);
    return out;
}

}  // namespace ward::defence
