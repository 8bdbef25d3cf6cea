// lm built by nvcc: the same program, whose --device cuda loads and runs the model on the GPU
// (examples/lm.cpp).
#include "lm.cpp"
