#pragma once
// f32 matmul on the GPU through cuBLASLt, with bias and GELU/ReLU fused as epilogues.
// Row-major C = A B is column-major C^T = B^T A^T, so the operands are handed over swapped; a
// transposed view (unit stride on the second-to-last axis) becomes a cuBLASLt transpose flag.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <mutex>
#include <string>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

enum class Epilogue { none, relu, gelu_tanh };

/// The process-wide cuBLASLt handle and its workspace (created on first use).
struct LtContext {
    cublasLtHandle_t handle = nullptr;
    void* workspace = nullptr;
    static constexpr std::size_t workspace_bytes = std::size_t(32) << 20;

    static LtContext& get() {
        static LtContext ctx;
        static std::once_flag once;
        std::call_once(once, [] {
            WARD_CUDA_CHECK(cublasLtCreate(&ctx.handle));
            ctx.workspace = DeviceMemory<ward::cuda>::allocate(workspace_bytes);
        });
        return ctx;
    }
};

namespace detail {

/// How one row-major operand (rows x cols, batched) appears to column-major cuBLASLt.
struct LtOperand {
    cublasOperation_t op;
    std::uint64_t rows, cols;  // of the column-major buffer
    std::int64_t ld, batch_stride;
};

/// x is (..., r, c) row-major-ish; returns its column-major description as the transpose (c x r).
inline LtOperand describe(const StridedView<const float>& x, const char* name) {
    int n = x.shape.rank;
    index_t r = x.shape[n - 2], c = x.shape[n - 1];
    index_t sr = x.strides[n - 2], sc = x.strides[n - 1];
    std::int64_t batch = n == 3 ? x.strides[0] : 0;
    if (sc == 1 || c == 1)  // rows contiguous: the buffer is column-major (c x r) with ld = sr
        return {CUBLAS_OP_N, std::uint64_t(c), std::uint64_t(r), std::max<std::int64_t>(sr, std::max<index_t>(c, 1)), batch};
    if (sr == 1 || r == 1)  // a transposed view: the buffer is column-major (r x c) with ld = sc
        return {CUBLAS_OP_T, std::uint64_t(r), std::uint64_t(c), std::max<std::int64_t>(sc, std::max<index_t>(r, 1)), batch};
    throw shape_error(std::string("cuda matmul: operand ") + name + " with strides " + x.strides.str() +
                      " has no unit stride in its last two axes; make it contiguous first");
}

struct LtHandles {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    ~LtHandles() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
    }
};

inline void make_layout(cublasLtMatrixLayout_t* layout, std::uint64_t rows, std::uint64_t cols, std::int64_t ld,
                        std::int32_t batch, std::int64_t batch_stride) {
    WARD_CUDA_CHECK(cublasLtMatrixLayoutCreate(layout, CUDA_R_32F, rows, cols, ld));
    if (batch > 1) {
        WARD_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        WARD_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                         &batch_stride, sizeof batch_stride));
    }
}

}  // namespace detail

/// c = epilogue(a @ b + bias). a is (M, K) or (B, M, K), b is (K, N) or (B, K, N) (a batch stride of
/// 0 broadcasts), c is (M, N) or (B, M, N) with unit column stride; bias is (N) or null.
inline void matmul(StridedView<const float> a, StridedView<const float> b, const float* bias, Epilogue ep,
                   StridedView<float> c) {
    int n = c.shape.rank;
    if (n < 2 || n > 3 || a.shape.rank != n || b.shape.rank != n)
        throw shape_error("cuda matmul: takes rank 2 or 3 operands of equal rank, got " + a.shape.str() + " @ " +
                          b.shape.str() + " -> " + c.shape.str());
    index_t M = a.shape[n - 2], K = a.shape[n - 1], N = b.shape[n - 1];
    if (b.shape[n - 2] != K || c.shape[n - 2] != M || c.shape[n - 1] != N || (n == 3 && (a.shape[0] != c.shape[0] || b.shape[0] != c.shape[0])))
        throw shape_error("cuda matmul: shapes " + a.shape.str() + " @ " + b.shape.str() + " do not give " + c.shape.str());
    if (c.strides[n - 1] != 1) throw shape_error("cuda matmul: output needs unit column stride, has " + c.strides.str());
    if (c.numel() == 0) return;

    LtContext& ctx = LtContext::get();
    detail::LtOperand la = detail::describe(a, "a"), lb = detail::describe(b, "b");
    std::int32_t batch = n == 3 ? static_cast<std::int32_t>(c.shape[0]) : 1;
    detail::LtHandles h;
    WARD_CUDA_CHECK(cublasLtMatmulDescCreate(&h.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    // Column-major: C^T (N x M) = op(B buffer) (N x K) * op(A buffer) (K x M).
    WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSA, &lb.op, sizeof lb.op));
    WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSB, &la.op, sizeof la.op));
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (bias) epi = ep == Epilogue::gelu_tanh ? CUBLASLT_EPILOGUE_GELU_BIAS : ep == Epilogue::relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    else if (ep == Epilogue::gelu_tanh) epi = CUBLASLT_EPILOGUE_GELU;
    else if (ep == Epilogue::relu) epi = CUBLASLT_EPILOGUE_RELU;
    WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias) WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));

    detail::make_layout(&h.a, lb.rows, lb.cols, lb.ld, batch, lb.batch_stride);
    detail::make_layout(&h.b, la.rows, la.cols, la.ld, batch, la.batch_stride);
    detail::make_layout(&h.c, std::uint64_t(N), std::uint64_t(M), c.strides[n - 2], batch, n == 3 ? c.strides[0] : 0);

    WARD_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&h.pref));
    std::size_t ws = LtContext::workspace_bytes;
    WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    WARD_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.handle, h.op, h.a, h.b, h.c, h.c, h.pref, 1, &heuristic, &found));
    if (found == 0) throw backend_error("cuBLASLt: no algorithm for " + a.shape.str() + " @ " + b.shape.str());
    const float alpha = 1.0f, beta = 0.0f;
    WARD_CUDA_CHECK(cublasLtMatmul(ctx.handle, h.op, &alpha, b.data, h.a, a.data, h.b, &beta, c.data, h.c, c.data, h.c,
                                   &heuristic.algo, ctx.workspace, ws, current_stream()));
}

}  // namespace ward::backend::cuda
