#pragma once
// CMDPs as JSON, and solutions back to JSON:
//
//   {"states": 2, "actions": 2, "gamma": 0.5,
//    "P": [[[1, 0], [0, 1]], [[1, 0], [1, 0]]],      P[s][a][s']
//    "reward": [[0, 2], [1, 1]], "cost": [[0, 1], [0, 0]],   [s][a]
//    "mu0": [1, 0], "threshold": 0.6667}
//
// `states` and `actions` are counts, or lists of names. Unknown fields are ignored. Errors name the file and
// the field: parse_error for syntax, missing fields and wrong types, then validate()'s shape_error and
// value_error for sizes, probabilities and non-finite numbers.

#include <ward/cmdp/evaluate.hpp>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ward::cmdp {

namespace detail {

inline const nlohmann::json& field(const nlohmann::json& j, const std::string& source, const char* name) {
    const auto it = j.find(name);
    if (it == j.end()) throw parse_error(source + ": missing field '" + name + "'");
    return *it;
}

inline double json_number(const nlohmann::json& j, const std::string& source, const std::string& path) {
    if (!j.is_number()) throw parse_error(source + ": field '" + path + "' must be a number, not " + j.type_name());
    return j.get<double>();
}

inline std::vector<double> json_numbers(const nlohmann::json& j, const std::string& source, const std::string& path) {
    if (!j.is_array()) throw parse_error(source + ": field '" + path + "' must be an array of numbers, not " + j.type_name());
    std::vector<double> v;
    for (std::size_t i = 0; i < j.size(); ++i) v.push_back(json_number(j[i], source, path + "[" + std::to_string(i) + "]"));
    return v;
}

inline Table json_table(const nlohmann::json& j, const std::string& source, const std::string& path) {
    if (!j.is_array()) throw parse_error(source + ": field '" + path + "' must be an array of arrays, not " + j.type_name());
    Table t;
    for (std::size_t i = 0; i < j.size(); ++i) t.push_back(json_numbers(j[i], source, path + "[" + std::to_string(i) + "]"));
    return t;
}

/// A count, or a list of names (whose length is the count).
inline std::size_t json_count(const nlohmann::json& j, const std::string& source, const char* name, std::vector<std::string>& names) {
    if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i) {
            if (!j[i].is_string())
                throw parse_error(source + ": field '" + name + "[" + std::to_string(i) + "]' must be a name (string), not " + j[i].type_name());
            names.push_back(j[i].get<std::string>());
        }
        return names.size();
    }
    if (!j.is_number_integer() || j.get<long long>() < 1)
        throw parse_error(source + ": field '" + name + "' must be a positive integer or a list of names, not " + j.dump());
    return static_cast<std::size_t>(j.get<long long>());
}

}  // namespace detail

/// A CMDP from a parsed JSON object; `source` names it in error messages. The result is validated.
inline Cmdp from_json(const nlohmann::json& j, const std::string& source = "cmdp") {
    if (!j.is_object()) throw parse_error(source + ": expected a JSON object with the CMDP's fields, not " + std::string(j.type_name()));
    Cmdp m;
    m.states = detail::json_count(detail::field(j, source, "states"), source, "states", m.state_names);
    m.actions = detail::json_count(detail::field(j, source, "actions"), source, "actions", m.action_names);
    m.gamma = detail::json_number(detail::field(j, source, "gamma"), source, "gamma");
    m.threshold = detail::json_number(detail::field(j, source, "threshold"), source, "threshold");
    const nlohmann::json& P = detail::field(j, source, "P");
    if (!P.is_array()) throw parse_error(source + ": field 'P' must be an array (P[s][a][s']), not " + std::string(P.type_name()));
    for (std::size_t s = 0; s < P.size(); ++s) m.P.push_back(detail::json_table(P[s], source, "P[" + std::to_string(s) + "]"));
    m.reward = detail::json_table(detail::field(j, source, "reward"), source, "reward");
    m.cost = detail::json_table(detail::field(j, source, "cost"), source, "cost");
    m.mu0 = detail::json_numbers(detail::field(j, source, "mu0"), source, "mu0");
    validate(m, source);
    return m;
}

/// Reads and validates a CMDP from a JSON file; errors start with the file's name.
inline Cmdp read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw io_error(path + ": cannot open the file");
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw parse_error(path + ": not valid JSON: " + e.what());
    }
    return from_json(j, path);
}

/// The CMDP as JSON, in the layout from_json reads.
inline nlohmann::json to_json(const Cmdp& m) {
    nlohmann::json j;
    j["states"] = m.state_names.empty() ? nlohmann::json(m.states) : nlohmann::json(m.state_names);
    j["actions"] = m.action_names.empty() ? nlohmann::json(m.actions) : nlohmann::json(m.action_names);
    j["gamma"] = m.gamma;
    j["P"] = m.P;
    j["reward"] = m.reward;
    j["cost"] = m.cost;
    j["mu0"] = m.mu0;
    j["threshold"] = m.threshold;
    return j;
}

/// A solution as JSON: optimal_value (J_r, unnormalised), cost (J_c), lagrange_multiplier, policy[s][a].
inline nlohmann::json to_json(const Solution& s) {
    return {{"optimal_value", s.value}, {"cost", s.cost}, {"lagrange_multiplier", s.multiplier}, {"policy", s.policy}};
}

}  // namespace ward::cmdp
