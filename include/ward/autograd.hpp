#pragma once
// Reverse-mode autograd: Var, the tape, every differentiable op, losses, activation checkpointing,
// f32 segments of bf16 graphs and gradcheck.

#include "ward/autograd/attention.hpp"
#include "ward/autograd/checkpoint.hpp"
#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/fused.hpp"
#include "ward/autograd/gradcheck.hpp"
#include "ward/autograd/linalg.hpp"
#include "ward/autograd/loss.hpp"
#include "ward/autograd/nn.hpp"
#include "ward/autograd/precision.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/autograd/shape_ops.hpp"
#include "ward/autograd/var.hpp"
#include "ward/tensor.hpp"  // the CPU backend that evaluates the ops
