#pragma once
// What the RLHF procedures (PPO, RLOO, DPO) keep besides weights and optimiser state: their per-iteration
// logs and their constraint's state, saved with every checkpoint of the shared loop (a
// train::CheckpointState) and restored on resume, so the resumed run returns the whole history.

#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ward/rl/constraint.hpp"
#include "ward/train/loop.hpp"

namespace ward::rl {

/// One record per iteration (or step): reward, cost, kl, lambda, losses, seconds ...
using IterationLog = std::map<std::string, double>;

namespace detail {

/// Iteration logs (JSON metadata) and the constraint's state, for the checkpoint.
template <Constraint C>
struct RlState {
    C* constraint;
    std::vector<IterationLog>* logs;
    std::string key;
    void write(io::SafetensorsWriter& w) const {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& l : *logs) {
            nlohmann::json o = nlohmann::json::object();
            for (const auto& [k, v] : l) o[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
            a.push_back(std::move(o));
        }
        w.add_metadata(key, a.dump());
        constraint->write(w, "rl.constraint.");
    }
    void check(const io::SafetensorsFile& f) const {
        if (!f.metadata().count(key)) throw parse_error(f.path().string() + ": checkpoint has no '" + key + "'");
        constraint->check(f, "rl.constraint.");
    }
    void read(const io::SafetensorsFile& f) {
        logs->clear();
        try {
            for (const auto& o : nlohmann::json::parse(f.metadata().at(key))) {
                IterationLog l;
                for (const auto& [k, v] : o.items()) l[k] = v.is_null() ? unmeasured : v.template get<double>();
                logs->push_back(std::move(l));
            }
        } catch (const nlohmann::json::exception& e) {
            throw parse_error(f.path().string() + ": '" + key + "' is malformed: " + e.what());
        }
        constraint->read(f, "rl.constraint.");
    }
};

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace detail

}  // namespace ward::rl
