// bench_generate built by nvcc: --device cuda times greedy generation with and without the KV cache on
// the GPU (benchmarks/bench_generate.cpp; the peer: torch_generate.py --device cuda).
#include "bench_generate.cpp"
