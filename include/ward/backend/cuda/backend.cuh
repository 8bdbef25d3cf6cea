#pragma once
// Backend<cuda>: the heavy ops of tensor/ops.hpp on the GPU, with the CPU's signatures: f32 (TF32
// opt-in) and bf16 matmul through cuBLASLt with fused bias/activation, over broadcast batch axes;
// softmax and log-softmax, layer and RMS norm, embedding gather and scatter-add, and concat through
// ward's own kernels (f32, and bf16 stored with f32 math); Adam/AdamW over every parameter in one
// multi-tensor kernel; and every fused kernel of tensor/fused.hpp, in f32 and bf16 (f32 math inside,
// row statistics kept in f32): causal attention (FlashAttention-2 style, forward and backward), GELU
// (tanh) and its gradient, gemm_accumulate (cuBLASLt, beta = 1), the norm backward and the
// cross-entropy rows (loss and token log-probs, forward and backward). Every pointer is device
// memory; work is queued on the current stream.

#include <cstdint>
#include <span>
#include <type_traits>

#include "ward/backend/cuda/adam.cuh"
#include "ward/backend/cuda/attention.cuh"
#include "ward/backend/cuda/concat.cuh"
#include "ward/backend/cuda/cross_entropy.cuh"
#include "ward/backend/cuda/embedding.cuh"
#include "ward/backend/cuda/gelu.cuh"
#include "ward/backend/cuda/gemm_accumulate.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/layer_norm.cuh"
#include "ward/backend/cuda/matmul.cuh"
#include "ward/backend/cuda/norm_backward.cuh"
#include "ward/backend/cuda/softmax.cuh"
#include "ward/core/error.hpp"
#include "ward/tensor/fused.hpp"
#include "ward/tensor/ops.hpp"

namespace ward {

template <>
struct Backend<cuda> {
    template <class T>
    static void matmul(StridedView<const T> a, StridedView<const T> b, const T* bias, Activation act, StridedView<T> c) {
        static_assert(backend::cuda::KernelElement<T>,
                      "ward: the CUDA matmul takes f32 or bf16 tensors (f64 has no cuBLASLt epilogue path here)");
        auto ep = act == Activation::gelu_tanh ? backend::cuda::Epilogue::gelu_tanh
                  : act == Activation::relu    ? backend::cuda::Epilogue::relu
                                               : backend::cuda::Epilogue::none;
        backend::cuda::matmul<T>(a, b, bias, ep, c);
    }
    // Adam/AdamW over a list of tensors in a few launches (tensor/multi_tensor.hpp), f32 and bf16.
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void multi_tensor_adam(std::span<const AdamSlot<T>> slots, const AdamConstants<compute_t<T>>& k) {
        backend::cuda::multi_tensor_adam<T>(slots, k);
    }
    template <class T>
    static void softmax(StridedView<const T> x, StridedView<T> y, bool log) {
        backend::cuda::softmax_lastdim<T>(x, y, log);
    }
    template <class T>
    static void layer_norm(StridedView<const T> x, const T* gamma, const T* beta, double eps, StridedView<T> y,
                           compute_t<T>* mean, compute_t<T>* rstd) {
        backend::cuda::layer_norm_lastdim<T>(x, gamma, beta, eps, y, mean, rstd);
    }
    template <class T>
    static void rms_norm(StridedView<const T> x, const T* gamma, double eps, StridedView<T> y, compute_t<T>* rstd) {
        backend::cuda::rms_norm_lastdim<T>(x, gamma, eps, y, rstd);
    }
    template <class T>
    static void embedding_gather(StridedView<const T> table, const std::int64_t* ids, index_t n, StridedView<T> out) {
        backend::cuda::embedding_gather<T>(table, ids, n, out);
    }
    template <class T>
    static void embedding_scatter_add(StridedView<const T> out_grad, const std::int64_t* ids, index_t n,
                                      StridedView<T> table_grad) {
        backend::cuda::embedding_scatter_add<T>(out_grad, ids, n, table_grad);
    }
    template <class T>
    static void concat(std::span<const StridedView<const T>> parts, int axis, StridedView<T> out) {
        backend::cuda::concat<T>(parts, axis, out);
    }
    // The fused kernels of tensor/fused.hpp, f32 and bf16.
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void attention_forward(const AttentionShape& a, BasicHeadRows<T> q, BasicHeadRows<T> k, BasicHeadRows<T> v, T* o,
                                  float* lse) {
        backend::cuda::attention_forward<T>(a, q, k, v, o, lse);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void attention_backward(const AttentionShape& a, BasicHeadRows<T> q, BasicHeadRows<T> k, BasicHeadRows<T> v,
                                   const T* o, const float* lse, const T* d_o, T* dq, T* dk, T* dv) {
        backend::cuda::attention_backward<T>(a, q, k, v, o, lse, d_o, dq, dk, dv);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static bool gelu_tanh(const T* x, T* y, index_t n) {
        return backend::cuda::gelu_tanh_forward<T>(x, y, n);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static bool gelu_tanh_backward(const T* x, const T* dy, T* dx, index_t n) {
        return backend::cuda::gelu_tanh_backward<T>(x, dy, dx, n);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void gemm_accumulate(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* a, index_t lda,
                                const T* b, index_t ldb, T* c, index_t ldc) {
        backend::cuda::gemm_accumulate<T>(trans_a, trans_b, M, N, K, a, lda, b, ldb, c, ldc);
    }
    template <bool Centered, class T>
        requires backend::cuda::KernelElement<T>
    static void norm_backward(const T* x, const T* g, const float* mean, const float* rstd, const T* gamma, index_t N,
                              index_t C, T* dx, T* dgamma, T* dbeta) {
        backend::cuda::norm_backward<Centered, T>(x, g, mean, rstd, gamma, N, C, dx, dgamma, dbeta);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static CrossEntropySums cross_entropy(const T* x, index_t N, index_t V, const std::int64_t* t, const T* mask,
                                          std::int64_t ignore, float* lse, float* w) {
        return backend::cuda::cross_entropy_loss<T>(x, N, V, t, mask, ignore, lse, w);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void cross_entropy_backward(const T* x, index_t N, index_t V, const std::int64_t* t, const float* lse,
                                       const float* w, float scale, T* dx) {
        backend::cuda::cross_entropy_loss_backward<T>(x, N, V, t, lse, w, scale, dx);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void token_log_probs(const T* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, float* lse,
                                T* out) {
        backend::cuda::token_log_probs<T>(x, N, V, t, ignore, lse, out);
    }
    template <class T>
        requires backend::cuda::KernelElement<T>
    static void token_log_probs_backward(const T* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore,
                                         const float* lse, const T* g, T* dx) {
        backend::cuda::token_log_probs_backward<T>(x, N, V, t, ignore, lse, g, dx);
    }
};

// A signature that drifts from tensor/fused.hpp's concepts must fail here, not quietly fall back.
static_assert(has_attention_kernel<float, cuda> && has_gelu_kernel<float, cuda> && has_gemm_accumulate<float, cuda> &&
              has_norm_backward<float, cuda> && has_cross_entropy_kernel<float, cuda>);
static_assert(has_attention_kernel<bf16, cuda> && has_gelu_kernel<bf16, cuda> && has_gemm_accumulate<bf16, cuda> &&
              has_norm_backward<bf16, cuda> && has_cross_entropy_kernel<bf16, cuda>);
static_assert(!has_attention_kernel<double, cuda> && !has_gelu_kernel<double, cuda> && !has_gemm_accumulate<double, cuda> &&
              !has_norm_backward<double, cuda> && !has_cross_entropy_kernel<double, cuda>);

}  // namespace ward
