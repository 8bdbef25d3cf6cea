#pragma once
// Which kernel a planned pass takes, decided on the host from the plan (tensor/layout.hpp), the
// destination's strides and the leaves of the expression; and the vector reads of the fastest
// path. Free of CUDA calls, so the CPU tests check the choices on CPU tensors' evaluators.
//
//   contiguous_vector  one dense row, every leaf readable in aligned packs: 128-bit loads/stores,
//                      grid-stride loop, no index arithmetic
//   contiguous         one dense row, some leaf not packable (an unknown evaluator, misalignment)
//   broadcast_rows_vector  every operand's inner stride is 0 or 1 (a bias row, a per-row scale)
//                      and every row start aligned: packs along each row, the outer index once per row
//   broadcast_rows     every operand's inner stride is 0 or 1, rows not aligned for packs:
//                      the outer index is computed once per row, not per element
//   strided            anything else: per element, fast-divisor unravelling of the flat index

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/tensor/expr.hpp"
#include "ward/tensor/layout.hpp"

// Unrolls the loop that follows in device code (the host compiler does not know the pragma).
#ifndef WARD_UNROLL
#if defined(__CUDA_ARCH__)
#define WARD_UNROLL _Pragma("unroll")
#else
#define WARD_UNROLL
#endif
#endif

namespace ward::backend::cuda {

/// N elements of S read or written with one aligned access (two for 32-byte packs).
template <class S, int N>
struct alignas(sizeof(S) * N >= 16 ? 16 : sizeof(S) * N) Pack {
    S v[N];
};

template <class S, int N>
inline constexpr std::size_t pack_alignment = alignof(Pack<S, N>);

/// Whether p is aligned for one access of Pack<S, N>: N elements of S read or written at once.
template <class S, int N>
bool starts_pack(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) % pack_alignment<S, N> == 0;
}

/// Elements per pack for a destination of S: 16 bytes' worth (4 f32, 8 bf16, 2 f64).
template <class S>
inline constexpr int pack_width = sizeof(S) >= 16 ? 1 : int(16 / sizeof(S));

/// Reads N consecutive elements [j, j + N) of a seeked evaluator on a unit-stride row.
/// Specialised for ward's evaluators; any other evaluator is not packable (known = false)
/// and the executor reads it element by element.
template <class E>
struct VectorLoad {
    static constexpr bool known = false;
    static bool aligned(const E&, std::size_t) { return false; }
};

template <class S>
struct VectorLoad<LeafEval<S>> {
    static constexpr bool known = true;
    /// Whether the row's first element starts a pack of N (or the leaf is broadcast along the
    /// row, stride 0, and one element is read for the whole pack).
    static bool aligned(const LeafEval<S>& e, std::size_t n) {
        return e.inner == 0 || reinterpret_cast<std::uintptr_t>(e.base) % (n * sizeof(S) >= 16 ? 16 : n * sizeof(S)) == 0;
    }
    template <int N>
    WARD_HOST_DEVICE static void load(const LeafEval<S>& e, index_t j, compute_t<S> (&out)[N]) {
        if (e.inner == 0) {
            const compute_t<S> x = element_cast<compute_t<S>>(e.base[0]);
WARD_UNROLL
            for (int k = 0; k < N; ++k) out[k] = x;
            return;
        }
        Pack<S, N> p = *reinterpret_cast<const Pack<S, N>*>(e.base + j);
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = element_cast<compute_t<S>>(p.v[k]);
    }
};

template <class V>
struct VectorLoad<ScalarEval<V>> {
    static constexpr bool known = true;
    static bool aligned(const ScalarEval<V>&, std::size_t) { return true; }
    template <int N>
    WARD_HOST_DEVICE static void load(const ScalarEval<V>& e, index_t, V (&out)[N]) {
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = e.value;
    }
};

template <class V, class Dist>
struct VectorLoad<RandomEval<V, Dist>> {  // computed, not read: any position is fine
    static constexpr bool known = true;
    static bool aligned(const RandomEval<V, Dist>&, std::size_t) { return true; }
    template <int N>
    WARD_HOST_DEVICE static void load(const RandomEval<V, Dist>& e, index_t j, V (&out)[N]) {
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = e.template load<false>(j + k);  // inner stride 1 or 0
    }
};

template <class Op, class E>
struct VectorLoad<UnaryEval<Op, E>> {
    using Self = UnaryEval<Op, E>;
    static constexpr bool known = VectorLoad<E>::known;
    static bool aligned(const Self& e, std::size_t n) { return VectorLoad<E>::aligned(e.e, n); }
    template <int N>
    WARD_HOST_DEVICE static void load(const Self& e, index_t j, typename Self::value_type (&out)[N]) {
        typename E::value_type x[N];
        VectorLoad<E>::template load<N>(e.e, j, x);
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = e.op(x[k]);
    }
};

template <class Op, class L, class R>
struct VectorLoad<BinaryEval<Op, L, R>> {
    using Self = BinaryEval<Op, L, R>;
    static constexpr bool known = VectorLoad<L>::known && VectorLoad<R>::known;
    static bool aligned(const Self& e, std::size_t n) { return VectorLoad<L>::aligned(e.l, n) && VectorLoad<R>::aligned(e.r, n); }
    template <int N>
    WARD_HOST_DEVICE static void load(const Self& e, index_t j, typename Self::value_type (&out)[N]) {
        typename L::value_type x[N];
        typename R::value_type y[N];
        VectorLoad<L>::template load<N>(e.l, j, x);
        VectorLoad<R>::template load<N>(e.r, j, y);
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = e.op(x[k], y[k]);
    }
};

template <class C, class A, class B>
struct VectorLoad<WhereEval<C, A, B>> {
    using Self = WhereEval<C, A, B>;
    static constexpr bool known = VectorLoad<C>::known && VectorLoad<A>::known && VectorLoad<B>::known;
    static bool aligned(const Self& e, std::size_t n) {
        return VectorLoad<C>::aligned(e.c, n) && VectorLoad<A>::aligned(e.a, n) && VectorLoad<B>::aligned(e.b, n);
    }
    template <int N>
    WARD_HOST_DEVICE static void load(const Self& e, index_t j, typename Self::value_type (&out)[N]) {
        typename C::value_type c[N];
        typename A::value_type a[N];
        typename B::value_type b[N];
        VectorLoad<C>::template load<N>(e.c, j, c);
        VectorLoad<A>::template load<N>(e.a, j, a);
        VectorLoad<B>::template load<N>(e.b, j, b);
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = c[k] != typename C::value_type(0) ? a[k] : b[k];
    }
};

template <class To, class E>
struct VectorLoad<CastEval<To, E>> {
    using Self = CastEval<To, E>;
    static constexpr bool known = VectorLoad<E>::known;
    static bool aligned(const Self& e, std::size_t n) { return VectorLoad<E>::aligned(e.e, n); }
    template <int N>
    WARD_HOST_DEVICE static void load(const Self& e, index_t j, To (&out)[N]) {
        typename E::value_type x[N];
        VectorLoad<E>::template load<N>(e.e, j, x);
WARD_UNROLL
        for (int k = 0; k < N; ++k) out[k] = element_cast<To>(x[k]);
    }
};

enum class ElementwisePath { contiguous_vector, contiguous, broadcast_rows_vector, broadcast_rows, strided };

inline const char* path_name(ElementwisePath p) {
    switch (p) {
        case ElementwisePath::contiguous_vector: return "contiguous_vector";
        case ElementwisePath::contiguous: return "contiguous";
        case ElementwisePath::broadcast_rows_vector: return "broadcast_rows_vector";
        case ElementwisePath::broadcast_rows: return "broadcast_rows";
        case ElementwisePath::strided: return "strided";
    }
    return "?";
}

/// Whether every leaf of ev (already planned) steps by `want` along the plan's last axis, or by
/// 0 too when `allow_zero`.
template <class Eval>
bool inner_strides_are(Eval& ev, const LoopPlan& plan, bool allow_zero) {
    bool ok = true;
    const int outer = plan.rank - 1;
    ev.for_each_strides([&](const index_t* st) { ok = ok && (st[outer] == 1 || (allow_zero && st[outer] == 0)); });
    return ok;
}

/// The kernel for dst (pack width n, data pointer dst_data) = ev over `plan`. ev must be planned
/// (plan_loop) and, for the alignment check, seeked at the origin: ev.seek(zeros, plan.rank - 1).
template <class S, class Eval>
ElementwisePath choose_elementwise_path(const LoopPlan& plan, const index_t* dst_strides, const S* dst_data, Eval& ev) {
    const int outer = plan.rank - 1;
    if (dst_strides[outer] == 1 && plan.rank == 1 && inner_strides_are(ev, plan, false)) {
        constexpr int n = pack_width<S>;
        const bool packable = n > 1 && VectorLoad<Eval>::known && starts_pack<S, n>(dst_data) && VectorLoad<Eval>::aligned(ev, n);
        return packable ? ElementwisePath::contiguous_vector : ElementwisePath::contiguous;
    }
    if (dst_strides[outer] == 1 && inner_strides_are(ev, plan, true)) {
        // Packs along every row: each row start aligned in dst and in every leaf that moves along the row.
        constexpr int n = pack_width<S>;
        bool packable = n > 1 && VectorLoad<Eval>::known && starts_pack<S, n>(dst_data) && VectorLoad<Eval>::aligned(ev, n);
        for (int d = 0; d < outer; ++d) packable = packable && dst_strides[d] % n == 0;
        ev.for_each_strides([&](const index_t* st) {
            for (int d = 0; d < outer; ++d) packable = packable && (st[outer] == 0 || st[d] % n == 0);
        });
        return packable ? ElementwisePath::broadcast_rows_vector : ElementwisePath::broadcast_rows;
    }
    return ElementwisePath::strided;
}

enum class ReducePath {
    all_contiguous_vector,  // everything, one dense row, packable
    all_contiguous,         // everything, one dense row
    all_strided,            // everything, any layout
    rows_per_warp,          // one warp per row: short rows
    rows_per_block,         // one block per row: long rows
    rows_per_thread,        // one thread per row: rows strided along the reduced axis, many of them
};

inline const char* path_name(ReducePath p) {
    switch (p) {
        case ReducePath::all_contiguous_vector: return "all_contiguous_vector";
        case ReducePath::all_contiguous: return "all_contiguous";
        case ReducePath::all_strided: return "all_strided";
        case ReducePath::rows_per_warp: return "rows_per_warp";
        case ReducePath::rows_per_block: return "rows_per_block";
        case ReducePath::rows_per_thread: return "rows_per_thread";
    }
    return "?";
}

/// Rows at least this long get a block each; shorter ones a warp.
inline constexpr index_t block_row_threshold = 1024;
/// A reduction along a strided axis runs one thread per row when there are at least this many rows.
inline constexpr index_t thread_row_threshold = 2048;

/// The kernel for a reduction planned by plan_loop (ev planned; for the packing check seeked at
/// the origin). all_axes: over everything, else over the plan's last axis.
template <class Eval>
ReducePath choose_reduce_path(const LoopPlan& plan, Eval& ev, bool all_axes) {
    using V = typename Eval::value_type;
    if (all_axes) {
        if (plan.rank == 1 && inner_strides_are(ev, plan, false)) {
            constexpr int n = pack_width<V>;
            return n > 1 && VectorLoad<Eval>::known && VectorLoad<Eval>::aligned(ev, n) ? ReducePath::all_contiguous_vector
                                                                                        : ReducePath::all_contiguous;
        }
        return ReducePath::all_strided;
    }
    if (!inner_strides_are(ev, plan, true) && plan.rows() >= thread_row_threshold) return ReducePath::rows_per_thread;
    return plan.inner() >= block_row_threshold ? ReducePath::rows_per_block : ReducePath::rows_per_warp;
}

/// Whether every row of a planned reduction (ev seeked at the origin) can be read in packs: every
/// leaf unit-stride along the row and every row's start aligned (the origin aligned, the outer
/// strides multiples of the pack width).
template <class Eval>
bool rows_packable(const LoopPlan& plan, Eval& ev) {
    constexpr int n = pack_width<typename Eval::value_type>;
    if (n <= 1 || !VectorLoad<Eval>::known || !VectorLoad<Eval>::aligned(ev, n)) return false;
    const int outer = plan.rank - 1;
    bool ok = true;
    ev.for_each_strides([&](const index_t* st) {
        ok = ok && st[outer] == 1;
        for (int d = 0; d < outer; ++d) ok = ok && st[d] % n == 0;
    });
    return ok;
}

}  // namespace ward::backend::cuda
