#pragma once
// The cross-device op table, in the spirit of ggml's test-backend-ops: every op of ward's public
// front ends (element-wise math, casts, reductions, contiguous copies of views, matmul with its
// epilogues, softmax, norms, embedding, concat/split, random draws, losses, attention) and,
// through the tape, the gradient of every op that has one, each over a few layouts: dense,
// transposed, sliced with a step, broadcast, empty and odd sizes. make_table<Ref, Dev>() builds
// the cases; op_table_harness.hpp runs them on both devices and compares (or times them).
//
// Where an op does not take a dtype on a device the case says "not on <device>" instead of not
// compiling: the fused kernels are found through the has_* concepts of tensor/fused.hpp, and the
// kernels that refuse a dtype by static_assert (no constraint to test) through the traits of
// op_table_forward.hpp (matmul_takes), which a device's program specialises.
//
//   op_table_harness.hpp   inputs, outputs, the error and its thresholds, the check and perf loops
//   op_table_forward.hpp   the forward cases and the operand layouts
//   op_table_grads.hpp     the gradient cases, losses and attention

#include "op_table_forward.hpp"
#include "op_table_grads.hpp"

namespace ward_test::op_table {

/// The whole table.
template <class Ref, class Dev>
Table<Ref, Dev> make_table() {
    Table<Ref, Dev> t;
    add_elementwise<float>(t);
    add_elementwise<bf16>(t);
    add_casts(t);
    add_random(t);
    add_reductions<float>(t);
    add_reductions<bf16>(t);
    add_copies<float>(t);
    add_copies<bf16>(t);
    add_matmul<float>(t);
    add_matmul<bf16>(t);
    add_rows<float>(t);
    add_rows<bf16>(t);
    add_gathers<float>(t);
    add_gathers<bf16>(t);
    add_grads<float>(t);
    add_grads<bf16>(t);
    add_losses<float>(t);
    add_losses<bf16>(t);
    return t;
}

}  // namespace ward_test::op_table
