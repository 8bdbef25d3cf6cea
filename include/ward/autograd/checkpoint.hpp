#pragma once
// Activation checkpointing: y = f(x) records one node and keeps none of f's intermediate values;
// backward runs f again on the saved input, with the generators f draws from rewound to where they
// stood, and back-propagates through the rebuilt graph. One more forward of f buys the memory of
// its activations (for a transformer block: everything but the block's input).
//
//   Var y = ag::checkpoint([&](const Var<T, D>& in) { return block(in); }, x, block_weights);
//
// `params`: every Var f reads that needs a gradient (a layer's weights). They must be leaves: the
// rebuilt graph accumulates into them directly, and the checkpoint's node lists them as inputs so
// that it is recorded even when x needs no gradient (a frozen base model under LoRA).
// `generators`: those f draws from (dropout), so that the rebuilt graph draws the same masks.
// The gradients equal those of f(x) recorded whole, bit for bit (the same operations run on the
// same values), where the parameters' gradients start alike (none yet, or zeros in both).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ward/autograd/var.hpp"
#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"

namespace ward::ag {

template <FloatElement T, Device D, class F>
Var<T, D> checkpoint(F f, const Var<T, D>& x, const std::vector<Var<T, D>>& params, std::vector<Generator*> generators = {}) {
    for (const Var<T, D>& p : params)
        if (p.defined() && p.requires_grad() && !p.node()->is_leaf())
            throw value_error(std::string("checkpoint: a parameter is the result of '") + p.op() + "', not a leaf");
    std::vector<std::uint64_t> start;
    for (const Generator* g : generators) start.push_back(g->offset());
    // f runs in the caller's grad mode, so that it behaves as it will when rebuilt (LoRA's dropout
    // is on only while recording); what it records is let go with the temporary.
    Tensor<T, D> y = f(x.detach()).value();
    std::vector<Var<T, D>> inputs{x};
    for (const Var<T, D>& p : params)
        if (p.defined()) inputs.push_back(p);
    const Tensor<T, D> saved = x.value();
    return Var<T, D>::make(std::move(y), std::move(inputs), "checkpoint", [f, saved, generators, start](Node<T, D>& self) {
        std::vector<std::uint64_t> now;
        for (std::size_t i = 0; i < generators.size(); ++i) {
            now.push_back(generators[i]->offset());
            generators[i]->set_offset(start[i]);
        }
        Var<T, D> in(saved, self.inputs[0]->requires_grad);
        Var<T, D> rebuilt;
        {
            EnableGrad on;
            rebuilt = f(in);
        }
        for (std::size_t i = 0; i < generators.size(); ++i) generators[i]->set_offset(now[i]);
        if (!(rebuilt.shape() == self.value.shape()))
            throw shape_error("checkpoint: the rebuilt output is " + rebuilt.shape().str() + ", the first was " + self.value.shape().str());
        if (!rebuilt.requires_grad()) return;
        rebuilt.backward(self.grad);  // into the parameters' gradients, and in's
        if (self.inputs[0]->requires_grad && in.grad().defined()) self.inputs[0]->accumulate(in.grad());
    });
}

}  // namespace ward::ag
