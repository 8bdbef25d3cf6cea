#pragma once
// Backend<cpu>: the heavy ops of tensor/ops.hpp and the fused kernels of tensor/fused.hpp mapped
// onto the CPU kernels (oneDNN, sgemm, OpenMP loops). The fused kernels take f32 only: for other
// element types the front ends find no member and compose expressions instead.

#include <cstdint>
#include <span>

#include "ward/backend/cpu/attention.hpp"
#include "ward/backend/cpu/concat.hpp"
#include "ward/backend/cpu/cross_entropy.hpp"
#include "ward/backend/cpu/eltwise.hpp"
#include "ward/backend/cpu/embedding.hpp"
#include "ward/backend/cpu/gemm_accumulate.hpp"
#include "ward/backend/cpu/layer_norm.hpp"
#include "ward/backend/cpu/matmul.hpp"
#include "ward/backend/cpu/norm_backward.hpp"
#include "ward/backend/cpu/softmax.hpp"
#include "ward/tensor/fused.hpp"
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
    // The fused kernels of tensor/fused.hpp (f32).
    static void attention_forward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, float* o, float* lse) {
        backend::cpu::attention_forward(a, q, k, v, o, lse);
    }
    static void attention_backward(const AttentionShape& a, HeadRows q, HeadRows k, HeadRows v, const float* o,
                                   const float* lse, const float* d_o, float* dq, float* dk, float* dv) {
        backend::cpu::attention_backward(a, q, k, v, o, lse, d_o, dq, dk, dv);
    }
    static bool gelu_tanh(const float* x, float* y, index_t n) { return backend::cpu::gelu_tanh_forward(x, y, n); }
    static bool gelu_tanh_backward(const float* x, const float* dy, float* dx, index_t n) {
        return backend::cpu::gelu_tanh_backward(x, dy, dx, n);
    }
    static void gemm_accumulate(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const float* a, index_t lda,
                                const float* b, index_t ldb, float* c, index_t ldc) {
        backend::cpu::gemm_accumulate(trans_a, trans_b, M, N, K, a, lda, b, ldb, c, ldc);
    }
    static CrossEntropySums cross_entropy(const float* x, index_t N, index_t V, const std::int64_t* t, const float* mask,
                                          std::int64_t ignore, float* lse, float* w) {
        return backend::cpu::cross_entropy_loss(x, N, V, t, mask, ignore, lse, w);
    }
    static void cross_entropy_backward(const float* x, index_t N, index_t V, const std::int64_t* t, const float* lse,
                                       const float* w, float scale, float* dx) {
        backend::cpu::cross_entropy_loss_backward(x, N, V, t, lse, w, scale, dx);
    }
    static void token_log_probs(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, float* lse,
                                float* out) {
        backend::cpu::token_log_probs(x, N, V, t, ignore, lse, out);
    }
    static void token_log_probs_backward(const float* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore,
                                         const float* lse, const float* g, float* dx) {
        backend::cpu::token_log_probs_backward(x, N, V, t, ignore, lse, g, dx);
    }
    template <bool Centered>
    static void norm_backward(const float* x, const float* g, const float* mean, const float* rstd, const float* gamma,
                              index_t N, index_t C, float* dx, float* dgamma, float* dbeta) {
        backend::cpu::norm_backward<Centered>(x, g, mean, rstd, gamma, N, C, dx, dgamma, dbeta);
    }
};

// The tape's f32 paths take these kernels only if the front ends find them: a signature that drifts
// from tensor/fused.hpp's concepts must fail here, not quietly fall back to composed expressions.
static_assert(has_attention_kernel<float, cpu> && has_gelu_kernel<float, cpu> && has_gemm_accumulate<float, cpu> &&
              has_cross_entropy_kernel<float, cpu> && has_norm_backward<float, cpu>);
static_assert(!has_attention_kernel<double, cpu> && !has_norm_backward<double, cpu>);

}  // namespace ward
