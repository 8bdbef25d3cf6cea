#pragma once
// The tensor layer on the CPU: Tensor, element-wise expressions, reductions, the heavy ops, and
// the CPU executor and backend that evaluate them.

#include "ward/backend/cpu/backend.hpp"
#include "ward/backend/cpu/executor.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"
#include "ward/tensor/reduce.hpp"
#include "ward/tensor/tensor.hpp"
