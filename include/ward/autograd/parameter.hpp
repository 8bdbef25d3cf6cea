#pragma once
// What an optimiser updates: a named value and its gradient, both tensor handles. The tape hands
// out Parameters whose tensors are the variables' own storage (Var::parameter), so an optimiser
// step writes the model's weights in place. It lives here, below optim/, because the tape makes it.

#include <string>
#include <vector>

#include "ward/core/device.hpp"
#include "ward/core/dtype.hpp"
#include "ward/tensor/tensor.hpp"

namespace ward::ag {

template <FloatElement T, Device D = cpu>
struct Parameter {
    std::string name;
    Tensor<T, D> value;
    Tensor<T, D> grad;  // same shape as value; zeros when no gradient has flowed yet
};

template <FloatElement T, Device D = cpu>
using ParameterList = std::vector<Parameter<T, D>>;

}  // namespace ward::ag
