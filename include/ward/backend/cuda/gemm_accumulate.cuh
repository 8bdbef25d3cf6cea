#pragma once
// c += op(a) @ op(b) for dense row-major f32 or bf16 matrices on the GPU, through cuBLASLt with
// beta = 1 (the CPU's gemm_accumulate, device memory): how weight gradients are summed into the
// storage the optimiser holds, with no temporary and no separate add pass. f32 math and
// accumulation throughout (no TF32); for bf16 the sum c + op(a) op(b) is rounded to bf16 once.
//
//   op(a) is (M, K): a is (M, K) with row stride lda, or (K, M) when trans_a
//   op(b) is (K, N): b is (K, N) with row stride ldb, or (N, K) when trans_b
//   c is (M, N) with row stride ldc
//
// Row-major c = op(a) op(b) is column-major c^T = op(b)^T op(a)^T: a row-major (r, s) buffer with
// row stride ld is a column-major (s, r) one with the same ld, so b goes first, each with its own
// transpose flag unchanged. The handle and workspace are matmul.cuh's.

#include <cublasLt.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/matmul.cuh"
#include "ward/backend/cuda/matmul_plan.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/error.hpp"

namespace ward::backend::cuda {

/// c += op(a) op(b); T is float or bf16.
template <class T>
void gemm_accumulate(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, const T* a, index_t lda, const T* b,
                     index_t ldb, T* c, index_t ldc) {
    static_assert(KernelElement<T>, "ward: the CUDA gemm_accumulate takes f32 or bf16");
    if (M <= 0 || N <= 0 || K <= 0) return;  // op(a) op(b) is empty (K = 0): c += 0
    if (lda < (trans_a ? M : K) || ldb < (trans_b ? K : N) || ldc < N)
        throw shape_error("cuda gemm_accumulate: row strides lda " + std::to_string(lda) + ", ldb " + std::to_string(ldb) +
                          ", ldc " + std::to_string(ldc) + " are shorter than the rows of M " + std::to_string(M) +
                          ", N " + std::to_string(N) + ", K " + std::to_string(K));
    LtContext& ctx = LtContext::get();
    detail::LtHandles h;
    const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cudaDataType_t type = detail::lt_data_type<T>();
    WARD_CUDA_CHECK(cublasLtMatmulDescCreate(&h.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));  // f32 alpha and beta
    // Column-major: c^T (N x M) = op(b buffer) (N x K) * op(a buffer) (K x M).
    WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b));
    WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a));
    // The buffers as stored, column-major: b is (N, K) or, transposed, (K, N); a is (K, M) or (M, K).
    detail::make_layout(&h.a, type, std::uint64_t(trans_b ? K : N), std::uint64_t(trans_b ? N : K), ldb, 1, 0);
    detail::make_layout(&h.b, type, std::uint64_t(trans_a ? M : K), std::uint64_t(trans_a ? K : M), lda, 1, 0);
    detail::make_layout(&h.c, type, std::uint64_t(N), std::uint64_t(M), ldc, 1, 0);

    WARD_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&h.pref));
    std::size_t ws = LtContext::workspace_bytes;
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    // Views at an offset are less aligned than cuBLASLt's default assumption (256 bytes): say so, so
    // that it picks an algorithm that can read them (matmul_plan.cuh's rule: the address and the rows).
    auto address = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
    const std::uint32_t align_a = alignment_of(address(b), sizeof(T), {ldb}),
                        align_b = alignment_of(address(a), sizeof(T), {lda}),
                        align_c = alignment_of(address(c), sizeof(T), {ldc});
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a,
                                                         sizeof align_a));
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b,
                                                         sizeof align_b));
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c,
                                                         sizeof align_c));
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c,
                                                         sizeof align_c));
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    WARD_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.handle, h.op, h.a, h.b, h.c, h.c, h.pref, 1, &heuristic, &found));
    if (found == 0)
        throw backend_error("cuBLASLt: no algorithm for gemm_accumulate M " + std::to_string(M) + ", N " + std::to_string(N) +
                            ", K " + std::to_string(K));
    const float alpha = 1.0f, beta = 1.0f;
    WARD_CUDA_CHECK(cublasLtMatmul(ctx.handle, h.op, &alpha, b, h.a, a, h.b, &beta, c, h.c, c, h.c, &heuristic.algo,
                                   ctx.workspace, ws, current_stream()));
}

}  // namespace ward::backend::cuda
