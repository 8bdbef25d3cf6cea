// defence_demo built by nvcc: the same program, whose --device cuda runs the whole experiment on the
// GPU (examples/defence_demo.cpp).
#include "defence_demo.cpp"
