#pragma once
// Defences against harmful fine-tuning: composable loss terms over one shared forward context,
// RepNoise, and the training loop.

#include "ward/defence/batch.hpp"
#include "ward/defence/context.hpp"
#include "ward/defence/loss_terms.hpp"
#include "ward/defence/mmd.hpp"
#include "ward/defence/repnoise.hpp"
#include "ward/defence/representation.hpp"
#include "ward/defence/term.hpp"
#include "ward/defence/train.hpp"
#include "ward/nn/clone.hpp"
#include "ward/tensor.hpp"
