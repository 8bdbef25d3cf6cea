#pragma once
// Causal scaled-dot-product attention on the GPU, fused (the CPU's attention.hpp, device memory),
// FlashAttention-2 style: the (T, S) score matrix is never stored. Operands and results are f32 or
// bf16 (E); tiles, scores and sums are f32 whatever E is, and lse is always f32.
//
//   q (B, H, T, hd), k and v (B, Hkv, S, hd), each with any strides but a contiguous last axis;
//   query head h reads key/value head h / (H / Hkv).
//   Query i sees key j iff j <= offset + i and (no padding given, or pad[b, j] != 0).
//   forward:  s = scale q k^T,  lse_i = log sum_{j seen} exp(s_ij),  p = exp(s - lse),  o = p v
//   backward: dv = p^T do,  dp = do v^T,  ds = p (dp - rowsum(do o)) scale,  dq = ds k,  dk = ds^T q
//   o, do and dq are (B, T, H, hd) contiguous (that is, (B, T, C)); lse is (B, H, T); dk and dv are
//   (B, S, Hkv, hd) contiguous.
// A query that sees no key gets o = 0 and lse = -inf, and passes no gradient (as on the CPU).
//
// Tiling. A block of 256 threads (16 x 16) takes BR query rows of one head (forward, dq) or BC key
// rows of one key/value head (dk, dv); head-dim tiles sit in shared memory padded to HDP columns
// (64, 128 or 256: hd <= 256, any value) with zeros past hd up to a multiple of 4, read as float4
// (operands are read four elements at a time where aligned, converted to f32 as they are stored);
// BR = BC = 64 for hd <= 128, 32 above (the backward's four head-dim tiles then still fit).
// Thread (ty, tx) computes score rows ty + 16 r and key columns tx + 16 c of a (BR, BC) tile, and
// output rows ty + 16 r, columns 4 tx + 64 c (+0..3) of a (rows, hd) tile.
//   forward: one pass over the key blocks the query block can see (causal blocks past the limit
//            skipped), with the online softmax: running max m and sum l per row, o rescaled by
//            exp(m_old - m_new); K and V take turns in one buffer.
//   backward: delta = rowsum(do o) per row first; then dk and dv per key block (the block loops
//            over the query heads of its group and the query blocks that see it, in order), and
//            dq per query block (a second kernel that recomputes p and dp). Every output element
//            is summed by one thread in a fixed order: no atomics, the same bits on every run, at
//            the price of computing q k^T and do v^T twice (7 tile products instead of 5).
// Decoding (T = 1, S large) would give one block per head: where the grid is smaller than the GPU,
// the forward splits the keys over up to 64 blocks per query block and merges their (m, l, o) after,
// in a fixed order (flash-decoding). A one-query block still computes a 64-row tile, 63 rows idle.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/cross_entropy.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/launch.cuh"
#include "ward/backend/cuda/launch_plan.cuh"
#include "ward/backend/cuda/memory.cuh"
#include "ward/backend/cuda/rows.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/config.hpp"
#include "ward/core/error.hpp"
#include "ward/tensor/attention_layout.hpp"

namespace ward::backend::cuda {

using ward::AttentionShape;
using ward::BasicHeadRows;

/// Threads of an attention block: 16 x 16.
inline constexpr int attention_threads = 256;

namespace detail {

/// The shared-memory geometry of one kernel instance: head-dim tiles of HDP columns, BR query rows,
/// BC key rows.
template <int HDP, int BR, int BC>
struct AttentionTile {
    static_assert(HDP % 64 == 0 && BR % 16 == 0 && BC % 16 == 0, "attention tile sizes");
    // A row stride of HDP + 4 floats keeps rows 16-byte aligned and puts the rows 16 threads read at
    // the same column on different banks (HDP is a multiple of 32).
    static constexpr int LD = HDP + 4;
    // A (BR, BC) score tile's row stride: rows ty and ty + 1 (one warp) on different banks, 16 apart.
    static constexpr int LP = BC + 16;
    // The transposed (BC, BR) tiles of the dk/dv kernel: 16-byte rows; a warp's writes (16 rows, 2
    // columns) meet at most two to a bank.
    static constexpr int LPT = BR + 4;
    static constexpr int RM = BR / 16, CM = BC / 16, NC = HDP / 64;
    static constexpr int hdp = HDP, br = BR, bc = BC;
};

/// Four consecutive elements at p (aligned to four elements: 16 bytes for f32, 8 for bf16) in f32.
template <class E>
__device__ float4 attention_load4(const E* p) {
    const Pack<E, 4> x = *reinterpret_cast<const Pack<E, 4>*>(p);
    return make_float4(float(x.v[0]), float(x.v[1]), float(x.v[2]), float(x.v[3]));
}

/// Fills the (R, LD) tile with rows [0, rows) of src (row stride `stride`), columns [0, hd), zeros in
/// columns [hd, hd4) and in rows [rows, R). Vec: hd % 4 == 0, and src and stride aligned to four
/// elements.
template <int R, int LD, class E>
__device__ void attention_load(float* tile, const E* src, index_t stride, int rows, int hd, int hd4, bool vec) {
    if (vec) {
        const int q4 = hd / 4;
        for (int e = threadIdx.x; e < R * q4; e += blockDim.x) {
            const int r = e / q4, c = (e - r * q4) * 4;
            const float4 x = r < rows ? attention_load4(src + r * stride + c) : make_float4(0, 0, 0, 0);
            *reinterpret_cast<float4*>(tile + r * LD + c) = x;
        }
    } else {
        for (int e = threadIdx.x; e < R * hd4; e += blockDim.x) {
            const int r = e / hd4, c = e - r * hd4;
            tile[r * LD + c] = r < rows && c < hd ? float(src[r * stride + c]) : 0.f;
        }
    }
}

/// acc[r][c] = sum_{d < hd4} A[ty + 16 r][d] * Bt[tx + 16 c][d]: a (16 RM, 16 CM) tile of A Bt^T.
template <int RM, int CM, int LD>
__device__ void attention_dot(float (&acc)[RM][CM], const float* A, const float* Bt, int hd4, int ty, int tx) {
#pragma unroll
    for (int r = 0; r < RM; ++r)
#pragma unroll
        for (int c = 0; c < CM; ++c) acc[r][c] = 0.f;
    for (int d = 0; d < hd4; d += 4) {
        float4 x[RM], y[CM];
#pragma unroll
        for (int r = 0; r < RM; ++r) x[r] = *reinterpret_cast<const float4*>(A + (ty + 16 * r) * LD + d);
#pragma unroll
        for (int c = 0; c < CM; ++c) y[c] = *reinterpret_cast<const float4*>(Bt + (tx + 16 * c) * LD + d);
#pragma unroll
        for (int r = 0; r < RM; ++r)
#pragma unroll
            for (int c = 0; c < CM; ++c)
                acc[r][c] = fmaf(x[r].x, y[c].x, fmaf(x[r].y, y[c].y, fmaf(x[r].z, y[c].z, fmaf(x[r].w, y[c].w, acc[r][c]))));
    }
}

/// acc[r][c] += sum_{k < K} P[ty + 16 r][k] * V[k][4 tx + 64 c .. +3] (P with row stride LP, V with
/// LD; K a multiple of 4): P is read four k at a time as float4 (one address per quarter warp, a
/// broadcast). Columns at or past hd4 are skipped (never read, never written).
template <int RM, int NC, int LP, int LD>
__device__ void attention_accumulate(float4 (&acc)[RM][NC], const float* P, const float* V, int K, int hd4, int ty, int tx) {
    static_assert(LP % 4 == 0 && LD % 4 == 0, "float4 rows");
    for (int k = 0; k < K; k += 4) {
        float4 p[RM];
#pragma unroll
        for (int r = 0; r < RM; ++r) p[r] = *reinterpret_cast<const float4*>(P + (ty + 16 * r) * LP + k);
#pragma unroll
        for (int c = 0; c < NC; ++c) {
            const int d = 4 * tx + 64 * c;
            if (d >= hd4) continue;
#pragma unroll
            for (int kk = 0; kk < 4; ++kk) {
                const float4 w = *reinterpret_cast<const float4*>(V + (k + kk) * LD + d);
#pragma unroll
                for (int r = 0; r < RM; ++r) {
                    const float pr = kk == 0 ? p[r].x : kk == 1 ? p[r].y : kk == 2 ? p[r].z : p[r].w;
                    acc[r][c].x = fmaf(pr, w.x, acc[r][c].x);
                    acc[r][c].y = fmaf(pr, w.y, acc[r][c].y);
                    acc[r][c].z = fmaf(pr, w.z, acc[r][c].z);
                    acc[r][c].w = fmaf(pr, w.w, acc[r][c].w);
                }
            }
        }
    }
}

/// Writes the (4-column) pieces of acc row r, scaled by f, to dst[d] for d < hd (rounded to E).
template <int NC, class E>
__device__ void attention_store(E* dst, const float4 (&acc)[NC], float f, int hd, int tx) {
#pragma unroll
    for (int c = 0; c < NC; ++c) {
        const int d = 4 * tx + 64 * c;
        if (d + 0 < hd) dst[d + 0] = E(acc[c].x * f);
        if (d + 1 < hd) dst[d + 1] = E(acc[c].y * f);
        if (d + 2 < hd) dst[d + 2] = E(acc[c].z * f);
        if (d + 3 < hd) dst[d + 3] = E(acc[c].w * f);
    }
}

/// Max and sum over the 16 lanes of a half warp (the threads of one score row); every lane calls.
__device__ inline float half_warp_max(float v) {
#pragma unroll
    for (int d = 8; d > 0; d >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, d));
    return v;
}
__device__ inline float half_warp_sum(float v) {
#pragma unroll
    for (int d = 8; d > 0; d >>= 1) v += __shfl_xor_sync(0xffffffffu, v, d);
    return v;
}

/// The smaller of two extents (ward::min, the reduction, hides the unqualified name here).
__device__ inline index_t least(index_t x, index_t y) { return x < y ? x : y; }

/// Whether query i (< T) sees key j (< S) of batch row b.
__device__ inline bool attention_seen(const AttentionShape& a, index_t b, index_t i, index_t j) {
    return j <= a.offset + i && (a.pad == nullptr || a.pad[b * a.S + j] != 0.f);
}

}  // namespace detail

// q, k, v -> o (B, T, H, hd), lse (B, H, T). Grid (B * H, ceil(T / BR), splits): block (bh, y, z)
// takes query rows [i0, i0 + BR) of head h of batch row b, the last query block first (it sees the
// most keys). Split over the keys (split > 0, for grids too small to fill the GPU: decoding), block z
// takes keys [z split, (z + 1) split) only and writes its unnormalised o, m and l to part_o
// (splits, B, H, T, hd) and part_ml (splits, B, H, T, 2) for attention_combine_kernel.
// Shared: Q (BR, LD), K or V (BC, LD), P (BR, LP).
template <int HDP, int BR, int BC, class E>
__global__ void __launch_bounds__(attention_threads)
    attention_forward_kernel(AttentionShape a, BasicHeadRows<E> q, BasicHeadRows<E> k, BasicHeadRows<E> v, E* o,
                             float* lse, bool vec, index_t split, float* part_o, float* part_ml) {
    using L = detail::AttentionTile<HDP, BR, BC>;
    constexpr int LD = L::LD, LP = L::LP, RM = L::RM, CM = L::CM, NC = L::NC;
    extern __shared__ float4 attention_smem[];
    float* Qs = reinterpret_cast<float*>(attention_smem);
    float* KVs = Qs + BR * LD;
    float* Ps = KVs + BC * LD;
    const int tx = int(threadIdx.x % 16), ty = int(threadIdx.x / 16);
    const index_t bh = blockIdx.x, b = bh / a.H, h = bh % a.H, g = h / a.group();
    const index_t i0 = index_t(gridDim.y - 1 - blockIdx.y) * BR;
    const int rows = int(detail::least(index_t(BR), a.T - i0)), hd = int(a.hd), hd4 = (hd + 3) & ~3;
    const index_t seen_keys = a.visible(i0 + rows);  // keys [0, seen_keys) are all this block can see
    const index_t j_begin = split > 0 ? index_t(blockIdx.z) * split : 0;
    const index_t n = split > 0 ? detail::least(seen_keys, j_begin + split) : seen_keys;

    detail::attention_load<BR, LD>(Qs, q.at(b, h, i0), q.row, rows, hd, hd4, vec);
    float m[RM], l[RM];
    float4 acc[RM][NC];
#pragma unroll
    for (int r = 0; r < RM; ++r) {
        m[r] = -INFINITY, l[r] = 0.f;
#pragma unroll
        for (int c = 0; c < NC; ++c) acc[r][c] = make_float4(0, 0, 0, 0);
    }
    for (index_t j0 = j_begin; j0 < n; j0 += BC) {
        const int cols = int(detail::least(index_t(BC), n - j0));
        __syncthreads();  // the previous block's V and P are read
        detail::attention_load<BC, LD>(KVs, k.at(b, g, j0), k.row, cols, hd, hd4, vec);
        __syncthreads();
        float s[RM][CM];
        detail::attention_dot<RM, CM, LD>(s, Qs, KVs, hd4, ty, tx);
        __syncthreads();  // K is read: V takes its place
        detail::attention_load<BC, LD>(KVs, v.at(b, g, j0), v.row, cols, hd, hd4, vec);
#pragma unroll
        for (int r = 0; r < RM; ++r) {
            const index_t i = i0 + ty + 16 * r;
            float mx = -INFINITY;
#pragma unroll
            for (int c = 0; c < CM; ++c) {
                const int jc = tx + 16 * c;
                const bool seen = i < a.T && jc < cols && detail::attention_seen(a, b, i, j0 + jc);
                s[r][c] = seen ? s[r][c] * a.scale : -INFINITY;
                mx = fmaxf(mx, s[r][c]);
            }
            const float m_new = fmaxf(m[r], detail::half_warp_max(mx));
            float sum = 0.f, alpha = 1.f;
            if (m_new != -INFINITY) {  // else nothing seen yet: p = 0, o and l unchanged
                alpha = expf(m[r] - m_new);  // 0 when m[r] is -inf
#pragma unroll
                for (int c = 0; c < CM; ++c) {
                    s[r][c] = s[r][c] == -INFINITY ? 0.f : expf(s[r][c] - m_new);
                    sum += s[r][c];
                }
            } else {
#pragma unroll
                for (int c = 0; c < CM; ++c) s[r][c] = 0.f;
            }
            sum = detail::half_warp_sum(sum);
            l[r] = l[r] * alpha + sum;
            m[r] = m_new;
#pragma unroll
            for (int c = 0; c < NC; ++c) {
                acc[r][c].x *= alpha, acc[r][c].y *= alpha;
                acc[r][c].z *= alpha, acc[r][c].w *= alpha;
            }
#pragma unroll
            for (int c = 0; c < CM; ++c) Ps[(ty + 16 * r) * LP + tx + 16 * c] = s[r][c];
        }
        __syncthreads();  // P and V are in place
        detail::attention_accumulate<RM, NC, LP, LD>(acc, Ps, KVs, BC, hd4, ty, tx);
    }
#pragma unroll
    for (int r = 0; r < RM; ++r) {
        const index_t i = i0 + ty + 16 * r;
        if (i >= a.T) continue;
        if (part_o) {  // this split's share, combined later
            const index_t prow = index_t(blockIdx.z) * a.B * a.H * a.T + (b * a.H + h) * a.T + i;
            detail::attention_store<NC>(part_o + prow * a.hd, acc[r], 1.f, hd, tx);
            if (tx == 0) part_ml[2 * prow] = m[r], part_ml[2 * prow + 1] = l[r];
            continue;
        }
        const bool none = m[r] == -INFINITY;  // saw no key: o = 0, lse = -inf
        detail::attention_store<NC>(o + ((b * a.T + i) * a.H + h) * a.hd, acc[r], none ? 0.f : 1.f / l[r], hd, tx);
        if (tx == 0) lse[(b * a.H + h) * a.T + i] = none ? -INFINITY : m[r] + logf(l[r]);
    }
}

// part_o (splits, B, H, T, hd), part_ml (splits, B, H, T, 2) -> o (B, T, H, hd), lse (B, H, T): the
// splits' online-softmax states merged, in split order. One thread per element of o (hd > 0).
template <class E>
__global__ void attention_combine_kernel(const float* part_o, const float* part_ml, index_t splits, index_t B, index_t H,
                                         index_t T, index_t hd, E* o, float* lse) {
    const index_t rows = B * H * T, total = rows * hd;
    for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x) {
        const index_t row = e / hd, d = e - row * hd;  // row = (b H + h) T + i
        float M = -INFINITY;
        for (index_t z = 0; z < splits; ++z) M = fmaxf(M, part_ml[2 * (z * rows + row)]);
        float L = 0.f, acc = 0.f;
        if (M != -INFINITY)
            for (index_t z = 0; z < splits; ++z) {
                const float m = part_ml[2 * (z * rows + row)];
                if (m == -INFINITY) continue;  // this split saw no key of the row
                const float w = expf(m - M);
                L = fmaf(part_ml[2 * (z * rows + row) + 1], w, L);
                acc = fmaf(part_o[(z * rows + row) * hd + d], w, acc);
            }
        const index_t i = row % T, bh = row / T, h = bh % H, b = bh / H;
        o[((b * T + i) * H + h) * hd + d] = E(M == -INFINITY ? 0.f : acc / L);
        if (d == 0) lse[row] = M == -INFINITY ? -INFINITY : M + logf(L);
    }
}

// o, do (B, T, H, hd) -> delta (B, H, T) = rowsum(do o); one warp per row (b, t, h), 8 per block.
template <class E>
__global__ void __launch_bounds__(row_block_threads)
    attention_delta_kernel(const E* o, const E* d_o, index_t B, index_t T, index_t H, index_t hd, float* delta) {
    const index_t row = index_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
    const int lane = int(threadIdx.x % 32);
    if (row >= B * T * H) return;  // whole warps
    const E *po = o + row * hd, *pd = d_o + row * hd;
    float acc = 0.f;
    for (index_t d = lane; d < hd; d += 32) acc = fmaf(float(po[d]), float(pd[d]), acc);
    acc = warp_sum(acc);
    if (lane == 0) {
        const index_t h = row % H, bt = row / H, t = bt % T, b = bt / T;
        delta[(b * H + h) * T + t] = acc;
    }
}

// q, k, v, lse, delta (B, H, T), do (B, T, H, hd) -> dq (B, T, H, hd). Grid (B * H, ceil(T / BR)),
// as the forward; each block recomputes p and dp over the key blocks its rows see, and sums
// dq = ds k in registers. Shared: Q, dO (BR, LD), K, V (BC, LD), dS (BR, LP).
template <int HDP, int BR, int BC, class E>
__global__ void __launch_bounds__(attention_threads)
    attention_dq_kernel(AttentionShape a, BasicHeadRows<E> q, BasicHeadRows<E> k, BasicHeadRows<E> v, const float* lse,
                        const float* delta, const E* d_o, E* dq, bool vec) {
    using L = detail::AttentionTile<HDP, BR, BC>;
    constexpr int LD = L::LD, LP = L::LP, RM = L::RM, CM = L::CM, NC = L::NC;
    extern __shared__ float4 attention_smem[];
    float* Qs = reinterpret_cast<float*>(attention_smem);
    float* dOs = Qs + BR * LD;
    float* Ks = dOs + BR * LD;
    float* Vs = Ks + BC * LD;
    float* dSs = Vs + BC * LD;
    const int tx = int(threadIdx.x % 16), ty = int(threadIdx.x / 16);
    const index_t bh = blockIdx.x, b = bh / a.H, h = bh % a.H, g = h / a.group(), ldo = a.H * a.hd;
    const index_t i0 = index_t(gridDim.y - 1 - blockIdx.y) * BR;
    const int rows = int(detail::least(index_t(BR), a.T - i0)), hd = int(a.hd), hd4 = (hd + 3) & ~3;
    const index_t n = a.visible(i0 + rows);

    detail::attention_load<BR, LD>(Qs, q.at(b, h, i0), q.row, rows, hd, hd4, vec);
    detail::attention_load<BR, LD>(dOs, d_o + (b * a.T + i0) * ldo + h * a.hd, ldo, rows, hd, hd4, vec);
    float row_lse[RM], row_delta[RM];
    float4 acc[RM][NC];
#pragma unroll
    for (int r = 0; r < RM; ++r) {
        const index_t i = i0 + ty + 16 * r;
        row_lse[r] = i < a.T ? lse[(b * a.H + h) * a.T + i] : -INFINITY;
        row_delta[r] = i < a.T ? delta[(b * a.H + h) * a.T + i] : 0.f;
#pragma unroll
        for (int c = 0; c < NC; ++c) acc[r][c] = make_float4(0, 0, 0, 0);
    }
    for (index_t j0 = 0; j0 < n; j0 += BC) {
        const int cols = int(detail::least(index_t(BC), n - j0));
        __syncthreads();  // the previous block's K and dS are read
        detail::attention_load<BC, LD>(Ks, k.at(b, g, j0), k.row, cols, hd, hd4, vec);
        detail::attention_load<BC, LD>(Vs, v.at(b, g, j0), v.row, cols, hd, hd4, vec);
        __syncthreads();
        float s[RM][CM], dp[RM][CM];
        detail::attention_dot<RM, CM, LD>(s, Qs, Ks, hd4, ty, tx);
        detail::attention_dot<RM, CM, LD>(dp, dOs, Vs, hd4, ty, tx);
#pragma unroll
        for (int r = 0; r < RM; ++r) {
            const index_t i = i0 + ty + 16 * r;
#pragma unroll
            for (int c = 0; c < CM; ++c) {
                const int jc = tx + 16 * c;
                const bool seen = i < a.T && jc < cols && row_lse[r] != -INFINITY && detail::attention_seen(a, b, i, j0 + jc);
                const float p = seen ? expf(s[r][c] * a.scale - row_lse[r]) : 0.f;
                dSs[(ty + 16 * r) * LP + jc] = p * (dp[r][c] - row_delta[r]) * a.scale;
            }
        }
        __syncthreads();  // dS is in place
        detail::attention_accumulate<RM, NC, LP, LD>(acc, dSs, Ks, BC, hd4, ty, tx);
    }
#pragma unroll
    for (int r = 0; r < RM; ++r) {
        const index_t i = i0 + ty + 16 * r;
        if (i < a.T) detail::attention_store<NC>(dq + (b * a.T + i) * ldo + h * a.hd, acc[r], 1.f, hd, tx);
    }
}

// q, k, v, lse, delta (B, H, T), do (B, T, H, hd) -> dk, dv (B, S, Hkv, hd). Grid (B * Hkv,
// ceil(S / BC)): block (bg, y) takes keys [j0, j0 + BC) of key/value head g and loops over the
// query heads of g's group and, in each, the query blocks from the first query that sees j0 on;
// dk and dv are summed in registers. Shared: K, V (BC, LD), Q, dO (BR, LD), and p and ds transposed,
// (BC, LPT), so that both sums read them four query rows at a time.
template <int HDP, int BR, int BC, class E>
__global__ void __launch_bounds__(attention_threads)
    attention_dkdv_kernel(AttentionShape a, BasicHeadRows<E> q, BasicHeadRows<E> k, BasicHeadRows<E> v, const float* lse,
                          const float* delta, const E* d_o, E* dk, E* dv, bool vec) {
    using L = detail::AttentionTile<HDP, BR, BC>;
    constexpr int LD = L::LD, LPT = L::LPT, RM = L::RM, CM = L::CM, NC = L::NC, KM = BC / 16;
    extern __shared__ float4 attention_smem[];
    float* Ks = reinterpret_cast<float*>(attention_smem);
    float* Vs = Ks + BC * LD;
    float* Qs = Vs + BC * LD;
    float* dOs = Qs + BR * LD;
    float* Pt = dOs + BR * LD;
    float* dSt = Pt + BC * LPT;
    const int tx = int(threadIdx.x % 16), ty = int(threadIdx.x / 16);
    const index_t bg = blockIdx.x, b = bg / a.Hkv, g = bg % a.Hkv, ldo = a.H * a.hd;
    const index_t j0 = index_t(blockIdx.y) * BC;
    const int cols = int(detail::least(index_t(BC), a.S - j0)), hd = int(a.hd), hd4 = (hd + 3) & ~3;
    const index_t first = (j0 > a.offset ? j0 - a.offset : index_t(0));  // the first query that sees key j0

    detail::attention_load<BC, LD>(Ks, k.at(b, g, j0), k.row, cols, hd, hd4, vec);
    detail::attention_load<BC, LD>(Vs, v.at(b, g, j0), v.row, cols, hd, hd4, vec);
    float4 dk_acc[KM][NC], dv_acc[KM][NC];
#pragma unroll
    for (int r = 0; r < KM; ++r)
#pragma unroll
        for (int c = 0; c < NC; ++c) dk_acc[r][c] = make_float4(0, 0, 0, 0), dv_acc[r][c] = make_float4(0, 0, 0, 0);
    const index_t group = a.group();
    for (index_t h = g * group; h < (g + 1) * group; ++h) {
        const float* lse_h = lse + (b * a.H + h) * a.T;
        const float* delta_h = delta + (b * a.H + h) * a.T;
        for (index_t i0 = first; i0 < a.T; i0 += BR) {
            const int rows = int(detail::least(index_t(BR), a.T - i0));
            __syncthreads();  // the previous block's Q, dO, P and dS are read
            detail::attention_load<BR, LD>(Qs, q.at(b, h, i0), q.row, rows, hd, hd4, vec);
            detail::attention_load<BR, LD>(dOs, d_o + (b * a.T + i0) * ldo + h * a.hd, ldo, rows, hd, hd4, vec);
            __syncthreads();
            float s[RM][CM], dp[RM][CM];
            detail::attention_dot<RM, CM, LD>(s, Qs, Ks, hd4, ty, tx);
            detail::attention_dot<RM, CM, LD>(dp, dOs, Vs, hd4, ty, tx);
#pragma unroll
            for (int r = 0; r < RM; ++r) {
                const int ir = ty + 16 * r;
                const index_t i = i0 + ir;
                const float row_lse = ir < rows ? lse_h[i] : -INFINITY, row_delta = ir < rows ? delta_h[i] : 0.f;
#pragma unroll
                for (int c = 0; c < CM; ++c) {
                    const int jc = tx + 16 * c;
                    const bool seen =
                        ir < rows && jc < cols && row_lse != -INFINITY && detail::attention_seen(a, b, i, j0 + jc);
                    const float p = seen ? expf(s[r][c] * a.scale - row_lse) : 0.f;
                    Pt[jc * LPT + ir] = p;
                    dSt[jc * LPT + ir] = p * (dp[r][c] - row_delta) * a.scale;
                }
            }
            __syncthreads();  // P and dS are in place
            // dv += p^T do, dk += ds^T q: key rows ty + 16 r, summed over the BR query rows.
            detail::attention_accumulate<KM, NC, LPT, LD>(dv_acc, Pt, dOs, BR, hd4, ty, tx);
            detail::attention_accumulate<KM, NC, LPT, LD>(dk_acc, dSt, Qs, BR, hd4, ty, tx);
        }
    }
    const index_t ldkv = a.Hkv * a.hd;
#pragma unroll
    for (int r = 0; r < KM; ++r) {
        const index_t j = j0 + ty + 16 * r;
        if (j >= a.S) continue;
        detail::attention_store<NC>(dk + (b * a.S + j) * ldkv + g * a.hd, dk_acc[r], 1.f, hd, tx);
        detail::attention_store<NC>(dv + (b * a.S + j) * ldkv + g * a.hd, dv_acc[r], 1.f, hd, tx);
    }
}

namespace detail {

/// Whether every head operand (and the dense (B, T, H, hd) arrays) can be read four elements at a
/// time: addresses aligned to four elements, strides multiples of four.
template <class E>
bool attention_vec(const AttentionShape& a, std::initializer_list<BasicHeadRows<E>> heads,
                   std::initializer_list<const E*> dense) {
    auto aligned = [](const void* p) { return starts_pack<E, 4>(p); };
    if (a.hd % 4 != 0) return false;
    for (const BasicHeadRows<E>& r : heads)
        if (!aligned(r.base) || r.batch % 4 != 0 || r.head % 4 != 0 || r.row % 4 != 0) return false;
    for (const E* p : dense)
        if (!aligned(p)) return false;
    return true;
}

/// Launches kernel over grid (x, y, z) with `smem` bytes of dynamic shared memory on the current stream.
template <class Kernel, class... Args>
void attention_launch(Kernel kernel, index_t x, index_t y, index_t z, std::size_t smem, const char* what, Args... args) {
    if (x <= 0 || y <= 0 || z <= 0) return;
    if (x > index_t(0x7fffffff) || y > index_t(65535) || z > index_t(65535))
        throw shape_error(std::string(what) + ": grid " + std::to_string(x) + " x " + std::to_string(y) + " x " +
                          std::to_string(z) +
                          " exceeds what CUDA launches (batch * heads below 2^31, blocks of a sequence below 65536)");
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)), what);
    kernel<<<dim3(unsigned(x), unsigned(y), unsigned(z)), attention_threads, smem, current_stream()>>>(args...);
    check(cudaGetLastError(), what);
}

/// Calls f(AttentionTile<HDP, BR, BC>{}) with the tile sizes for head size hd.
template <class F>
void attention_dispatch(index_t hd, F&& f) {
    if (hd > 256) throw shape_error("cuda attention: head size " + std::to_string(hd) + " is above the kernels' 256");
    if (hd <= 64) f(AttentionTile<64, 64, 64>{});
    else if (hd <= 128) f(AttentionTile<128, 64, 64>{});
    else f(AttentionTile<256, 32, 32>{});
}

}  // namespace detail

/// o (B, T, H, hd) and lse (B, H, T) from q, k, v; E is float or bf16.
template <class E>
void attention_forward(const AttentionShape& a, BasicHeadRows<E> q, BasicHeadRows<E> k, BasicHeadRows<E> v, E* o, float* lse) {
    static_assert(KernelElement<E>, "ward: the CUDA attention takes f32 or bf16");
    if (a.B <= 0 || a.H <= 0 || a.T <= 0) return;
    const bool vec = detail::attention_vec<E>(a, {q, k, v}, {});
    detail::attention_dispatch(a.hd, [&](auto tile) {
        using Z = decltype(tile);
        const std::size_t smem = sizeof(float) * std::size_t((Z::br + Z::bc) * Z::LD + Z::br * Z::LP);
        const index_t qblocks = (a.T + Z::br - 1) / Z::br, blocks = a.B * a.H * qblocks;
        // Too few blocks to fill the GPU (decoding: one query, many keys): split the keys so that
        // about two blocks per SM run, each over at least one key tile, and merge the splits after.
        const index_t key_tiles = (a.visible(a.T) + Z::bc - 1) / Z::bc, sms = sm_count();
        index_t splits = blocks < sms && a.hd > 0 ? std::min({(2 * sms + blocks - 1) / blocks, key_tiles, index_t(64)}) : 1;
        const index_t split = splits > 1 ? (key_tiles + splits - 1) / splits * Z::bc : 0;
        if (split > 0) splits = (a.visible(a.T) + split - 1) / split;
        if (splits < 2) {
            detail::attention_launch(attention_forward_kernel<Z::hdp, Z::br, Z::bc, E>, a.B * a.H, qblocks, 1, smem,
                                     "attention forward kernel launch", a, q, k, v, o, lse, vec, index_t(0),
                                     static_cast<float*>(nullptr), static_cast<float*>(nullptr));
            return;
        }
        const index_t rows = a.B * a.H * a.T;
        detail::Scratch part_o(sizeof(float) * std::size_t(splits * rows * a.hd)),
            part_ml(sizeof(float) * std::size_t(2 * splits * rows));
        auto *po = static_cast<float*>(part_o.p), *pml = static_cast<float*>(part_ml.p);
        detail::attention_launch(attention_forward_kernel<Z::hdp, Z::br, Z::bc, E>, a.B * a.H, qblocks, splits, smem,
                                 "attention forward kernel launch", a, q, k, v, o, lse, vec, split, po, pml);
        attention_combine_kernel<E><<<grid_stride_blocks(rows * a.hd), block_threads, 0, current_stream()>>>(
            po, pml, splits, a.B, a.H, a.T, a.hd, o, lse);
        check(cudaGetLastError(), "attention combine kernel launch");
    });
}

/// dq (B, T, H, hd), dk and dv (B, S, Hkv, hd), all overwritten, from do (B, T, H, hd) and the
/// forward's o and lse.
template <class E>
void attention_backward(const AttentionShape& a, BasicHeadRows<E> q, BasicHeadRows<E> k, BasicHeadRows<E> v, const E* o,
                        const float* lse, const E* d_o, E* dq, E* dk, E* dv) {
    static_assert(KernelElement<E>, "ward: the CUDA attention takes f32 or bf16");
    if (a.B <= 0 || a.Hkv <= 0) return;
    const index_t rows = a.B * a.T * a.H;
    if (rows == 0) {  // no queries: no gradient reaches the keys
        if (a.S > 0 && a.hd > 0) {
            const std::size_t bytes = sizeof(E) * std::size_t(a.B * a.S * a.Hkv * a.hd);
            check(cudaMemsetAsync(dk, 0, bytes, current_stream()), "attention backward: zeroing dk");
            check(cudaMemsetAsync(dv, 0, bytes, current_stream()), "attention backward: zeroing dv");
        }
        return;
    }
    detail::Scratch delta_buf(sizeof(float) * std::size_t(rows));
    auto* delta = static_cast<float*>(delta_buf.p);
    const int per_block = row_block_threads / 32;
    attention_delta_kernel<E><<<unsigned((rows + per_block - 1) / per_block), row_block_threads, 0, current_stream()>>>(
        o, d_o, a.B, a.T, a.H, a.hd, delta);
    check(cudaGetLastError(), "attention delta kernel launch");
    const bool vec = detail::attention_vec<E>(a, {q, k, v}, {d_o});
    detail::attention_dispatch(a.hd, [&](auto tile) {
        using Z = decltype(tile);
        const std::size_t dq_smem = sizeof(float) * std::size_t(2 * (Z::br + Z::bc) * Z::LD + Z::br * Z::LP);
        detail::attention_launch(attention_dq_kernel<Z::hdp, Z::br, Z::bc, E>, a.B * a.H, (a.T + Z::br - 1) / Z::br, 1, dq_smem,
                                 "attention dq kernel launch", a, q, k, v, lse, static_cast<const float*>(delta), d_o, dq,
                                 vec);
        const std::size_t kv_smem = sizeof(float) * std::size_t(2 * (Z::br + Z::bc) * Z::LD + 2 * Z::bc * Z::LPT);
        detail::attention_launch(attention_dkdv_kernel<Z::hdp, Z::br, Z::bc, E>, a.B * a.Hkv, (a.S + Z::bc - 1) / Z::bc, 1,
                                 kv_smem, "attention dk/dv kernel launch", a, q, k, v, lse,
                                 static_cast<const float*>(delta), d_o, dk, dv, vec);
    });
}

}  // namespace ward::backend::cuda
