// bench_repnoise_7b built by nvcc: the same program, whose --device cuda runs both steps on the GPU
// (benchmarks/bench_repnoise_7b.cpp).
#include "bench_repnoise_7b.cpp"
