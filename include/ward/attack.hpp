#pragma once
// Attacks on a defended model: harmful fine-tuning and its hyper-parameter search.

#include "ward/attack/finetune.hpp"
#include "ward/attack/search.hpp"
#include "ward/tensor.hpp"
