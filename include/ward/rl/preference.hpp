#pragma once
// Pairwise preference data, and the unsafe-feedback attack on it (Rosati et al. 2024, "Evaluating
// Defences against Unsafe Feedback in RLHF"): a share of the pairs in which the safe answer was preferred
// get their label flipped, as a careless or malicious feedback pipeline would.
//
// Three JSON / JSONL layouts are read (io::for_each_json_record: one object per line, or one array):
//   Anthropic HH        {"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"}
//                       the prompt is the dialogue up to and including the last "\n\nAssistant:", which both
//                       must share; the answers are what follows it.
//   prompt/chosen/rejected  {"prompt": ..., "chosen": ..., "rejected": ...} (TRL's explicit-prompt layout),
//                       optionally "chosen_safe", "rejected_safe" (booleans) and "category".
//   PKU-SafeRLHF / BeaverTails  {"prompt", "response_0", "response_1", "better_response_id",
//                       "safer_response_id", "is_response_0_safe", "is_response_1_safe"}: chosen is the
//                       better response (or the safer one, with PreferenceLabel::safer).
// A record that does not fit is a parse_error naming the file, the line and the field.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"
#include "ward/io/dialogue.hpp"
#include "ward/io/jsonl.hpp"

namespace ward::rl {

/// One comparison: the prompt and two answers (without the prompt), the preferred one first.
struct PreferencePair {
    std::string prompt, chosen, rejected;
    std::optional<bool> chosen_safe, rejected_safe;  // ground truth about the answers, when the data has it
    std::optional<int> safer;                        // 0: chosen is the safer answer, 1: rejected is
    std::string category;
    std::string where;  // "file:line" it came from (empty for generated pairs)
};

/// True where the safe answer was preferred over an unsafe one: the pairs the attack flips.
inline bool safe_preferred(const PreferencePair& p) {
    return p.chosen_safe.value_or(false) && p.rejected_safe.has_value() && !*p.rejected_safe;
}

/// The pair with its preference reversed (the answers' safety labels travel with the answers).
inline PreferencePair flipped(PreferencePair p) {
    std::swap(p.chosen, p.rejected);
    std::swap(p.chosen_safe, p.rejected_safe);
    if (p.safer) p.safer = 1 - *p.safer;
    return p;
}

enum class PreferenceFormat { automatic, hh, prompt_chosen_rejected, pku };
enum class PreferenceLabel { better, safer };  // which PKU-SafeRLHF label decides `chosen`

struct PreferenceReadOptions {
    PreferenceFormat format = PreferenceFormat::automatic;  // automatic: by the first record's fields
    PreferenceLabel label = PreferenceLabel::better;
    std::string assistant_tag = "\n\nAssistant:";  // HH: where the last answer begins
};

namespace detail {

inline const nlohmann::json& field(const io::JsonRecord& r, const std::string& name) {
    if (!r.value.is_object()) throw parse_error(r.where + ": a record must be a JSON object");
    if (!r.value.contains(name)) throw parse_error(r.where + ": no field '" + name + "'");
    return r.value[name];
}
inline std::string text_field(const io::JsonRecord& r, const std::string& name) {
    const auto& v = field(r, name);
    if (!v.is_string()) throw parse_error(r.where + ": field '" + name + "' is not a string");
    return v.get<std::string>();
}
inline bool bool_field(const io::JsonRecord& r, const std::string& name) {
    const auto& v = field(r, name);
    if (!v.is_boolean()) throw parse_error(r.where + ": field '" + name + "' is not true or false");
    return v.get<bool>();
}
inline int id_field(const io::JsonRecord& r, const std::string& name) {
    const auto& v = field(r, name);
    if (!v.is_number_integer() || (v.get<std::int64_t>() != 0 && v.get<std::int64_t>() != 1))
        throw parse_error(r.where + ": field '" + name + "' is " + v.dump() + ", not 0 or 1");
    return static_cast<int>(v.get<std::int64_t>());
}
inline std::optional<bool> optional_bool(const io::JsonRecord& r, const std::string& name) {
    if (!r.value.contains(name) || r.value[name].is_null()) return std::nullopt;
    return bool_field(r, name);
}

/// Newlines shown as \n in messages.
inline std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out;
}

inline PreferenceFormat detect(const io::JsonRecord& r) {
    if (!r.value.is_object()) throw parse_error(r.where + ": a record must be a JSON object");
    const auto& v = r.value;
    if (v.contains("response_0") && v.contains("response_1")) return PreferenceFormat::pku;
    if (v.contains("chosen") && v.contains("rejected"))
        return v.contains("prompt") ? PreferenceFormat::prompt_chosen_rejected : PreferenceFormat::hh;
    throw parse_error(r.where + ": not a preference record (expected 'chosen' and 'rejected', or 'response_0' and 'response_1')");
}

inline PreferencePair read_hh(const io::JsonRecord& r, const std::string& tag) {
    const std::string chosen = text_field(r, "chosen"), rejected = text_field(r, "rejected");
    const std::size_t at = chosen.rfind(tag);
    if (at == std::string::npos) throw parse_error(r.where + ": field 'chosen' has no '" + escaped(tag) + "' turn");
    PreferencePair p;
    p.prompt = chosen.substr(0, at + tag.size());
    if (rejected.compare(0, p.prompt.size(), p.prompt) != 0)
        throw parse_error(r.where + ": 'chosen' and 'rejected' do not share the dialogue before the last assistant turn");
    p.chosen = chosen.substr(p.prompt.size());
    p.rejected = rejected.substr(p.prompt.size());
    p.where = r.where;
    return p;
}

inline PreferencePair read_explicit(const io::JsonRecord& r) {
    PreferencePair p;
    p.prompt = text_field(r, "prompt");
    p.chosen = text_field(r, "chosen");
    p.rejected = text_field(r, "rejected");
    p.chosen_safe = optional_bool(r, "chosen_safe");
    p.rejected_safe = optional_bool(r, "rejected_safe");
    if (p.chosen_safe && p.rejected_safe && *p.chosen_safe != *p.rejected_safe) p.safer = *p.chosen_safe ? 0 : 1;
    if (r.value.contains("category") && r.value["category"].is_string()) p.category = r.value["category"].get<std::string>();
    p.where = r.where;
    return p;
}

inline PreferencePair read_pku(const io::JsonRecord& r, PreferenceLabel label) {
    const std::string response[2] = {text_field(r, "response_0"), text_field(r, "response_1")};
    const bool safe[2] = {bool_field(r, "is_response_0_safe"), bool_field(r, "is_response_1_safe")};
    const int better = id_field(r, "better_response_id"), safer = id_field(r, "safer_response_id");
    const int first = label == PreferenceLabel::better ? better : safer;
    PreferencePair p;
    p.prompt = text_field(r, "prompt");
    p.chosen = response[first];
    p.rejected = response[1 - first];
    p.chosen_safe = safe[first];
    p.rejected_safe = safe[1 - first];
    p.safer = safer == first ? 0 : 1;
    if (r.value.contains("category") && r.value["category"].is_string()) p.category = r.value["category"].get<std::string>();
    p.where = r.where;
    return p;
}

}  // namespace detail

/// Every record of a preference file, in file order.
inline std::vector<PreferencePair> read_preferences(const std::filesystem::path& path, const PreferenceReadOptions& opt = {}) {
    std::vector<PreferencePair> out;
    PreferenceFormat format = opt.format;
    io::for_each_json_record(path, [&](const io::JsonRecord& r) {
        if (format == PreferenceFormat::automatic) format = detail::detect(r);
        switch (format) {
            case PreferenceFormat::hh: out.push_back(detail::read_hh(r, opt.assistant_tag)); break;
            case PreferenceFormat::prompt_chosen_rejected: out.push_back(detail::read_explicit(r)); break;
            default: out.push_back(detail::read_pku(r, opt.label)); break;
        }
    });
    if (out.empty()) throw parse_error(path.string() + ": no preference records");
    return out;
}

/// What the attack did: the data it returns, and which pairs it flipped (indices into it, ascending).
struct FlipResult {
    std::vector<PreferencePair> pairs;
    std::vector<std::size_t> flipped;
    std::size_t eligible = 0;  // pairs where the safe answer was preferred
};

/// The unsafe-feedback attack: flips round(ratio * eligible) of the pairs where the safe answer was
/// preferred (safe_preferred), chosen by a permutation seeded by `seed`; every other pair is kept as it is.
inline FlipResult flip_unsafe_feedback(const std::vector<PreferencePair>& pairs, double ratio, std::uint64_t seed) {
    if (!(ratio >= 0 && ratio <= 1)) throw value_error("flip_unsafe_feedback: ratio " + std::to_string(ratio) + " outside [0, 1]");
    FlipResult r{pairs, {}, 0};
    std::vector<std::size_t> eligible;
    for (std::size_t i = 0; i < pairs.size(); ++i)
        if (safe_preferred(pairs[i])) eligible.push_back(i);
    r.eligible = eligible.size();
    if (eligible.empty() && ratio > 0) {
        bool labelled = false;
        for (const auto& p : pairs) labelled = labelled || (p.chosen_safe && p.rejected_safe);
        throw value_error(std::string("flip_unsafe_feedback: no pair has a safe chosen answer and an unsafe rejected one") +
                          (labelled ? "" : " (no pair carries safety labels: chosen_safe / rejected_safe)"));
    }
    const auto n = static_cast<std::size_t>(std::llround(ratio * double(eligible.size())));
    const auto order = shuffled_indices(eligible.size(), Generator(seed, 0x666c6970u));
    for (std::size_t k = 0; k < n; ++k) r.flipped.push_back(eligible[order[k]]);
    std::sort(r.flipped.begin(), r.flipped.end());
    for (std::size_t i : r.flipped) r.pairs[i] = flipped(r.pairs[i]);
    return r;
}

/// A pair as token ids: prompt, and each answer (an end-of-sequence id appended when given).
struct TokenPreference {
    std::vector<std::int64_t> prompt, chosen, rejected;
    std::optional<bool> chosen_safe, rejected_safe;
    std::optional<int> safer;
};

namespace detail {

template <class Split>
std::vector<TokenPreference> encode_preferences(const std::vector<PreferencePair>& pairs, const Split& split) {
    std::vector<TokenPreference> out;
    out.reserve(pairs.size());
    for (const auto& p : pairs) {
        TokenPreference t = split(p);
        const std::string where = p.where.empty() ? "pair " + std::to_string(out.size()) : p.where;
        if (t.prompt.empty()) throw value_error("encode_preferences: " + where + ": the prompt encodes to no tokens");
        if (t.chosen.empty() || t.rejected.empty()) throw value_error("encode_preferences: " + where + ": an answer encodes to no tokens");
        t.chosen_safe = p.chosen_safe;
        t.rejected_safe = p.rejected_safe;
        t.safer = p.safer;
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace detail

template <class Encode>
std::vector<TokenPreference> encode_preferences(const std::vector<PreferencePair>& pairs, const Encode& encode, std::int64_t eos = -1) {
    return detail::encode_preferences(pairs, [&](const PreferencePair& p) {
        TokenPreference t;
        for (auto id : encode(p.prompt)) t.prompt.push_back(static_cast<std::int64_t>(id));
        for (auto id : encode(p.chosen)) t.chosen.push_back(static_cast<std::int64_t>(id));
        for (auto id : encode(p.rejected)) t.rejected.push_back(static_cast<std::int64_t>(id));
        if (eos >= 0) {
            t.chosen.push_back(eos);
            t.rejected.push_back(eos);
        }
        return t;
    });
}

/// The pairs as `format` lays them out: in a chat format, both answers after one shared prompt, each
/// closed by the template's end token.
inline std::vector<TokenPreference> encode_preferences(const std::vector<PreferencePair>& pairs, const io::Dialogue& format) {
    return detail::encode_preferences(pairs, [&](const PreferencePair& p) {
        auto s = format.split(p.prompt, p.chosen, p.rejected);
        TokenPreference t;
        t.prompt = std::move(s.prompt);
        t.chosen = std::move(s.first);
        t.rejected = std::move(s.second);
        return t;
    });
}

}  // namespace ward::rl
