#pragma once
// The defence demo's hyper-parameters: each row's settings by name ("alpha", "lr", ...), the space
// `defence_demo --tune` searches for each defence (the same number of draws for every one), and the
// committed file that holds the tuned values and says where they came from.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <ward/core/error.hpp>
#include <ward/core/rng.hpp>
#include <ward/io/atomic_file.hpp>

namespace demo {

using Hyper = std::map<std::string, double>;  // a defence's settings by name

/// One dimension of a defence's search space: its name and the values tried.
struct Dimension {
    std::string name;
    std::vector<double> values;
};

/// Each tunable defence's space (the defence's own learning rate and step count are in it too, so
/// every method has the same freedom) and the defaults a row uses when nothing is tuned.
inline const std::map<std::string, std::vector<Dimension>>& search_spaces() {
    static const std::map<std::string, std::vector<Dimension>> spaces = {
        {"repnoise", {{"alpha", {0.25, 0.5, 1, 2, 4}}, {"beta", {1e-3, 1e-2, 0.1, 1, 4}}, {"lr", {3e-4, 1e-3, 3e-3}}}},
        {"ascent-only", {{"alpha", {0.25, 0.5, 1, 2, 4}}, {"lr", {3e-4, 1e-3, 3e-3}}}},
        {"vaccine", {{"rho", {0.1, 0.5, 1, 2, 5, 10}}, {"lr", {3e-4, 1e-3, 3e-3}}}},
        // TAR keeps the paper's inner attack of 64 steps (each outer step costs 64 harmful fine-tuning steps).
        {"tar", {{"inner_steps", {64}}, {"inner_lr", {1e-4, 1e-3, 1e-2}}, {"tamper_weight", {1, 4}}, {"lr", {3e-4, 1e-3, 3e-3}}}},
    };
    return spaces;
}

/// The settings of rows whose values are fixed: the paper's RepNoise weights (alpha 1, beta 1e-3,
/// with this model's defence learning rate; the paper's 2e-5 is for a 7B model), and the untuned
/// starting points of the others.
inline Hyper default_hyper(const std::string& defence) {
    if (defence == "repnoise-paper" || defence == "repnoise") return {{"alpha", 1.0}, {"beta", 1e-3}, {"lr", 1e-3}};
    if (defence == "ascent-only") return {{"alpha", 1.0}, {"lr", 1e-3}};
    if (defence == "vaccine") return {{"rho", 2.0}, {"lr", 1e-3}};
    if (defence == "tar") return {{"inner_steps", 64}, {"inner_lr", 1e-3}, {"tamper_weight", 4}, {"lr", 1e-3}};
    return {};
}

/// `n` distinct draws from a defence's space, in an order fixed by the seed (all of it when n is larger).
inline std::vector<Hyper> draw_configurations(const std::string& defence, std::size_t n, std::uint64_t seed) {
    const auto& space = search_spaces().at(defence);
    std::size_t total = 1;
    for (const auto& d : space) total *= d.values.size();
    std::vector<std::size_t> order(total);
    for (std::size_t i = 0; i < total; ++i) order[i] = i;
    ward::Generator gen(seed, 0x74756e65u);
    for (std::size_t i = total; i > 1; --i) std::swap(order[i - 1], order[static_cast<std::size_t>(gen.uniform() * double(i)) % i]);
    std::vector<Hyper> out;
    for (std::size_t k = 0; k < std::min(n, total); ++k) {
        Hyper h;
        std::size_t code = order[k];
        for (const auto& d : space) {
            h[d.name] = d.values[code % d.values.size()];
            code /= d.values.size();
        }
        out.push_back(std::move(h));
    }
    return out;
}

/// The tuned values the demo reads: per defence its settings, and where they came from.
struct Tuned {
    std::map<std::string, Hyper> defences;
    nlohmann::json provenance = nlohmann::json::object();  // command, seeds, budget, objective, trials
};

inline Tuned read_tuned(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw ward::io_error("cannot open tuned hyper-parameters " + file.string());
    Tuned t;
    try {
        const nlohmann::json j = nlohmann::json::parse(in);
        for (const auto& [name, values] : j.at("defences").items())
            for (const auto& [k, v] : values.items()) t.defences[name][k] = v.get<double>();
        t.provenance = j.value("provenance", nlohmann::json::object());
    } catch (const nlohmann::json::exception& e) {
        throw ward::parse_error(file.string() + ": not a tuned hyper-parameter file (" + e.what() + ")");
    }
    return t;
}

inline void write_tuned(const std::filesystem::path& file, const Tuned& t) {
    nlohmann::json defences = nlohmann::json::object();
    for (const auto& [name, values] : t.defences) defences[name] = values;
    ward::io::write_atomically(file, nlohmann::json{{"defences", defences}, {"provenance", t.provenance}}.dump(2) + "\n");
}

inline std::string describe(const Hyper& h) {
    std::string s;
    for (const auto& [k, v] : h) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s %g", s.empty() ? "" : ", ", k.c_str(), v);
        s += buf;
    }
    return s;
}

}  // namespace demo
