#pragma once
// Representation Noising (Rosati et al. 2024): learn the refusal, ascend the harmful loss over every
// layer's logit lens, and push every layer's harmful MLP outputs towards Gaussian noise:
//   RepNoise = stability - alpha * ascent + beta * noise.

#include "ward/defence/loss_terms.hpp"
#include "ward/defence/mmd.hpp"

namespace ward::defence {

inline auto repnoise(double alpha = 1.0, double beta = 1e-3) { return stability() - alpha * ascent() + beta * mmd_noise(); }

}  // namespace ward::defence
