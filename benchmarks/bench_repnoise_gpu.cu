// bench_repnoise built by nvcc: the same program, whose --device cuda times both steps on the GPU
// (benchmarks/bench_repnoise.cpp).
#include "bench_repnoise.cpp"
