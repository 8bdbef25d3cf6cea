#pragma once
// The whole library: every layer through its umbrella header. Compiled by nvcc, it also brings in
// the CUDA backend (ward::cuda tensors).

#include "ward/attack.hpp"
#include "ward/autograd.hpp"
#include "ward/cmdp.hpp"
#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/process_memory.hpp"
#include "ward/core/rng.hpp"
#include "ward/core/shape.hpp"
#include "ward/data.hpp"
#include "ward/defence.hpp"
#include "ward/eval.hpp"
#include "ward/io.hpp"
#include "ward/irt.hpp"
#include "ward/nn.hpp"
#include "ward/optim.hpp"
#include "ward/rl.hpp"
#include "ward/tensor.hpp"
#include "ward/train.hpp"

#if defined(__CUDACC__)
#include "ward/cuda.cuh"
#endif
