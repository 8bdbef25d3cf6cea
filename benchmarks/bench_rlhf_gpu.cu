// bench_rlhf built by nvcc: the same program, whose --device cuda times the PPO iteration and the DPO
// and SFT steps on the GPU (benchmarks/bench_rlhf.cpp).
#include "bench_rlhf.cpp"
