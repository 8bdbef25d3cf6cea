#pragma once
// KL(pi || pi_ref) from samples of the policy pi, per token (Schulman 2020, "Approximating KL divergence"):
//   k1 = log pi(x) - log pi_ref(x)             unbiased, can be negative per sample
//   k2 = (log pi(x) - log pi_ref(x))^2 / 2      biased, low variance
//   k3 = (r - 1) - log r,  r = pi_ref(x) / pi(x) unbiased (E_pi[r] = 1) and never negative
// and the adaptive KL controller of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human
// Preferences"): beta <- beta (1 + clip(KL / target - 1, -0.2, 0.2) n / horizon) after n samples whose
// mean KL was KL, so the penalty grows while the policy drifts past the target and shrinks below it.

#include <algorithm>
#include <cmath>
#include <string>

#include "ward/core/error.hpp"

namespace ward::rl {

enum class KlEstimator { k1, k2, k3 };

/// One sample's estimate from the two log-probabilities of the token the policy drew.
inline double kl_estimate(KlEstimator e, double logp, double logp_ref) {
    const double d = logp - logp_ref;
    switch (e) {
        case KlEstimator::k1: return d;
        case KlEstimator::k2: return 0.5 * d * d;
        default: return std::expm1(-d) + d;  // (r - 1) - log r with log r = -d, exact near r = 1
    }
}

inline std::string to_string(KlEstimator e) { return e == KlEstimator::k1 ? "k1" : e == KlEstimator::k2 ? "k2" : "k3"; }

struct AdaptiveKlOptions {
    double init = 0.2;       // beta before any update
    double target = 6.0;     // the KL (per sequence) to hold
    double horizon = 10000;  // samples over which a full 20% correction is spread
};

class AdaptiveKlController {
public:
    explicit AdaptiveKlController(const AdaptiveKlOptions& o = {}) : o_(o), beta_(o.init) {
        if (!(o.init >= 0) || !std::isfinite(o.init)) throw value_error("AdaptiveKlController: init must be finite and >= 0");
        if (!(o.target > 0) || !std::isfinite(o.target)) throw value_error("AdaptiveKlController: target must be finite and > 0");
        if (!(o.horizon > 0) || !std::isfinite(o.horizon)) throw value_error("AdaptiveKlController: horizon must be finite and > 0");
    }
    /// After `samples` samples whose mean KL was `kl`; returns the new beta.
    double update(double kl, double samples) {
        if (!std::isfinite(kl)) throw value_error("AdaptiveKlController::update: the measured KL is " + std::to_string(kl));
        const double error = std::clamp(kl / o_.target - 1.0, -0.2, 0.2);
        beta_ *= 1.0 + error * samples / o_.horizon;
        return beta_;
    }
    double value() const { return beta_; }
    const AdaptiveKlOptions& options() const { return o_; }

private:
    AdaptiveKlOptions o_;
    double beta_;
};

}  // namespace ward::rl
