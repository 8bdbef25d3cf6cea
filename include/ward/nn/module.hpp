#pragma once
// Modules: layers that own named parameters. A module exposes them through
//   template <class F> void visit(F&& f, const std::string& prefix)   // f(name, Var&)
// with names built like Hugging Face's ("h.0.attn.c_attn.weight"), so loaders, savers and
// optimisers walk any model the same way and weights map 1:1 to checkpoint names.

#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include "ward/autograd/var.hpp"
#include "ward/optim/parameter.hpp"

namespace ward::nn {

template <FloatElement T, Device D>
using Var = ag::Var<T, D>;

/// A parameter of a module, by name.
template <FloatElement T, Device D>
struct NamedVar {
    std::string name;
    Var<T, D>* var;
};

template <class M, class T, class D>
concept Module = requires(M& m, const std::string& prefix) {
    m.visit([](const std::string&, Var<T, D>&) {}, prefix);
};

/// Every parameter of a module, in visiting order.
template <FloatElement T, Device D, class M>
std::vector<NamedVar<T, D>> named_parameters(M& m, const std::string& prefix = "") {
    std::vector<NamedVar<T, D>> out;
    m.visit([&](const std::string& name, Var<T, D>& v) { out.push_back({name, &v}); }, prefix);
    return out;
}

/// The parameters that require grad, as optimiser parameters (sharing storage with the model).
template <FloatElement T, Device D, class M>
optim::ParameterList<T, D> parameters(M& m, const std::string& prefix = "") {
    optim::ParameterList<T, D> out;
    m.visit(
        [&](const std::string& name, Var<T, D>& v) {
            if (v.defined() && v.requires_grad()) out.push_back(v.parameter(name));
        },
        prefix);
    return out;
}

/// Freezes (or unfreezes) every parameter of a module.
template <FloatElement T, Device D, class M>
void set_requires_grad(M& m, bool on) {
    m.visit([&](const std::string&, Var<T, D>& v) {
        if (v.defined()) v = Var<T, D>(v.value(), on);
    }, "");
}

/// Joins a prefix and a name with a dot ("h.0" + "attn" -> "h.0.attn").
inline std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

}  // namespace ward::nn
