#pragma once
// Matmul on the GPU through cuBLASLt, with bias and GELU/ReLU fused as epilogues:
//   a is (..., M, K), b is (..., K, N), bias is (N) or null, c is (..., M, N)
//   c = epilogue(a @ b + bias)
// T = float (f32 compute; TF32 tensor cores when set_allow_tf32(true)) or bf16 (bf16 operands,
// bias and output, f32 accumulation and f32 epilogue). Batch axes broadcast as on the CPU (extent 1
// or stride 0). Batch axes that collapse to one stride per operand go to cuBLASLt as one
// strided-batched call; otherwise the outer batch index is looped on the host, one call each.
// Row-major C = A B is column-major C^T = B^T A^T, so the operands are handed over swapped; a
// transposed view (unit stride on the second-to-last axis) becomes a cuBLASLt transpose flag.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/matmul_plan.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

enum class Epilogue { none, relu, gelu_tanh };

namespace detail {
inline std::atomic<bool>& allow_tf32_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}
}  // namespace detail

/// Whether f32 matmuls may round their inputs to TF32 (10-bit mantissa) on the tensor cores, with
/// f32 accumulation: process-wide, off by default (as torch.backends.cuda.matmul.allow_tf32), read
/// at every matmul call. bf16 matmuls are unaffected.
inline void set_allow_tf32(bool on) { detail::allow_tf32_flag().store(on, std::memory_order_relaxed); }
inline bool allow_tf32() { return detail::allow_tf32_flag().load(std::memory_order_relaxed); }

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

template <class T>
constexpr cudaDataType_t lt_data_type() {
    if constexpr (std::is_same_v<T, bf16>) return CUDA_R_16BF;
    else return CUDA_R_32F;
}

struct LtHandles {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    LtHandles() = default;
    LtHandles(const LtHandles&) = delete;
    LtHandles& operator=(const LtHandles&) = delete;
    ~LtHandles() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
    }
};

inline void make_layout(cublasLtMatrixLayout_t* layout, cudaDataType_t type, std::uint64_t rows, std::uint64_t cols,
                        std::int64_t ld, std::int32_t batch, std::int64_t batch_stride) {
    WARD_CUDA_CHECK(cublasLtMatrixLayoutCreate(layout, type, rows, cols, ld));
    if (batch > 1) {
        WARD_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch));
        WARD_CUDA_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                         &batch_stride, sizeof batch_stride));
    }
}

/// A device block (or none) released to the current stream's cache, so in stream order, when it goes.
struct OptionalBlock {
    void* p = nullptr;
    OptionalBlock() = default;
    OptionalBlock(const OptionalBlock&) = delete;
    OptionalBlock& operator=(const OptionalBlock&) = delete;
    ~OptionalBlock() {
        if (p) DeviceMemory<ward::cuda>::release(p);
    }
};

/// A matmul problem's descriptors and the algorithm cuBLASLt's heuristic chose for them.
struct LtPlan {
    LtHandles h;
    cublasLtMatmulAlgo_t algo{};
};
inline constexpr std::size_t max_lt_plans = 4096;  // then the cache starts over

/// This thread's plans, one per problem (types, transposes, extents, leading dimensions, batch
/// strides, epilogue, alignments, device), made once as oneDNN's primitives are on the CPU. Per
/// thread, so that setting a cached descriptor's bias pointer races with no other thread.
inline std::map<std::vector<std::int64_t>, std::unique_ptr<LtPlan>>& lt_plans() {
    thread_local std::map<std::vector<std::int64_t>, std::unique_ptr<LtPlan>> plans;
    return plans;
}

__device__ inline float apply_epilogue(float v, Epilogue ep) {
    if (ep == Epilogue::relu) return v > 0.0f ? v : 0.0f;
    if (ep == Epilogue::gelu_tanh) return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    return v;
}

/// c = epilogue(bias or 0) when K = 0. c is (batch, M, N) with strides (sbatch, ldc, 1); bias is (N) or null.
template <class T>
__global__ void fill_empty_product_kernel(T* c, const T* bias, Epilogue ep, index_t batch, std::int64_t sbatch,
                                          index_t M, index_t N, std::int64_t ldc) {
    const index_t total = batch * M * N;
    for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += index_t(gridDim.x) * blockDim.x) {
        const index_t n = i % N, rest = i / N, m = rest % M, q = rest / M;
        const float v = bias ? element_cast<float>(bias[n]) : 0.0f;
        c[q * sbatch + m * ldc + n] = element_cast<T>(apply_epilogue(v, ep));
    }
}

}  // namespace detail

/// c = epilogue(a @ b + bias). a is (..., M, K), b is (..., K, N), c is (..., M, N) (rank that of
/// the higher-rank operand); batch axes of a and b broadcast (extent 1 or stride 0). Operands need
/// a unit stride on one of their last two axes, c on its last (a column-major c without bias is
/// computed as c^T = b^T a^T). bias is (N) contiguous or null. T = float or bf16.
template <class T>
void matmul(StridedView<const T> a, StridedView<const T> b, const T* bias, Epilogue ep, StridedView<T> c) {
    static_assert(KernelElement<T>, "ward: the CUDA matmul takes f32 or bf16");
    const MatmulShape shape = plan_matmul_shape(a.shape, a.strides, b.shape, b.strides, c.shape, c.strides);
    const int ra = a.shape.rank, rb = b.shape.rank, n = c.shape.rank;
    const index_t M = shape.M, K = shape.K, N = shape.N;
    if (c.numel() == 0) return;
    const index_t scr = c.strides[n - 2], scc = c.strides[n - 1];
    if (scc != 1 && N != 1) {
        // A column-major output: c^T = b^T a^T, all three transposes stride swaps.
        if (!bias && (scr == 1 || M == 1)) {
            auto t = [](auto v) {
                const int r = v.shape.rank;
                std::swap(v.shape[r - 2], v.shape[r - 1]);
                std::swap(v.strides[r - 2], v.strides[r - 1]);
                return v;
            };
            return matmul<T>(t(b), t(a), nullptr, ep, t(c));
        }
        throw shape_error("cuda matmul: output needs unit column stride, has " + c.strides.str());
    }
    if (M > 1 && scr < N) throw shape_error("cuda matmul: output rows of " + c.shape.str() + " overlap (strides " + c.strides.str() + ")");
    const std::int64_t ldc = M == 1 ? std::max<index_t>(N, 1) : scr;

    const BatchSplit split = split_batch(shape.axes);
    const std::vector<BatchAxis>& batch = split.outer;
    const BatchAxis inner = split.inner;
    const index_t outer = split.steps;
    if (inner.n > INT_MAX) throw shape_error("cuda matmul: a batch of " + std::to_string(inner.n) + " matrices exceeds cuBLASLt's int32 count");

    if (K == 0) {  // the product is empty: c = epilogue(bias)
        for (index_t q = 0; q < outer; ++q) {
            const std::int64_t oc = outer_offsets(batch, q).c;
            const index_t work = inner.n * M * N;
            detail::fill_empty_product_kernel<T><<<grid_stride_blocks(work), block_threads, 0, current_stream()>>>(
                c.data + oc, bias, ep, inner.n, inner.sc, M, N, ldc);
            check(cudaGetLastError(), "matmul fill kernel launch");
        }
        return;
    }

    // cuBLASLt's bias epilogues read the bias in 16-byte packs: a bias view starting elsewhere
    // (a slice of a larger tensor) is copied to a fresh, aligned block first.
    detail::OptionalBlock aligned_bias;
    if (bias && reinterpret_cast<std::uintptr_t>(bias) % 16 != 0) {
        const std::size_t bytes = static_cast<std::size_t>(N) * sizeof(T);
        aligned_bias.p = DeviceMemory<ward::cuda>::allocate(bytes);
        DeviceMemory<ward::cuda>::copy(aligned_bias.p, bias, bytes);
        bias = static_cast<const T*>(aligned_bias.p);
    }

    LtContext& ctx = LtContext::get();
    const LtMatrix ma = describe_matrix(M, K, a.strides[ra - 2], a.strides[ra - 1], a.strides, "a");
    const LtMatrix mb = describe_matrix(K, N, b.strides[rb - 2], b.strides[rb - 1], b.strides, "b");
    const cublasOperation_t op_a = ma.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = mb.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    const std::int32_t count = static_cast<std::int32_t>(inner.n);
    constexpr cudaDataType_t type = detail::lt_data_type<T>();
    const cublasComputeType_t compute =
        std::is_same_v<T, float> && allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (bias) epi = ep == Epilogue::gelu_tanh ? CUBLASLT_EPILOGUE_GELU_BIAS : ep == Epilogue::relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    else if (ep == Epilogue::gelu_tanh) epi = CUBLASLT_EPILOGUE_GELU;
    else if (ep == Epilogue::relu) epi = CUBLASLT_EPILOGUE_RELU;
    // Views start anywhere in their buffers, and each step of a batch moves the pointer.
    const auto address = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
    std::uint32_t align_a = alignment_of(address(b.data), sizeof(T), {inner.sb}),
                  align_b = alignment_of(address(a.data), sizeof(T), {inner.sa}),
                  align_c = alignment_of(address(c.data), sizeof(T), {inner.sc});
    for (const auto& ax : batch) {
        align_a = std::min(align_a, alignment_of(address(b.data), sizeof(T), {ax.sb}));
        align_b = std::min(align_b, alignment_of(address(a.data), sizeof(T), {ax.sa}));
        align_c = std::min(align_c, alignment_of(address(c.data), sizeof(T), {ax.sc}));
    }
    int device = 0;
    WARD_CUDA_CHECK(cudaGetDevice(&device));
    const std::vector<std::int64_t> key{device, std::int64_t(type), std::int64_t(compute), std::int64_t(epi),
                                        std::int64_t(mb.transposed), std::int64_t(mb.rows), std::int64_t(mb.cols), mb.ld,
                                        std::int64_t(ma.transposed), std::int64_t(ma.rows), std::int64_t(ma.cols), ma.ld,
                                        N, M, ldc, count, inner.sa, inner.sb, inner.sc, align_a, align_b, align_c};

    auto& plans = detail::lt_plans();
    auto found_plan = plans.find(key);
    if (found_plan == plans.end()) {
        auto plan = std::make_unique<detail::LtPlan>();
        detail::LtHandles& h = plan->h;
        WARD_CUDA_CHECK(cublasLtMatmulDescCreate(&h.op, compute, CUDA_R_32F));
        // Column-major: C^T (N x M) = op(B buffer) (N x K) * op(A buffer) (K x M).
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b));
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a));
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        if (bias) {
            // The bias has the output's type (cuBLASLt's default for a bf16 or f32 D), stated anyway.
            const cudaDataType_t bias_type = type;
            WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
            WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        }
        detail::make_layout(&h.a, type, mb.rows, mb.cols, mb.ld, count, inner.sb);
        detail::make_layout(&h.b, type, ma.rows, ma.cols, ma.ld, count, inner.sa);
        detail::make_layout(&h.c, type, std::uint64_t(N), std::uint64_t(M), ldc, count, inner.sc);

        WARD_CUDA_CHECK(cublasLtMatmulPreferenceCreate(&h.pref));
        std::size_t ws = LtContext::workspace_bytes;
        WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
        WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof align_a));
        WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof align_b));
        WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c));
        WARD_CUDA_CHECK(cublasLtMatmulPreferenceSetAttribute(h.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof align_c));
        cublasLtMatmulHeuristicResult_t heuristic{};
        int found = 0;
        WARD_CUDA_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.handle, h.op, h.a, h.b, h.c, h.c, h.pref, 1, &heuristic, &found));
        if (found == 0) throw backend_error("cuBLASLt: no algorithm for " + a.shape.str() + " @ " + b.shape.str());
        plan->algo = heuristic.algo;
        if (plans.size() >= detail::max_lt_plans) plans.clear();
        found_plan = plans.emplace(key, std::move(plan)).first;
    }
    detail::LtPlan& plan = *found_plan->second;
    if (bias)  // the plan may have been made for another bias: this call's, on this thread's descriptor
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(plan.h.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const detail::LtHandles& h = plan.h;
    const float alpha = 1.0f, beta = 0.0f;
    for (index_t q = 0; q < outer; ++q) {
        const BatchOffsets o = outer_offsets(batch, q);
        WARD_CUDA_CHECK(cublasLtMatmul(ctx.handle, h.op, &alpha, b.data + o.b, h.a, a.data + o.a, h.b, &beta, c.data + o.c,
                                       h.c, c.data + o.c, h.c, &plan.algo, ctx.workspace, LtContext::workspace_bytes,
                                       current_stream()));
    }
}

}  // namespace ward::backend::cuda
