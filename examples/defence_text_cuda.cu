// defence_text built by nvcc: the same program, whose --device cuda runs the model, its defences,
// attacks and generation on the GPU (examples/defence_text.cpp).
#include "defence_text.cpp"
