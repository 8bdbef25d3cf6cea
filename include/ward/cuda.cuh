#pragma once
// The CUDA backend (compile with nvcc): Tensor<T, cuda> memory (a caching allocator on per-thread
// streams), the expression executor's kernels and cuBLASLt matmul, with the core and tensor layers
// they serve. <ward/ward.hpp> compiled by nvcc includes this too; a .cu file that needs only
// tensors includes this alone and skips parsing the layers above.

#include "ward/backend/cuda/backend.cuh"
#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/executor.cuh"
#include "ward/backend/cuda/matmul.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/process_memory.hpp"
#include "ward/core/rng.hpp"
#include "ward/core/shape.hpp"
#include "ward/tensor.hpp"
