#pragma once
// The tensor layer on the CPU: Tensor, element-wise expressions, reductions, and the executor
// that evaluates them.

#include "ward/backend/cpu/executor.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/reduce.hpp"
#include "ward/tensor/tensor.hpp"
