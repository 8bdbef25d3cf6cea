#pragma once
// Backend<cuda>: the heavy ops of tensor/ops.hpp on the GPU, with the CPU's signatures: f32 (TF32
// opt-in) and bf16 matmul through cuBLASLt with fused bias/activation, over broadcast batch axes;
// softmax and log-softmax, layer and RMS norm, embedding gather and scatter-add, and concat through
// ward's own kernels (f32, and bf16 stored with f32 math); Adam/AdamW over every parameter in one
// multi-tensor kernel; and all the fused kernels of tensor/fused.hpp, in f32: causal attention
// (FlashAttention-2 style, forward and backward), GELU (tanh) and its gradient, gemm_accumulate
// (cuBLASLt, beta = 1), the norm backward and the cross-entropy rows (loss and token log-probs,
// forward and backward). Every pointer is device memory; work is queued on the current stream.
// For bf16 the fused front ends compose the op from expressions, on the GPU.

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
        static_assert(std::is_same_v<T, float> || std::is_same_v<T, bf16>,
                      "ward: the CUDA matmul takes f32 or bf16 tensors (f64 has no cuBLASLt epilogue path here)");
        auto ep = act == Activation::gelu_tanh ? backend::cuda::Epilogue::gelu_tanh
                  : act == Activation::relu    ? backend::cuda::Epilogue::relu
                                               : backend::cuda::Epilogue::none;
        backend::cuda::matmul<T>(a, b, bias, ep, c);
    }
    // Adam/AdamW over a list of tensors in a few launches (tensor/multi_tensor.hpp), f32 and bf16.
    template <class T>
        requires(std::is_same_v<T, float> || std::is_same_v<T, bf16>)
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
    // The fused kernels of tensor/fused.hpp (f32).
    static void attention_forward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, float* o, float* lse) {
        backend::cuda::attention_forward(a, q, k, v, o, lse);
    }
    static void attention_backward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, const float* o,
                                   const float* lse, const float* d_o, float* dq, float* dk, float* dv) {
        backend::cuda::attention_backward(a, q, k, v, o, lse, d_o, dq, dk, dv);
    }
    static bool gelu_tanh(const float* x, float* y, index_t n) { return backend::cuda::gelu_tanh_forward(x, y, n); }
    static bool gelu_tanh_backward(const float* x, const float* dy, float* dx, index_t n) {
        return backend::cuda::gelu_tanh_backward(x, dy, dx, n);
    }
    static void gemm_accumulate(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const float* a, index_t lda,
                                const float* b, index_t ldb, float* c, index_t ldc) {
        backend::cuda::gemm_accumulate(trans_a, trans_b, M, N, K, a, lda, b, ldb, c, ldc);
    }
    template <bool Centered>
    static void norm_backward(const float* x, const float* g, const float* mean, const float* rstd, const float* gamma,
                              index_t N, index_t C, float* dx, float* dgamma, float* dbeta) {
        backend::cuda::norm_backward<Centered>(x, g, mean, rstd, gamma, N, C, dx, dgamma, dbeta);
    }
    static CrossEntropySums cross_entropy(const float* x, index_t N, index_t V, const std::int64_t* t, const float* mask,
                                          std::int64_t ignore, float* lse, float* w) {
        return backend::cuda::cross_entropy_loss(x, N, V, t, mask, ignore, lse, w);
    }
    static void cross_entropy_backward(const float* x, index_t N, index_t V, const std::int64_t* t, const float* lse,
                                       const float* w, float scale, float* dx) {
        backend::cuda::cross_entropy_loss_backward(x, N, V, t, lse, w, scale, dx);
    }
    static void token_log_probs(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, float* lse,
                                float* out) {
        backend::cuda::token_log_probs(x, N, V, t, ignore, lse, out);
    }
    static void token_log_probs_backward(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore,
                                         const float* lse, const float* g, float* dx) {
        backend::cuda::token_log_probs_backward(x, N, V, t, ignore, lse, g, dx);
    }
};

// A signature that drifts from tensor/fused.hpp's concepts must fail here, not quietly fall back.
static_assert(has_attention_kernel<float, cuda> && has_gelu_kernel<float, cuda> && has_gemm_accumulate<float, cuda> &&
              has_norm_backward<float, cuda> && has_cross_entropy_kernel<float, cuda>);
static_assert(!has_attention_kernel<bf16, cuda> && !has_gelu_kernel<bf16, cuda> && !has_gemm_accumulate<bf16, cuda> &&
              !has_norm_backward<bf16, cuda> && !has_cross_entropy_kernel<bf16, cuda>);

}  // namespace ward
