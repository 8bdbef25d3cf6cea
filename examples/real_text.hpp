#pragma once
// What the real-text programs (defence_text, rlhf_text) share: the model (a Hugging Face directory, or a
// small random GPT-2 for smoke runs), the judge, and DecodingTrust's refusals without their preamble.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ward/eval/classifier_judge.hpp>
#include <ward/eval/decodingtrust.hpp>
#include <ward/eval/judge.hpp>
#include <ward/io/dialogue.hpp>
#include <ward/io/tokenizer.hpp>
#include <ward/nn/clone.hpp>
#include <ward/nn/hf.hpp>

namespace real_text {

/// DecodingTrust's refusals repeat the prompt and continuation before the refusal proper.
inline std::string refusal_proper(const std::string& r) {
    if (r.rfind("Prompt:", 0) != 0) return r;
    const auto blank = r.find("\n\n");
    return blank == std::string::npos ? r : r.substr(blank + 2);
}

/// Where a chat model's answer ends: the model's own stop ids (generation_config.json, then config.json;
/// the tokenizer's eos where neither names one) and the template's end-of-turn token.
inline std::vector<std::int64_t> chat_stop_tokens(const std::string& model_dir, const ward::io::Tokenizer& tok, const ward::io::Dialogue& format) {
    std::vector<std::int64_t> stop = model_dir.empty() ? std::vector<std::int64_t>() : ward::nn::stop_token_ids(model_dir);
    if (auto eos = tok.eos_id(); stop.empty() && eos) stop.push_back(*eos);
    if (auto end = format.end_of_turn_id(); end && std::find(stop.begin(), stop.end(), *end) == stop.end()) stop.push_back(*end);
    return stop;
}

/// The model in `dir`, loaded as T on D, or (dir empty) a random GPT-2 of 2 layers x 64 over the
/// tokenizer's vocabulary, drawn in f32 on the host so that every device and element type starts
/// alike: it knows nothing, so its results only show the machinery.
template <ward::FloatElement T = float, ward::Device D = ward::cpu>
ward::nn::CausalLM<T, D> model_or_random_gpt2(const std::string& dir, const ward::io::Tokenizer& tok, ward::index_t max_len,
                                             std::uint64_t seed) {
    if (!dir.empty()) return ward::nn::load_causal_lm<T, D>(dir);
    ward::nn::TransformerConfig c;
    c.vocab_size = static_cast<ward::index_t>(tok.vocab_size());
    c.hidden = 64;
    c.layers = 2;
    c.heads = c.kv_heads = 4;
    c.intermediate = 256;
    c.max_positions = 2 * max_len;
    return ward::nn::to_dtype<T>(ward::nn::to_device<D>(ward::nn::CausalLM<float>(c, seed)));
}

/// Calls run(judge) with the judge the command line names: `judge_command` (JSONL on stdin, one score
/// per line out) where it is given, else a classifier trained with ward on the labelled text in
/// `judge_file` (DecodingTrust's layout), reading the tokenizer's ids.
template <class Run>
void with_judge(const std::string& judge_command, const std::string& judge_file, const ward::io::Tokenizer& tok, Run&& run) {
    if (!judge_command.empty()) {
        auto judge = ward::eval::ExternalCommandJudge::shell(judge_command);
        run(judge);
        return;
    }
    ward::eval::ClassifierJudge judge([&](std::string_view s) { return tok.encode(std::string(s)); });
    judge.fit(ward::eval::read_decodingtrust_toxicity(judge_file));
    run(judge);
}

}  // namespace real_text
