// Fuzzes training checkpoints (train::load_checkpoint) into a tiny model's parameters, an AdamW and
// a generator: the input is the checkpoint file. A checkpoint that loads must leave parameters of
// the model's shapes and an optimiser that can take a step; one that is refused must change nothing.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/optim.hpp>
#include <ward/train/checkpoint.hpp>

#include "fuzz_support.hpp"

using namespace ward;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::MemFile file({reinterpret_cast<const char*>(data), size});
    Generator init(7);
    ag::Var<float> w(normal<float>(init, {4, 3}), true), b(Tensor<float>::zeros({3}), true);
    optim::ParameterList<float> params{w.parameter("w"), b.parameter("b")};
    optim::AdamW<float> opt(params, {});
    Generator gen(99);
    const std::vector<float> w_before = w.value().to_vector(), b_before = b.value().to_vector();
    bool loaded = false;
    fuzz::expect_ward_error_only(file.path(), [&] {
        (void)train::load_checkpoint(file.path(), params, opt, &gen);
        loaded = true;
    });
    if (!loaded) {
        if (w.value().to_vector() != w_before || b.value().to_vector() != b_before || gen.offset() != 0)
            fuzz::fail("a refused checkpoint changed the parameters or the generator");
        return 0;
    }
    if (!(w.value().shape() == Shape{4, 3}) || !(b.value().shape() == Shape{3})) fuzz::fail("parameters changed shape");
    // The restored state must be usable: one step with a gradient of ones.
    for (auto& p : params) p.grad.fill(1.0f);
    try {
        opt.step();
    } catch (const ward::error& e) {
        fuzz::fail(std::string("a step after a loaded checkpoint failed: ") + e.what());
    }
    return 0;
}
