#pragma once
// The CUDA backend (compile with nvcc): Tensor<T, cuda> memory (a caching allocator on per-thread
// streams), the expression executor's kernels and cuBLASLt matmul. Include after, or instead of,
// <ward/ward.hpp> in a .cu file.

#include "ward/backend/cuda/backend.cuh"
#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/executor.cuh"
#include "ward/backend/cuda/matmul.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/ward.hpp"
