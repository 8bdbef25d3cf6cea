#pragma once
// Reverse-mode automatic differentiation. A Var is a handle to a node of the tape: its value, its
// gradient, and (for results of operations) the inputs and the backward function of the op that
// made it. backward() sorts the graph topologically from the output and runs each node's backward
// once, after all gradients flowing into it have been summed; then it frees the graph.

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ward/autograd/parameter.hpp"
#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::ag {

namespace detail {
inline bool& grad_mode() {
    thread_local bool enabled = true;
    return enabled;
}
}  // namespace detail

/// Names of ops that graph rewrites look for. A node's `op` is compared by address, not by its
/// text: an op from elsewhere that happens to share the name is not mistaken for these.
namespace op_name {
inline constexpr char transpose[] = "transpose";
}  // namespace op_name

/// While alive, sets whether operations record on this thread; restores the previous mode after.
template <bool Record>
class GradMode {
public:
    GradMode() : previous_(detail::grad_mode()) { detail::grad_mode() = Record; }
    ~GradMode() { detail::grad_mode() = previous_; }
    GradMode(const GradMode&) = delete;
    GradMode& operator=(const GradMode&) = delete;

private:
    bool previous_;
};
/// Operations record nothing (evaluation, optimiser updates, generation).
using NoGrad = GradMode<false>;
/// Operations record even inside a NoGrad scope (a checkpoint's block rebuilt inside backward).
using EnableGrad = GradMode<true>;

/// True unless a NoGrad scope is active on this thread.
inline bool grad_enabled() { return detail::grad_mode(); }

template <FloatElement T, Device D>
struct Node {
    Tensor<T, D> value;
    Tensor<T, D> grad;  // summed gradient; a leaf keeps it across backward calls
    bool requires_grad = false;
    bool retain_grad = false;
    const char* op = "leaf";
    std::vector<std::shared_ptr<Node>> inputs;
    // Reads this node's grad and accumulates into the inputs' grads (via accumulate()).
    std::function<void(Node&)> backward;

    bool is_leaf() const { return !backward; }

    /// grad += g, allocating grad on first use. g is any expression of the value's shape.
    template <Expression E>
    void accumulate(const E& g) {
        if (!(g.shape() == value.shape()))
            throw shape_error(std::string("autograd: gradient of shape ") + g.shape().str() + " for a value of shape " +
                              value.shape().str() + " (op " + op + ")");
        if (grad.defined() && grad.numel() == value.numel() && grad.storage()) grad.assign(grad + g);
        else if constexpr (is_tensor_v<E>) grad = g.clone();  // never share storage with another gradient
        else grad = Tensor<T, D>(g);
    }
};

template <FloatElement T, Device D = cpu>
class Var {
public:
    using element_type = T;
    using device = D;
    using node_type = Node<T, D>;

    Var() = default;
    /// A leaf holding `value` (shared, not copied). Parameters pass requires_grad = true.
    explicit Var(Tensor<T, D> value, bool requires_grad = false) : node_(std::make_shared<node_type>()) {
        node_->value = std::move(value);
        node_->requires_grad = requires_grad;
    }

    bool defined() const { return node_ != nullptr; }
    const Tensor<T, D>& value() const { return checked().value; }
    const Shape& shape() const { return value().shape(); }
    int rank() const { return value().rank(); }
    index_t size(int axis) const { return value().size(axis); }
    bool requires_grad() const { return checked().requires_grad; }
    const char* op() const { return checked().op; }

    /// The summed gradient (undefined when none has flowed here).
    const Tensor<T, D>& grad() const { return checked().grad; }
    /// Zeros the gradient in place (its storage stays, so optimisers holding it see the zeros).
    void zero_grad() const {
        if (checked().grad.defined()) node_->grad.fill(compute_t<T>(0));
    }
    /// Keeps this intermediate value's gradient after backward (for gradients w.r.t. activations).
    const Var& retain_grad() const {
        checked().retain_grad = true;
        return *this;
    }
    /// The same value, cut off from the graph.
    Var detach() const { return Var(value(), false); }

    /// Back-propagates from this scalar output (seed 1).
    void backward(bool keep_graph = false) const {
        if (value().numel() != 1)
            throw shape_error("backward() without an output gradient needs a one-element output, got shape " +
                              shape().str());
        backward(Tensor<T, D>::ones(shape()), keep_graph);
    }
    /// Back-propagates `grad_output` (of this value's shape) through the graph.
    void backward(const Tensor<T, D>& grad_output, bool keep_graph = false) const;

    /// This variable as an optimiser parameter: its value and gradient storage (allocated as zeros
    /// now if no gradient has flowed yet, so the optimiser and the tape share it).
    Parameter<T, D> parameter(std::string name) const {
        node_type& n = checked();
        if (!n.requires_grad) throw value_error("parameter '" + name + "' does not require grad");
        if (!n.grad.defined()) n.grad = Tensor<T, D>::zeros(n.value.shape());
        return {std::move(name), n.value, n.grad};
    }

    const std::shared_ptr<node_type>& node() const { return node_; }

    /// The result of an op: records `backward` only if grad mode is on and an input needs grad.
    static Var make(Tensor<T, D> value, std::vector<Var> inputs, const char* op, std::function<void(node_type&)> backward) {
        Var out(std::move(value), false);
        out.node_->op = op;
        if (!grad_enabled()) return out;
        bool any = false;
        for (const Var& v : inputs) any = any || (v.defined() && v.requires_grad());
        if (!any) return out;
        out.node_->requires_grad = true;
        out.node_->inputs.reserve(inputs.size());
        for (const Var& v : inputs) out.node_->inputs.push_back(v.node_);
        out.node_->backward = std::move(backward);
        return out;
    }

private:
    std::shared_ptr<node_type> node_;

    node_type& checked() const {
        if (!node_) throw value_error("autograd: use of an undefined Var");
        return *node_;
    }
};

namespace detail {
/// Nodes reachable from `root` through inputs that need grad, in topological order (inputs first).
/// The order holds the nodes alive, so backward may drop edges as it goes.
template <class N>
std::vector<std::shared_ptr<N>> topological_order(const std::shared_ptr<N>& root) {
    std::vector<std::shared_ptr<N>> order;
    std::unordered_set<N*> visited{root.get()};
    std::vector<std::pair<std::shared_ptr<N>, std::size_t>> stack{{root, 0}};
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            std::shared_ptr<N> in = node->inputs[next++];  // a copy: push_back may move `node`
            if (in && in->requires_grad && visited.insert(in.get()).second) stack.push_back({std::move(in), 0});
        } else {
            order.push_back(std::move(node));
            stack.pop_back();
        }
    }
    return order;
}
}  // namespace detail

template <FloatElement T, Device D>
void Var<T, D>::backward(const Tensor<T, D>& grad_output, bool keep_graph) const {
    node_type& root = checked();
    if (!root.requires_grad) throw value_error("backward(): the output does not depend on anything that requires grad");
    if (!(grad_output.shape() == root.value.shape()))
        throw shape_error("backward(): output gradient of shape " + grad_output.shape().str() + " for an output of shape " +
                          root.value.shape().str());
    NoGrad no_grad;  // backward functions compute with tensors; nothing they do is recorded
    std::vector<std::shared_ptr<node_type>> order = detail::topological_order(node_);
    // The seed is read, never written: an intermediate root can take it without a copy.
    if (root.is_leaf() || root.grad.defined()) root.accumulate(grad_output);
    else root.grad = grad_output;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        node_type& n = **it;
        if (n.is_leaf()) continue;
        if (n.grad.defined()) n.backward(n);
        if (!n.retain_grad) n.grad = Tensor<T, D>();  // an intermediate's gradient is spent
        if (!keep_graph) {
            n.backward = nullptr;  // releases the tensors the op saved
            n.inputs.clear();
        }
    }
}

/// Gradients of `output` (a scalar) with respect to `wrt` (any Vars in its graph, leaves or
/// intermediates), without touching the gradients stored in the graph's leaves.
template <FloatElement T, Device D>
std::vector<Tensor<T, D>> grad(const Var<T, D>& output, const std::vector<Var<T, D>>& wrt, bool keep_graph = false) {
    // Stash the leaves' gradients, run backward, read the requested ones, restore the rest.
    using N = Node<T, D>;
    std::vector<std::shared_ptr<N>> order = detail::topological_order(output.node());
    std::vector<std::pair<std::shared_ptr<N>, Tensor<T, D>>> saved;
    for (const std::shared_ptr<N>& n : order) {
        saved.push_back({n, n->grad});
        n->grad = Tensor<T, D>();
    }
    std::vector<bool> retained;
    for (const Var<T, D>& w : wrt) {
        retained.push_back(w.node()->retain_grad);
        w.node()->retain_grad = true;
    }
    output.backward(keep_graph);
    std::vector<Tensor<T, D>> out;
    for (std::size_t i = 0; i < wrt.size(); ++i) {
        N* n = wrt[i].node().get();
        out.push_back(n->grad.defined() ? n->grad : Tensor<T, D>::zeros(n->value.shape()));
        n->retain_grad = retained[i];
    }
    for (auto& [n, g] : saved) n->grad = g;
    return out;
}

}  // namespace ward::ag
