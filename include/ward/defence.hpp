#pragma once
// Defences against harmful fine-tuning: composable loss terms over one shared forward context,
// RepNoise, the training loop, and the defences that are procedures (Vaccine, Booster, Lisa,
// Security Vectors, SafeLoRA, TAR).

#include "ward/defence/batch.hpp"
#include "ward/defence/booster.hpp"
#include "ward/defence/context.hpp"
#include "ward/defence/lisa.hpp"
#include "ward/defence/loss_terms.hpp"
#include "ward/defence/mmd.hpp"
#include "ward/defence/repnoise.hpp"
#include "ward/defence/representation.hpp"
#include "ward/defence/safelora.hpp"
#include "ward/defence/security_vectors.hpp"
#include "ward/defence/tar.hpp"
#include "ward/defence/term.hpp"
#include "ward/defence/text_pairs.hpp"
#include "ward/defence/train.hpp"
#include "ward/defence/vaccine.hpp"
#include "ward/defence/weights.hpp"
#include "ward/nn/clone.hpp"
#include "ward/tensor.hpp"
