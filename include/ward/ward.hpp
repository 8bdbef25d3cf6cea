#pragma once
// The whole library. Compiled by nvcc, it also brings in the CUDA backend (ward::cuda tensors).

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/process_memory.hpp"
#include "ward/core/rng.hpp"
#include "ward/core/shape.hpp"
#include "ward/tensor.hpp"
