#pragma once
// Batched matrix multiply with an optional bias and a fused element-wise epilogue, on strided views:
//
//   a is (..., M, K), b is (..., K, N), bias is (N) or null, c is (..., M, N)
//   c = epilogue(a @ b + bias)
//
// Batch dims of a and b broadcast NumPy-style (missing leading dims or extent-1 dims, or stride 0).
// Transposes arrive as strides (a (M, K) view with strides (1, M) is a transposed matrix) and reach
// oneDNN as strided memory descriptors; an operand is copied only where its layout has no unit
// stride in its last two dims, or a negative/zero one, or oneDNN would fall back to its reference
// kernel (each copy is counted in onednn::cache_stats().layout_copies).
//   f32  -> oneDNN matmul primitive (bias argument + eltwise post-op), cached per shape/layout.
//   bf16 -> oneDNN bf16 matmul (f32 accumulation) where the CPU has it, else through f32.
//   f64  -> Eigen GEMM on Map + OuterStride views (oneDNN has no f64 matmul on the CPU).

#include <Eigen/Core>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ward/backend/cpu/onednn.hpp"
#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cpu {

/// The element-wise tail fused into matmul, applied after the bias.
enum class Epilogue { none, relu, gelu_tanh };

namespace detail {

/// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
template <class A>
inline A gelu_tanh(A x) {
    const A k = A(0.7978845608028654);  // sqrt(2/pi)
    return A(0.5) * x * (A(1) + std::tanh(k * (x + A(0.044715) * x * x * x)));
}

template <class A>
inline A apply_epilogue(A x, Epilogue ep) {
    switch (ep) {
        case Epilogue::none: return x;
        case Epilogue::relu: return x > A(0) ? x : A(0);
        case Epilogue::gelu_tanh: return gelu_tanh(x);
    }
    return x;
}

/// One matmul operand laid out in the output's rank r: dims (broadcast batch dims reduced to 1),
/// normalised strides (extent-1 dims get harmless positive strides), and whether oneDNN/Eigen can
/// read it in place (`direct`): the last two dims must be row-major (strides (ld >= C, 1)) or
/// column-major (strides (1, ld >= R)), and every stride positive.
struct MatLayout {
    int rank = 0;
    dnnl_dim_t dims[max_rank] = {};
    dnnl_dim_t strides[max_rank] = {};  // as oneDNN will see them when direct
    index_t view_strides[max_rank] = {};  // the caller's strides (0 on padded/broadcast dims), for packing
    bool direct = true;

    index_t numel() const {
        index_t n = 1;
        for (int i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
    bool row_major() const {
        const dnnl_dim_t sR = strides[rank - 2], sC = strides[rank - 1];
        return sC == 1 && sR >= dims[rank - 1];
    }
};

inline MatLayout plan_operand(const Shape& shape, const Strides& st, int r, bool is_output) {
    MatLayout L;
    L.rank = r;
    const int off = r - shape.rank;
    for (int i = 0; i < r; ++i) {
        L.dims[i] = i < off ? 1 : shape[i - off];
        L.view_strides[i] = i < off ? 0 : st[i - off];
        L.strides[i] = L.view_strides[i];
    }
    for (int i = 0; i < r - 2; ++i) {
        if (L.dims[i] == 1) continue;
        if (L.strides[i] == 0 && !is_output) L.dims[i] = 1;  // stride-0 broadcast: oneDNN broadcasts extent 1
        else if (L.strides[i] <= 0) L.direct = false;
    }
    dnnl_dim_t R = L.dims[r - 2], C = L.dims[r - 1];
    dnnl_dim_t& sR = L.strides[r - 2];
    dnnl_dim_t& sC = L.strides[r - 1];
    // Extent-1 matrix dims: pick the stride that makes the matrix row-major where possible.
    if (C == 1) sC = 1;
    if (R == 1) sR = sC == 1 ? C : 1;
    const bool row = sC == 1 && sR >= C, col = sR == 1 && sC >= R;
    if (!row && !col) L.direct = false;
    // Extent-1 batch dims: a stride spanning everything inside, as a dense tensor would have.
    dnnl_dim_t span = std::max<dnnl_dim_t>({dnnl_dim_t{1}, R * sR, C * sC});
    for (int i = r - 3; i >= 0; --i) {
        if (L.dims[i] == 1) L.strides[i] = span;
        span = std::max(span, L.dims[i] * L.strides[i]);
    }
    return L;
}

/// Row-major dense strides for a layout's dims (what a packed copy has).
inline void dense_strides(const MatLayout& L, dnnl_dim_t* s) {
    dnnl_dim_t acc = 1;
    for (int i = L.rank - 1; i >= 0; --i) {
        s[i] = acc;
        acc *= L.dims[i];
    }
}

template <class T>
StridedView<const T> layout_view(const T* data, const MatLayout& L) {
    StridedView<const T> v;
    v.data = data;
    v.shape = Shape::of_rank(L.rank);
    v.strides = Strides::of_rank(L.rank);
    for (int i = 0; i < L.rank; ++i) {
        v.shape[i] = L.dims[i];
        v.strides[i] = L.dims[i] == 1 ? 0 : L.view_strides[i];
    }
    return v;
}

template <class T>
StridedView<T> dense_view(T* data, const MatLayout& L) {
    StridedView<T> v;
    v.data = data;
    v.shape = Shape::of_rank(L.rank);
    v.strides = Strides::of_rank(L.rank);
    dnnl_dim_t s[max_rank];
    dense_strides(L, s);
    for (int i = 0; i < L.rank; ++i) {
        v.shape[i] = L.dims[i];
        v.strides[i] = s[i];
    }
    return v;
}

/// A dense copy of an operand (its broadcast dims stay extent 1).
template <class To, class From>
std::vector<To> pack(const From* data, const MatLayout& L) {
    std::vector<To> buf(static_cast<std::size_t>(L.numel()));
    copy_strided<To, From>(layout_view(data, L), dense_view(buf.data(), L));
    return buf;
}

struct MatmulProblem {
    MatLayout a, b, c;
    index_t M = 0, N = 0, K = 0, batch = 1;
};

/// Checks shapes (throwing shape_error naming them) and plans the three layouts.
template <class T>
MatmulProblem plan_matmul(const StridedView<const T>& a, const StridedView<const T>& b, const StridedView<T>& c) {
    if (a.shape.rank < 2 || b.shape.rank < 2 || c.shape.rank < 2)
        throw shape_error("matmul: operands need rank >= 2 (got a " + a.shape.str() + ", b " + b.shape.str() + ", c " +
                          c.shape.str() + ")");
    MatmulProblem p;
    p.M = a.shape[a.shape.rank - 2];
    p.K = a.shape[a.shape.rank - 1];
    p.N = b.shape[b.shape.rank - 1];
    if (b.shape[b.shape.rank - 2] != p.K)
        throw shape_error("matmul: inner dimensions differ: a is " + a.shape.str() + " and b is " + b.shape.str() +
                          " (K = " + std::to_string(p.K) + " vs " + std::to_string(b.shape[b.shape.rank - 2]) + ")");
    // Batch dims broadcast NumPy-style (checked in place: this runs on every call).
    const int ra = a.shape.rank, rb = b.shape.rank, r = std::max(ra, rb);
    bool c_ok = c.shape.rank == r && c.shape[r - 2] == p.M && c.shape[r - 1] == p.N;
    for (int i = 0; i < r - 2; ++i) {
        const index_t da = i < r - ra ? 1 : a.shape[i - (r - ra)];
        const index_t db = i < r - rb ? 1 : b.shape[i - (r - rb)];
        if (da != db && da != 1 && db != 1)
            throw shape_error("matmul: batch dims of a " + a.shape.str() + " and b " + b.shape.str() +
                              " do not broadcast");
        const index_t d = da == 1 ? db : da;
        c_ok = c_ok && c.shape[i] == d;
        p.batch *= d;
    }
    if (!c_ok) {
        Shape want = Shape::of_rank(r);
        for (int i = 0; i < r - 2; ++i) {
            const index_t da = i < r - ra ? 1 : a.shape[i - (r - ra)];
            const index_t db = i < r - rb ? 1 : b.shape[i - (r - rb)];
            want[i] = da == 1 ? db : da;
        }
        want[r - 2] = p.M;
        want[r - 1] = p.N;
        throw shape_error("matmul: output c has shape " + c.shape.str() + ", expected " + want.str() + " for a " +
                          a.shape.str() + " @ b " + b.shape.str());
    }
    for (int i = 0; i < c.shape.rank; ++i)
        if (c.shape[i] > 1 && c.strides[i] == 0)
            throw shape_error("matmul: output c " + c.shape.str() + " has stride 0 on axis " + std::to_string(i) +
                              " (strides " + c.strides.str() + "): its elements alias");
    p.a = plan_operand(a.shape, a.strides, r, false);
    p.b = plan_operand(b.shape, b.strides, r, false);
    p.c = plan_operand(c.shape, c.strides, r, true);
    return p;
}

/// The view with its last two dims swapped (a transpose, no copy).
template <class T>
StridedView<T> transposed(StridedView<T> v) {
    const int r = v.shape.rank;
    std::swap(v.shape[r - 2], v.shape[r - 1]);
    std::swap(v.strides[r - 2], v.strides[r - 1]);
    return v;
}

/// c = epilogue(bias) when K = 0 (the product is empty).
template <class T>
void fill_empty_product(const T* bias, Epilogue ep, const StridedView<T>& c, index_t M, index_t N) {
    using A = compute_t<T>;
    const int r = c.shape.rank;
    const index_t batch = c.numel() / (M * N);
    for (index_t q = 0; q < batch; ++q) {
        index_t off = 0, rem = q;
        for (int i = r - 3; i >= 0; --i) {
            off += (rem % c.shape[i]) * c.strides[i];
            rem /= c.shape[i];
        }
        for (index_t m = 0; m < M; ++m)
            for (index_t n = 0; n < N; ++n) {
                A v = bias ? static_cast<A>(element_cast<A>(bias[n])) : A(0);
                c.data[off + m * c.strides[r - 2] + n * c.strides[r - 1]] = element_cast<T>(apply_epilogue(v, ep));
            }
    }
}

// ---- oneDNN path (f32, bf16) --------------------------------------------------------------------

inline dnnl_alg_kind_t eltwise_alg(Epilogue ep) {
    switch (ep) {
        case Epilogue::none: return dnnl_alg_kind_undef;
        case Epilogue::relu: return dnnl_eltwise_relu;
        case Epilogue::gelu_tanh: return dnnl_eltwise_gelu_tanh;
    }
    return dnnl_alg_kind_undef;
}

enum : unsigned { pack_a = 1u, pack_b = 2u, pack_c = 4u };

/// Builds the matmul primitive for a plan; `pack` says which operands will be dense copies.
/// Returns nullptr where oneDNN has no implementation.
template <class T>
std::shared_ptr<onednn::Primitive> build_matmul(const MatmulProblem& p, bool has_bias, Epilogue ep, unsigned pack) {
    constexpr dnnl_data_type_t dt = onednn::data_type_of<T>();
    const int r = p.c.rank;
    auto md = [&](const MatLayout& L, bool packed) {
        dnnl_dim_t s[max_rank] = {};  // the first r are set below
        if (packed) dense_strides(L, s);
        else
            for (int i = 0; i < r; ++i) s[i] = L.strides[i];
        return onednn::MemoryDesc(r, L.dims, s, dt);
    };
    onednn::MemoryDesc a = md(p.a, pack & pack_a), b = md(p.b, pack & pack_b), c = md(p.c, pack & pack_c);
    onednn::MemoryDesc bias;
    if (has_bias) {
        dnnl_dim_t d[max_rank], s[max_rank];
        for (int i = 0; i < r; ++i) d[i] = s[i] = 1;
        d[r - 1] = p.N;
        bias = onednn::MemoryDesc(r, d, s, dt);
    }
    onednn::Attr attr(eltwise_alg(ep));
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_status_t st = onednn::matmul_pd(&pd, a, b, has_bias ? &bias : nullptr, c, attr.get());
    if (st == dnnl_unimplemented) return nullptr;
    onednn::check(st, "matmul primitive descriptor creation");
    auto prim = has_bias ? onednn::Primitive::create(pd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST})
                         : onednn::Primitive::create(pd, {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST});
    prim->plan = pack;
    return prim;
}

/// Runs a planned matmul through oneDNN; false where oneDNN has no implementation for T.
template <class T>
bool matmul_onednn(const StridedView<const T>& a, const StridedView<const T>& b, const T* bias, Epilogue ep,
                   const StridedView<T>& c, const MatmulProblem& p) {
    const int r = p.c.rank;
    onednn::Key key;
    key.push(static_cast<std::int64_t>(onednn::Op::matmul) | (static_cast<std::int64_t>(onednn::data_type_of<T>()) << 8) |
             (static_cast<std::int64_t>(ep) << 16) | (std::int64_t{bias != nullptr} << 24) |
             (std::int64_t{r} << 32));
    for (const MatLayout* L : {&p.a, &p.b, &p.c}) {
        key.push(L->direct);
        for (int i = 0; i < r; ++i) {
            key.push(L->dims[i]);
            key.push(L->strides[i]);
        }
    }
    auto& cache = onednn::PrimitiveCache::instance();
    auto prim = cache.get(key, [&] {
        // Copy what oneDNN cannot read in place; if it would then run its naive reference
        // kernel, copy every non-dense operand instead (a copy is O(n^2), the kernel O(n^3)).
        unsigned need = (p.a.direct ? 0u : pack_a) | (p.b.direct ? 0u : pack_b) | (p.c.direct ? 0u : pack_c);
        unsigned all = need | (p.a.row_major() ? 0u : pack_a) | (p.b.row_major() ? 0u : pack_b) |
                       (p.c.row_major() ? 0u : pack_c);
        auto best = build_matmul<T>(p, bias != nullptr, ep, need);
        if ((!best || best->is_reference()) && all != need) {
            auto dense = build_matmul<T>(p, bias != nullptr, ep, all);
            if (dense && (!best || !dense->is_reference())) best = dense;
        }
        return best ? best : std::make_shared<onednn::Primitive>();
    });
    if (!prim->usable()) return false;

    const unsigned bits = prim->plan;
    std::vector<T> ta, tb, tc;
    const T* pa = a.data;
    const T* pb = b.data;
    T* pc = c.data;
    if (bits & pack_a) ta = pack<T, T>(a.data, p.a), pa = ta.data();
    if (bits & pack_b) tb = pack<T, T>(b.data, p.b), pb = tb.data();
    if (bits & pack_c) tc.resize(static_cast<std::size_t>(p.c.numel())), pc = tc.data();
    if (bits) cache.count_copy(static_cast<std::uint64_t>(std::popcount(bits)));

    void* h[4];
    int n = 0;
    h[n++] = const_cast<T*>(pa);
    h[n++] = const_cast<T*>(pb);
    if (bias) h[n++] = const_cast<T*>(bias);
    h[n++] = pc;
    prim->execute(h);
    if (bits & pack_c) copy_strided<T, T>(dense_view<const T>(tc.data(), p.c), c);
    return true;
}

/// bf16 where oneDNN has no bf16 matmul on this CPU: dense f32 copies, f32 matmul, one rounding.
template <class T>
void matmul_via_f32(const StridedView<const T>& a, const StridedView<const T>& b, const T* bias, Epilogue ep,
                    const StridedView<T>& c, const MatmulProblem& p);

// ---- Eigen path (f64) ----------------------------------------------------------------------------

template <class S, int Order>
using EigenMap = Eigen::Map<std::conditional_t<std::is_const_v<S>,
                                               const Eigen::Matrix<std::remove_const_t<S>, Eigen::Dynamic,
                                                                   Eigen::Dynamic, Order>,
                                               Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Order>>,
                            0, Eigen::OuterStride<>>;

/// Calls f with an Eigen map of the (R, C) matrix at p: row-major when the last stride is 1.
template <class S, class F>
void with_eigen_map(S* p, index_t R, index_t C, index_t sR, index_t sC, F&& f) {
    if (sC == 1 && sR >= C) f(EigenMap<S, Eigen::RowMajor>(p, R, C, Eigen::OuterStride<>(std::max<index_t>(sR, 1))));
    else f(EigenMap<S, Eigen::ColMajor>(p, R, C, Eigen::OuterStride<>(std::max<index_t>(sC, 1))));
}

template <class T>
void matmul_eigen(const StridedView<const T>& a, const StridedView<const T>& b, const T* bias, Epilogue ep,
                  const StridedView<T>& c, const MatmulProblem& p) {
    auto& cache = onednn::PrimitiveCache::instance();
    const int r = p.c.rank;
    // Layouts Eigen cannot map (no unit stride, negative or zero strides) become dense copies.
    std::vector<T> ta, tb, tc;
    MatLayout la = p.a, lb = p.b, lc = p.c;
    const T* pa = a.data;
    const T* pb = b.data;
    T* pc = c.data;
    auto densify = [](MatLayout& L) { dense_strides(L, L.strides); };
    if (!la.direct) ta = pack<T, T>(a.data, la), pa = ta.data(), densify(la), cache.count_copy();
    if (!lb.direct) tb = pack<T, T>(b.data, lb), pb = tb.data(), densify(lb), cache.count_copy();
    if (!lc.direct) tc.resize(static_cast<std::size_t>(lc.numel())), pc = tc.data(), densify(lc), cache.count_copy();

    const index_t M = p.M, N = p.N, K = p.K;
    const index_t sRc = lc.strides[r - 2], sCc = lc.strides[r - 1];
    auto one = [&](index_t q) {
        index_t oa = 0, ob = 0, oc = 0, rem = q;
        for (int i = r - 3; i >= 0; --i) {
            const index_t idx = rem % lc.dims[i];
            rem /= lc.dims[i];
            if (la.dims[i] != 1) oa += idx * la.strides[i];
            if (lb.dims[i] != 1) ob += idx * lb.strides[i];
            oc += idx * lc.strides[i];
        }
        with_eigen_map(pa + oa, M, K, la.strides[r - 2], la.strides[r - 1], [&](auto am) {
            with_eigen_map(pb + ob, K, N, lb.strides[r - 2], lb.strides[r - 1], [&](auto bm) {
                with_eigen_map(pc + oc, M, N, sRc, sCc, [&](auto cm) { cm.noalias() = am * bm; });
            });
        });
        if (bias || ep != Epilogue::none)
            for (index_t m = 0; m < M; ++m)
                for (index_t n = 0; n < N; ++n) {
                    T& v = pc[oc + m * sRc + n * sCc];
                    v = apply_epilogue(bias ? v + bias[n] : v, ep);
                }
    };
    // Eigen threads one large product itself; many small ones are spread over threads instead.
    if (p.batch > 1 && M * N * K <= (index_t{1} << 21)) {
#pragma omp parallel for schedule(static)
        for (index_t q = 0; q < p.batch; ++q) one(q);
    } else {
        for (index_t q = 0; q < p.batch; ++q) one(q);
    }
    if (!lc.direct) copy_strided<T, T>(dense_view<const T>(tc.data(), lc), c);
}

}  // namespace detail

/// c = epilogue(a @ b + bias).
///   a is (..., M, K), b is (..., K, N), c is (..., M, N), bias is (N) contiguous or nullptr.
/// Batch dims broadcast; any strides (transposes are strides, not copies). T = float, bf16, double.
/// c must not overlap a or b. Throws shape_error naming the shapes when they do not fit.
template <class T>
void matmul(StridedView<const T> a, StridedView<const T> b, const T* bias, Epilogue ep, StridedView<T> c) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>,
                  "matmul takes float, double or bf16");
    const detail::MatmulProblem p = detail::plan_matmul(a, b, c);
    if (p.M == 0 || p.N == 0 || p.batch == 0) return;
    if (p.K == 0) return detail::fill_empty_product(bias, ep, c, p.M, p.N);
    if constexpr (std::is_same_v<T, double>) {
        detail::matmul_eigen(a, b, bias, ep, c, p);
    } else {
        // A column-major c has only oneDNN's reference kernel: compute c^T = b^T a^T instead, all
        // three transposes being stride swaps (with a bias, c^T would need a per-row bias: copy).
        if (!bias && p.c.direct && !p.c.row_major() && p.a.direct && p.b.direct)
            return matmul<T>(detail::transposed(b), detail::transposed(a), nullptr, ep, detail::transposed(c));
        if constexpr (std::is_same_v<T, float>) {
            if (!detail::matmul_onednn(a, b, bias, ep, c, p))
                throw backend_error("oneDNN has no f32 matmul for a " + a.shape.str() + ", b " + b.shape.str());
        } else {
            if (!detail::matmul_onednn(a, b, bias, ep, c, p)) detail::matmul_via_f32(a, b, bias, ep, c, p);
        }
    }
}

namespace detail {
template <class T>
void matmul_via_f32(const StridedView<const T>& a, const StridedView<const T>& b, const T* bias, Epilogue ep,
                    const StridedView<T>& c, const MatmulProblem& p) {
    auto& cache = onednn::PrimitiveCache::instance();
    std::vector<float> fa = pack<float, T>(a.data, p.a), fb = pack<float, T>(b.data, p.b);
    std::vector<float> fbias;
    if (bias) {
        fbias.resize(static_cast<std::size_t>(p.N));
        for (index_t n = 0; n < p.N; ++n) fbias[static_cast<std::size_t>(n)] = static_cast<float>(bias[n]);
    }
    MatLayout lc = p.c;
    std::vector<float> fc(static_cast<std::size_t>(lc.numel()));
    StridedView<const float> va = dense_view<const float>(fa.data(), p.a), vb = dense_view<const float>(fb.data(), p.b);
    StridedView<float> vc = dense_view(fc.data(), lc);
    cache.count_copy(3);
    matmul<float>(va, vb, bias ? fbias.data() : nullptr, ep, vc);
    copy_strided<T, float>(StridedView<const float>{vc.data, vc.shape, vc.strides}, c);
}
}  // namespace detail

}  // namespace ward::backend::cpu
