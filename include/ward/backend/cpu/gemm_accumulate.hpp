#pragma once
// c = alpha op(a) @ op(b) + beta c for dense row-major f32 matrices, through oneDNN's sgemm.
// gemm_accumulate (beta = 1) is how weight gradients are summed into the storage the optimiser
// holds, with no temporary and no separate add pass; the attention kernels use gemm on strided rows.
//
//   op(a) is (M, K): a is (M, K) with row stride lda, or (K, M) when trans_a
//   op(b) is (K, N): b is (K, N) with row stride ldb, or (N, K) when trans_b
//   c is (M, N) with row stride ldc

#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "ward/core/config.hpp"
#include "ward/core/error.hpp"

namespace ward::backend::cpu {

/// c = alpha op(a) op(b) + beta c. Inside an OpenMP parallel region oneDNN runs it on the calling
/// thread alone.
inline void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, float alpha, const float* a, index_t lda,
                 const float* b, index_t ldb, float beta, float* c, index_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // op(a) op(b) is empty: c = beta c
        for (index_t i = 0; i < M; ++i)
            for (index_t j = 0; j < N; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
        return;
    }
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
    if (st != dnnl_success)
        throw backend_error("oneDNN sgemm failed (status " + std::to_string(int(st)) + ") for M " + std::to_string(M) +
                            ", N " + std::to_string(N) + ", K " + std::to_string(K));
}

/// c += op(a) op(b).
inline void gemm_accumulate(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const float* a, index_t lda,
                            const float* b, index_t ldb, float* c, index_t ldc) {
    gemm(trans_a, trans_b, M, N, K, 1.f, a, lda, b, ldb, 1.f, c, ldc);
}

}  // namespace ward::backend::cpu
