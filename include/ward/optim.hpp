#pragma once
// Optimisers (SGD, Adam, AdamW) with parameter groups and saved state, f32 master weights for bf16
// models, gradient clipping and learning-rate schedules, with the CPU tensor layer they run on.

#include "ward/optim/adam.hpp"
#include "ward/optim/clip.hpp"
#include "ward/optim/master_weights.hpp"
#include "ward/optim/optimizer.hpp"
#include "ward/optim/parameter.hpp"
#include "ward/optim/schedule.hpp"
#include "ward/optim/sgd.hpp"
#include "ward/tensor.hpp"
