#pragma once
// Backend<cuda>: the heavy ops of tensor/ops.hpp that the CUDA backend provides so far — f32
// matmul through cuBLASLt with fused bias/activation. The other heavy ops (softmax, norms,
// embedding, concat) are not provided on the GPU yet: calling them on cuda tensors does not compile
// (no member of that name), so nothing runs on the CPU behind a device tensor. None of the fused
// kernels of tensor/fused.hpp (attention, GELU, gemm_accumulate, cross-entropy rows, norm backward)
// is here yet either: their front ends then compose the op from expressions, run on the GPU.

#include <type_traits>

#include "ward/backend/cuda/matmul.cuh"
#include "ward/core/error.hpp"
#include "ward/tensor/ops.hpp"

namespace ward {

template <>
struct Backend<cuda> {
    template <class T>
    static void matmul(StridedView<const T> a, StridedView<const T> b, const T* bias, Activation act, StridedView<T> c) {
        static_assert(std::is_same_v<T, float>, "ward: the CUDA matmul takes f32 tensors so far");
        if (c.shape.rank > 3) {
            throw shape_error("cuda matmul: batch of more than one axis (" + c.shape.str() + ") is not supported yet");
        }
        auto ep = act == Activation::gelu_tanh ? backend::cuda::Epilogue::gelu_tanh
                  : act == Activation::relu    ? backend::cuda::Epilogue::relu
                                               : backend::cuda::Epilogue::none;
        backend::cuda::matmul(a, b, bias, ep, c);
    }
};

}  // namespace ward
