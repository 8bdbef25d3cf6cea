#pragma once
// Generalised advantage estimation (Schulman et al. 2016) over one finished trajectory, and whitening:
//   delta_t = r_t + gamma V_{t+1} - V_t   (V_T = 0: the episode ends after its last token)
//   A_t = delta_t + gamma lambda A_{t+1},  A_T = 0;   the value target (return) is A_t + V_t.
// lambda = 1 gives the Monte-Carlo return minus V_t; lambda = 0 the one-step TD error.

#include <cmath>
#include <string>
#include <vector>

#include "ward/core/error.hpp"

namespace ward::rl {

struct Advantages {
    std::vector<double> advantages, returns;
};

inline Advantages gae(const std::vector<double>& rewards, const std::vector<double>& values, double gamma, double lambda) {
    if (rewards.size() != values.size())
        throw shape_error("gae: " + std::to_string(rewards.size()) + " rewards, " + std::to_string(values.size()) + " values");
    if (!(gamma >= 0 && gamma <= 1) || !(lambda >= 0 && lambda <= 1))
        throw value_error("gae: gamma " + std::to_string(gamma) + " and lambda " + std::to_string(lambda) + " must lie in [0, 1]");
    Advantages a{std::vector<double>(rewards.size()), std::vector<double>(rewards.size())};
    double next_value = 0, next_advantage = 0;
    for (std::size_t k = rewards.size(); k-- > 0;) {
        const double delta = rewards[k] + gamma * next_value - values[k];
        next_advantage = delta + gamma * lambda * next_advantage;
        a.advantages[k] = next_advantage;
        a.returns[k] = next_advantage + values[k];
        next_value = values[k];
    }
    return a;
}

/// x <- (x - mean) / std over all entries (population std); centred only when the spread is below 1e-8
/// (all advantages equal: nothing to scale, and no division by zero).
inline void whiten(std::vector<double>& x) {
    if (x.empty()) return;
    double mean = 0;
    for (double v : x) mean += v;
    mean /= double(x.size());
    double var = 0;
    for (double v : x) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / double(x.size()));
    for (double& v : x) v = sd > 1e-8 ? (v - mean) / sd : v - mean;
}

}  // namespace ward::rl
