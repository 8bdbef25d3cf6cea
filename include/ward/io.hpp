#pragma once
// File I/O: atomic writes, the gnuplot runner, safetensors (with the CPU tensor layer they read
// into), JSONL datasets, the tokenizers, chat templates and the dialogue formats built on them.

#include "ward/io/atomic_file.hpp"
#include "ward/io/chat_template.hpp"
#include "ward/io/dialogue.hpp"
#include "ward/io/gnuplot.hpp"
#include "ward/io/jsonl.hpp"
#include "ward/io/safetensors.hpp"
#include "ward/io/safetensors_header.hpp"
#include "ward/io/tokenizer.hpp"
#include "ward/tensor.hpp"
