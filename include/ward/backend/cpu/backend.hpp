#pragma once
// Backend<cpu>: the heavy ops of tensor/ops.hpp mapped onto the oneDNN-backed kernels.

#include <cstdint>
#include <span>

#include "ward/backend/cpu/concat.hpp"
#include "ward/backend/cpu/embedding.hpp"
#include "ward/backend/cpu/layer_norm.hpp"
#include "ward/backend/cpu/matmul.hpp"
#include "ward/backend/cpu/softmax.hpp"
#include "ward/tensor/ops.hpp"

namespace ward {

template <>
struct Backend<cpu> {
    static backend::cpu::Epilogue epilogue(Activation a) {
        switch (a) {
            case Activation::relu: return backend::cpu::Epilogue::relu;
            case Activation::gelu_tanh: return backend::cpu::Epilogue::gelu_tanh;
            case Activation::none: break;
        }
        return backend::cpu::Epilogue::none;
    }
    template <class T>
    static void matmul(StridedView<const T> a, StridedView<const T> b, const T* bias, Activation act, StridedView<T> c) {
        backend::cpu::matmul<T>(a, b, bias, epilogue(act), c);
    }
    template <class T>
    static void softmax(StridedView<const T> x, StridedView<T> y, bool log) {
        backend::cpu::softmax_lastdim<T>(x, y, log);
    }
    template <class T>
    static void layer_norm(StridedView<const T> x, const T* gamma, const T* beta, double eps, StridedView<T> y,
                           compute_t<T>* mean, compute_t<T>* rstd) {
        backend::cpu::layer_norm_lastdim<T>(x, gamma, beta, eps, y, mean, rstd);
    }
    template <class T>
    static void rms_norm(StridedView<const T> x, const T* gamma, double eps, StridedView<T> y, compute_t<T>* rstd) {
        backend::cpu::rms_norm_lastdim<T>(x, gamma, eps, y, rstd);
    }
    template <class T>
    static void embedding_gather(StridedView<const T> table, const std::int64_t* ids, index_t n, StridedView<T> out) {
        backend::cpu::embedding_gather<T>(table, ids, n, out);
    }
    template <class T>
    static void embedding_scatter_add(StridedView<const T> out_grad, const std::int64_t* ids, index_t n,
                                      StridedView<T> table_grad) {
        backend::cpu::embedding_scatter_add<T>(out_grad, ids, n, table_grad);
    }
    template <class T>
    static void concat(std::span<const StridedView<const T>> parts, int axis, StridedView<T> out) {
        backend::cpu::concat<T>(parts, axis, out);
    }
};

}  // namespace ward
