#pragma once
// The optimisers' view of ag::Parameter (autograd/parameter.hpp), which the tape hands out.

#include "ward/autograd/parameter.hpp"

namespace ward::optim {

using ag::Parameter;
using ag::ParameterList;

}  // namespace ward::optim
