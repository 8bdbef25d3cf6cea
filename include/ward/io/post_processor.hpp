#pragma once
// Post-processors of a Hugging Face tokenizer.json: what encode(text, add_special_tokens = true)
// adds around the ids of one sequence. Supported (alone or in a Sequence):
//   TemplateProcessing{single, special_tokens}   (Llama-2: "<s> $A"; Llama-3: "<|begin_of_text|> $A")
//   BertProcessing{cls, sep}, RobertaProcessing{cls, sep}   cls $A sep
//   ByteLevel                                     offsets only: no change to the ids
// Only single sequences: the "pair" template is not read.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/core/error.hpp"
#include "ward/io/json_field.hpp"

namespace ward::io {

class PostProcessor {
public:
    /// One item of the single-sequence template: the sequence itself, or fixed ids.
    struct Piece {
        bool is_sequence = false;
        std::vector<std::int32_t> ids;  // when not the sequence
    };

    PostProcessor() = default;
    explicit PostProcessor(std::vector<Piece> single) : single_(std::move(single)), set_(true) {}

    /// From a tokenizer.json "post_processor" value (null: none).
    static PostProcessor from_json(const nlohmann::json& config, const std::string& file) {
        PostProcessor p;
        if (!config.is_null()) p.add(config, file, "post_processor");
        return p;
    }

    /// "<s> $A </s>"-style: `before`, the sequence, `after`.
    static PostProcessor around(std::vector<std::int32_t> before, std::vector<std::int32_t> after) {
        return PostProcessor({Piece{false, std::move(before)}, Piece{true, {}}, Piece{false, std::move(after)}});
    }

    /// Whether a template was given (ByteLevel alone gives none).
    bool adds_tokens() const { return set_; }
    const std::vector<Piece>& single() const { return single_; }

    std::vector<std::int32_t> apply(std::vector<std::int32_t> ids) const {
        if (!set_) return ids;
        std::vector<std::int32_t> out;
        for (const Piece& p : single_) {
            const auto& part = p.is_sequence ? ids : p.ids;
            out.insert(out.end(), part.begin(), part.end());
        }
        return out;
    }

private:
    std::vector<Piece> single_;
    bool set_ = false;

    void set(std::vector<Piece> single, const std::string& file, const std::string& where) {
        // A Sequence of two templates would apply both; no tokenizer does that, so refuse it.
        if (set_) throw parse_error(file + ": " + where + " is a second template; only one is supported");
        single_ = std::move(single);
        set_ = true;
    }

    static std::int32_t id_of(const nlohmann::json& pair, const std::string& file, const std::string& where) {
        // cls/sep are ["<s>", 0]
        if (!pair.is_array() || pair.size() != 2 || !pair[1].is_number_integer())
            throw parse_error(file + ": " + where + " must be [token, id], got " + detail::json_excerpt(pair));
        return json_as<std::int32_t>(pair[1], file + ": field '" + where + "[1]'");
    }

    void add(const nlohmann::json& config, const std::string& file, const std::string& where) {
        if (!config.is_object()) throw parse_error(file + ": " + where + " is not an object: " + detail::json_excerpt(config));
        const std::string type = json_field<std::string>(config, "type", file, where + ".");
        if (type == "Sequence") {
            if (!config.contains("processors") || !config["processors"].is_array())
                throw parse_error(file + ": " + where + ".processors must be an array");
            std::size_t i = 0;
            for (const auto& inner : config["processors"]) add(inner, file, where + ".processors[" + std::to_string(i++) + "]");
        } else if (type == "ByteLevel") {
            // changes offsets only
        } else if (type == "BertProcessing" || type == "RobertaProcessing") {
            const std::int32_t cls = id_of(config.value("cls", nlohmann::json()), file, where + ".cls");
            const std::int32_t sep = id_of(config.value("sep", nlohmann::json()), file, where + ".sep");
            set({Piece{false, {cls}}, Piece{true, {}}, Piece{false, {sep}}}, file, where);
        } else if (type == "TemplateProcessing") {
            set(template_pieces(config, file, where), file, where);
        } else {
            throw parse_error(file + ": " + where + " " + detail::json_excerpt(config, 200) +
                              " is not supported (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel and "
                              "Sequence are)");
        }
    }

    static std::vector<Piece> template_pieces(const nlohmann::json& config, const std::string& file, const std::string& where) {
        const auto& single = config.contains("single") ? config["single"] : nlohmann::json();
        const auto& specials = config.contains("special_tokens") ? config["special_tokens"] : nlohmann::json::object();
        if (!single.is_array()) throw parse_error(file + ": " + where + ".single must be an array");
        if (!specials.is_object()) throw parse_error(file + ": " + where + ".special_tokens must be an object");
        std::vector<Piece> pieces;
        for (std::size_t i = 0; i < single.size(); ++i) {
            const std::string at = where + ".single[" + std::to_string(i) + "]";
            const auto& item = single[i];
            if (item.is_object() && item.contains("Sequence")) {
                const std::string id = json_field<std::string>(item["Sequence"], "id", file, at + ".Sequence.");
                if (id != "A") throw parse_error(file + ": " + at + " names sequence " + id + " in a single template");
                pieces.push_back({true, {}});
            } else if (item.is_object() && item.contains("SpecialToken")) {
                const std::string name = json_field<std::string>(item["SpecialToken"], "id", file, at + ".SpecialToken.");
                if (!specials.contains(name))
                    throw parse_error(file + ": " + at + " names '" + name + "', which is not in " + where + ".special_tokens");
                const auto& ids = specials[name].is_object() && specials[name].contains("ids") ? specials[name]["ids"] : nlohmann::json();
                if (!ids.is_array())
                    throw parse_error(file + ": " + where + ".special_tokens['" + name + "'].ids must be an array");
                Piece p;
                for (const auto& id : ids)
                    p.ids.push_back(json_as<std::int32_t>(id, file + ": field '" + where + ".special_tokens['" + name + "'].ids'"));
                pieces.push_back(std::move(p));
            } else {
                throw parse_error(file + ": " + at + " is " + detail::json_excerpt(item) + ", not a Sequence or SpecialToken");
            }
        }
        return pieces;
    }
};

}  // namespace ward::io
