#pragma once
// File I/O: atomic writes and safetensors (with the CPU tensor layer they read into).

#include "ward/io/atomic_file.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/io/safetensors_header.hpp"
#include "ward/tensor.hpp"
