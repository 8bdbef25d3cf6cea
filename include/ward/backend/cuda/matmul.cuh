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
#include "ward/backend/cuda/launch.cuh"
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

/// How one row-major operand's matrix (its last two axes) appears to column-major cuBLASLt.
struct LtOperand {
    cublasOperation_t op;
    std::uint64_t rows, cols;  // of the column-major buffer
    std::int64_t ld;
};

/// The (r x c) matrix with strides (sr, sc), as its column-major transpose (c x r) or, for a
/// transposed view, as the column-major (r x c) buffer with the transpose flag. Layouts with no
/// unit stride, or a leading dimension that rows would overlap in (stride 0, negative), are refused.
inline LtOperand describe(index_t r, index_t c, index_t sr, index_t sc, const Strides& strides, const char* name) {
    if ((sc == 1 || c == 1) && (r == 1 || sr >= std::max<index_t>(c, 1)))  // rows contiguous
        return {CUBLAS_OP_N, std::uint64_t(c), std::uint64_t(r), r == 1 ? std::max<index_t>(c, 1) : sr};
    if ((sr == 1 || r == 1) && (c == 1 || sc >= std::max<index_t>(r, 1)))  // a transposed view
        return {CUBLAS_OP_T, std::uint64_t(r), std::uint64_t(c), c == 1 ? std::max<index_t>(r, 1) : sc};
    throw shape_error(std::string("cuda matmul: operand ") + name + " with strides " + strides.str() +
                      " has no unit stride in its last two axes; make it contiguous first");
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

/// One batch axis of the output with each operand's stride on it (0 where the operand broadcasts).
struct BatchAxis {
    index_t n;
    std::int64_t sa, sb, sc;
};

/// The output's batch axes of extent > 1, adjacent ones merged where every operand steps through
/// them as through one axis (outer stride = inner stride * inner extent; stride 0 merges with 0).
/// Outermost first; the last is what cuBLASLt batches over, the others the host loops over.
inline std::vector<BatchAxis> collapse_batch(std::vector<BatchAxis> axes) {
    std::vector<BatchAxis> out;
    for (const BatchAxis& ax : axes) {
        if (ax.n == 1) continue;
        if (!out.empty()) {
            BatchAxis& o = out.back();
            if (o.sa == ax.sa * ax.n && o.sb == ax.sb * ax.n && o.sc == ax.sc * ax.n) {
                o = {o.n * ax.n, ax.sa, ax.sb, ax.sc};
                continue;
            }
        }
        out.push_back(ax);
    }
    return out;
}

/// The largest power of two (up to 256) dividing every byte offset a pointer can take: what
/// cuBLASLt's heuristic is told (it assumes 256-byte aligned buffers otherwise).
inline std::uint32_t alignment_of(const void* p, std::size_t elem, std::initializer_list<std::int64_t> strides) {
    std::uint64_t bits = reinterpret_cast<std::uintptr_t>(p) | 256u;
    for (std::int64_t s : strides) bits |= static_cast<std::uint64_t>(s < 0 ? -s : s) * elem;
    return static_cast<std::uint32_t>(bits & (~bits + 1));
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
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, bf16>, "ward: the CUDA matmul takes f32 or bf16");
    const int ra = a.shape.rank, rb = b.shape.rank, n = c.shape.rank;
    if (ra < 2 || rb < 2 || n != std::max(ra, rb))
        throw shape_error("cuda matmul: takes operands of rank >= 2 and an output of the larger rank, got " +
                          a.shape.str() + " @ " + b.shape.str() + " -> " + c.shape.str());
    const index_t M = a.shape[ra - 2], K = a.shape[ra - 1], N = b.shape[rb - 1];
    bool fits = b.shape[rb - 2] == K && c.shape[n - 2] == M && c.shape[n - 1] == N;
    std::vector<detail::BatchAxis> axes;
    for (int i = 0; i < n - 2 && fits; ++i) {
        const index_t d = c.shape[i];
        const index_t da = i < n - ra ? 1 : a.shape[i - (n - ra)], db = i < n - rb ? 1 : b.shape[i - (n - rb)];
        fits = (da == d || da == 1) && (db == d || db == 1);
        if (d > 1 && c.strides[i] == 0)
            throw shape_error("cuda matmul: output c " + c.shape.str() + " has stride 0 on axis " + std::to_string(i) +
                              " (strides " + c.strides.str() + "): its elements alias");
        axes.push_back({d, da == 1 ? 0 : a.strides[i - (n - ra)], db == 1 ? 0 : b.strides[i - (n - rb)], c.strides[i]});
    }
    if (!fits) throw shape_error("cuda matmul: shapes " + a.shape.str() + " @ " + b.shape.str() + " do not give " + c.shape.str());
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

    std::vector<detail::BatchAxis> batch = detail::collapse_batch(std::move(axes));
    detail::BatchAxis inner = batch.empty() ? detail::BatchAxis{1, 0, 0, 0} : batch.back();
    if (!batch.empty()) batch.pop_back();
    index_t outer = 1;
    for (const auto& ax : batch) outer *= ax.n;
    if (inner.n > INT_MAX) throw shape_error("cuda matmul: a batch of " + std::to_string(inner.n) + " matrices exceeds cuBLASLt's int32 count");

    if (K == 0) {  // the product is empty: c = epilogue(bias)
        for (index_t q = 0; q < outer; ++q) {
            std::int64_t oc = 0;
            for (index_t i = index_t(batch.size()) - 1, rem = q; i >= 0; --i) {
                oc += (rem % batch[i].n) * batch[i].sc;
                rem /= batch[i].n;
            }
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
    const detail::LtOperand la = detail::describe(M, K, a.strides[ra - 2], a.strides[ra - 1], a.strides, "a");
    const detail::LtOperand lb = detail::describe(K, N, b.strides[rb - 2], b.strides[rb - 1], b.strides, "b");
    const std::int32_t count = static_cast<std::int32_t>(inner.n);
    constexpr cudaDataType_t type = detail::lt_data_type<T>();
    const cublasComputeType_t compute =
        std::is_same_v<T, float> && allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (bias) epi = ep == Epilogue::gelu_tanh ? CUBLASLT_EPILOGUE_GELU_BIAS : ep == Epilogue::relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    else if (ep == Epilogue::gelu_tanh) epi = CUBLASLT_EPILOGUE_GELU;
    else if (ep == Epilogue::relu) epi = CUBLASLT_EPILOGUE_RELU;
    // Views start anywhere in their buffers, and each step of a batch moves the pointer.
    std::uint32_t align_a = detail::alignment_of(b.data, sizeof(T), {inner.sb}),
                  align_b = detail::alignment_of(a.data, sizeof(T), {inner.sa}),
                  align_c = detail::alignment_of(c.data, sizeof(T), {inner.sc});
    for (const auto& ax : batch) {
        align_a = std::min(align_a, detail::alignment_of(b.data, sizeof(T), {ax.sb}));
        align_b = std::min(align_b, detail::alignment_of(a.data, sizeof(T), {ax.sa}));
        align_c = std::min(align_c, detail::alignment_of(c.data, sizeof(T), {ax.sc}));
    }
    int device = 0;
    WARD_CUDA_CHECK(cudaGetDevice(&device));
    const std::vector<std::int64_t> key{device, std::int64_t(type), std::int64_t(compute), std::int64_t(epi),
                                        std::int64_t(lb.op), std::int64_t(lb.rows), std::int64_t(lb.cols), lb.ld,
                                        std::int64_t(la.op), std::int64_t(la.rows), std::int64_t(la.cols), la.ld,
                                        N, M, ldc, count, inner.sa, inner.sb, inner.sc, align_a, align_b, align_c};

    auto& plans = detail::lt_plans();
    auto found_plan = plans.find(key);
    if (found_plan == plans.end()) {
        auto plan = std::make_unique<detail::LtPlan>();
        detail::LtHandles& h = plan->h;
        WARD_CUDA_CHECK(cublasLtMatmulDescCreate(&h.op, compute, CUDA_R_32F));
        // Column-major: C^T (N x M) = op(B buffer) (N x K) * op(A buffer) (K x M).
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSA, &lb.op, sizeof lb.op));
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_TRANSB, &la.op, sizeof la.op));
        WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        if (bias) {
            // The bias has the output's type (cuBLASLt's default for a bf16 or f32 D), stated anyway.
            const cudaDataType_t bias_type = type;
            WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
            WARD_CUDA_CHECK(cublasLtMatmulDescSetAttribute(h.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        }
        detail::make_layout(&h.a, type, lb.rows, lb.cols, lb.ld, count, inner.sb);
        detail::make_layout(&h.b, type, la.rows, la.cols, la.ld, count, inner.sa);
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
        std::int64_t oa = 0, ob = 0, oc = 0;
        for (index_t i = index_t(batch.size()) - 1, rem = q; i >= 0; --i) {
            const index_t idx = rem % batch[i].n;
            rem /= batch[i].n;
            oa += idx * batch[i].sa;
            ob += idx * batch[i].sb;
            oc += idx * batch[i].sc;
        }
        WARD_CUDA_CHECK(cublasLtMatmul(ctx.handle, h.op, &alpha, b.data + ob, h.a, a.data + oa, h.b, &beta, c.data + oc,
                                       h.c, c.data + oc, h.c, &plan.algo, ctx.workspace, LtContext::workspace_bytes,
                                       current_stream()));
    }
}

}  // namespace ward::backend::cuda
