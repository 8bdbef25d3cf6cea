#pragma once
// Transformer layers and model families (GPT-2, Llama, Qwen2), loading and saving Hugging Face
// model directories.

#include "ward/nn/attention.hpp"
#include "ward/nn/clone.hpp"
#include "ward/nn/generate.hpp"
#include "ward/nn/hf.hpp"
#include "ward/nn/layers.hpp"
#include "ward/nn/lora.hpp"
#include "ward/nn/module.hpp"
#include "ward/nn/transformer.hpp"
#include "ward/tensor.hpp"  // the CPU backend that evaluates the ops
