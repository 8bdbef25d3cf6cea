#pragma once
// Training loops: the step loop with checkpoints and progress, and the language-model trainer.

#include "ward/tensor.hpp"
#include "ward/train/checkpoint.hpp"
#include "ward/train/lm_trainer.hpp"
#include "ward/train/loop.hpp"
#include "ward/train/progress.hpp"
