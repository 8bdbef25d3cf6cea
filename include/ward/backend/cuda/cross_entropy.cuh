#pragma once
// Cross-entropy over rows of f32 or bf16 (E) logits on the GPU, fused (the CPU kernels' meaning,
// device memory), in f32 math:
//
//   x is (N, V) contiguous E, t is (N) ids; a row whose id is outside [0, V) picks nothing. mask, the
//   log-probs out and their gradient g are (N) E; lse and the row weights w are (N) f32, as the
//   compute type keeps them (a bf16 lse of 7 would be off by up to 0.016 in every probability).
//   forward:  lse[n] = log(sum_v exp(x[n, v])),  picked[n] = x[n, t[n]] (0 when out of range)
//   loss:     w[n] = 0 where t[n] == ignore, else mask[n] (or 1); sums = {sum w, sum w (lse - picked)}
//   log-probs: out[n] = picked[n] - lse[n] (0 where t[n] == ignore)
//   backward: dx[n, v] = (exp(x[n, v] - lse[n]) - [v == t[n]]) * coef[n]
//
// The row pass takes one warp per row for V <= 1024, one block per row above. The loss sums are
// added in f64 by one block in a fixed order (deterministic) and read back to the host, which
// synchronises the current stream.

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/rows.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/tensor/fused.hpp"

namespace ward::backend::cuda {

// x (N, V), t (N) -> lse (N) and, for the loss (Loss = true), w (N) and term (N) = w (lse - picked)
// in f64; for log-probs (Loss = false), out (N). One warp (Block = false) or block per row.
template <bool Block, bool Loss, class E>
__global__ void __launch_bounds__(row_block_threads)
    cross_entropy_rows_kernel(const E* x, index_t N, index_t V, const std::int64_t* t, const E* mask, std::int64_t ignore,
                              float* lse, float* w, double* term, E* out) {
    const RowSlot<Block> s;
    if (s.row >= N) return;  // whole warps only
    const E* r = x + s.row * V;
    float m = -INFINITY;
    for (index_t v = s.lane; v < V; v += s.step) m = fmaxf(m, float(r[v]));  // fmaxf skips NaN, as the CPU's max does
    m = row_reduce<Block, true>(m);
    float l;
    if (isinf(m)) {  // all -inf, or an inf dominating every finite term; a NaN anywhere wins
        float nans = 0;
        for (index_t v = s.lane; v < V; v += s.step) nans += isnan(float(r[v])) ? 1.f : 0.f;
        l = row_reduce<Block, false>(nans) > 0 ? NAN : m;
    } else {
        float sum = 0;
        for (index_t v = s.lane; v < V; v += s.step) sum += expf(float(r[v]) - m);
        l = m + logf(row_reduce<Block, false>(sum));  // a NaN in the row makes the sum NaN
    }
    if (s.lane != 0) return;
    const std::int64_t id = t[s.row];
    const float picked = id >= 0 && id < V ? float(r[id]) : 0.f;
    lse[s.row] = l;
    if constexpr (Loss) {
        const float wn = id == ignore ? 0.f : mask ? float(mask[s.row]) : 1.f;
        w[s.row] = wn;
        term[s.row] = double(wn) * (double(l) - double(picked));
    } else {
        out[s.row] = E(id == ignore ? 0.f : picked - l);
    }
}

// w (N), term (N) -> sums (2) = {sum w, sum term} in f64; one block of block_threads, fixed order.
__global__ void __launch_bounds__(block_threads) cross_entropy_sum_kernel(const float* w, const double* term, index_t N,
                                                                          double* sums) {
    __shared__ double sw[block_threads], st[block_threads];
    double a = 0, b = 0;
    for (index_t i = threadIdx.x; i < N; i += blockDim.x) a += double(w[i]), b += term[i];
    sw[threadIdx.x] = a, st[threadIdx.x] = b;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half >>= 1) {
        if (threadIdx.x < half) sw[threadIdx.x] += sw[threadIdx.x + half], st[threadIdx.x] += st[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[0] = sw[0], sums[1] = st[0];
}

// x (N, V), t (N), lse (N) -> dx (N, V); coef[n] = w[n] * scale (Loss: wg is w, f32) or
// t[n] == ignore ? 0 : -g[n] (wg is the log-probs' gradient g, E).
template <bool Loss, class E, class W>
__global__ void cross_entropy_backward_kernel(const E* x, index_t N, index_t V, const std::int64_t* t, const float* lse,
                                              const W* wg, float scale, std::int64_t ignore, E* dx) {
    const index_t total = N * V;
    for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x) {
        const index_t n = e / V, v = e - n * V;
        const float c = Loss ? float(wg[n]) * scale : (t[n] == ignore ? 0.f : -float(wg[n]));
        const float p = expf(float(x[e]) - lse[n]);
        dx[e] = E((v == t[n] ? p - 1.f : p) * c);
    }
}

namespace detail {
/// A device buffer of `bytes`, returned to the cache on every exit.
struct Scratch {
    void* p;
    explicit Scratch(std::size_t bytes) : p(ward::DeviceMemory<ward::cuda>::allocate(bytes)) {}
    ~Scratch() { ward::DeviceMemory<ward::cuda>::release(p); }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};
}  // namespace detail

/// The loss of cross-entropy over rows: fills lse and w (N) and returns {sum w, sum w (lse - x[t])}.
template <KernelElement E>
CrossEntropySums cross_entropy_loss(const E* x, index_t N, index_t V, const std::int64_t* t, const E* mask, std::int64_t ignore,
                                    float* lse, float* w) {
    CrossEntropySums sums;
    if (N <= 0) return sums;
    detail::Scratch term(sizeof(double) * static_cast<std::size_t>(N)), out(2 * sizeof(double));
    auto* termp = static_cast<double*>(term.p);
    launch_rows(cross_entropy_rows_kernel<false, true, E>, cross_entropy_rows_kernel<true, true, E>, N, V,
                "cross_entropy kernel launch", x, N, V, t, mask, ignore, lse, w, termp, static_cast<E*>(nullptr));
    cross_entropy_sum_kernel<<<1, block_threads, 0, current_stream()>>>(w, termp, N, static_cast<double*>(out.p));
    check(cudaGetLastError(), "cross_entropy sum kernel launch");
    double host[2] = {0, 0};
    ward::DeviceMemory<ward::cuda>::to_host(host, out.p, sizeof host);
    sums.counted = host[0];
    sums.total = host[1];
    return sums;
}

/// dx (N, V) of cross_entropy_loss for a loss gradient of w * scale per row.
template <KernelElement E>
void cross_entropy_loss_backward(const E* x, index_t N, index_t V, const std::int64_t* t, const float* lse, const float* w,
                                 float scale, E* dx) {
    if (N <= 0 || V <= 0) return;
    cross_entropy_backward_kernel<true, E, float><<<grid_stride_blocks(N * V), block_threads, 0, current_stream()>>>(
        x, N, V, t, lse, w, scale, 0, dx);
    check(cudaGetLastError(), "cross_entropy backward kernel launch");
}

/// out (N): log softmax(x)[t] per row, 0 where t is `ignore`; lse (N) kept for the backward pass.
template <KernelElement E>
void token_log_probs(const E* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, float* lse, E* out) {
    if (N <= 0) return;
    launch_rows(cross_entropy_rows_kernel<false, false, E>, cross_entropy_rows_kernel<true, false, E>, N, V,
                "token_log_probs kernel launch", x, N, V, t, static_cast<const E*>(nullptr), ignore, lse,
                static_cast<float*>(nullptr), static_cast<double*>(nullptr), out);
}

/// dx (N, V) of token_log_probs for the output gradient g (N).
template <KernelElement E>
void token_log_probs_backward(const E* x, index_t N, index_t V, const std::int64_t* t, std::int64_t ignore, const float* lse,
                              const E* g, E* dx) {
    if (N <= 0 || V <= 0) return;
    cross_entropy_backward_kernel<false, E, E><<<grid_stride_blocks(N * V), block_threads, 0, current_stream()>>>(
        x, N, V, t, lse, g, 1.f, ignore, dx);
    check(cudaGetLastError(), "token_log_probs backward kernel launch");
}

}  // namespace ward::backend::cuda
