// Backend<cuda>'s fused kernels of tensor/fused.hpp (causal attention forward and backward, GELU
// tanh and its gradient, gemm_accumulate) against Backend<cpu>'s on the same inputs: attention over
// a table of shapes (1, 17, 128, 257 queries; head sizes 16 to 256, odd ones too; grouped-query
// heads; a KV-cache offset; key padding that leaves some queries nothing to see; q, k and v as
// strided views of one projection; grids small enough that the forward splits the keys, and one
// that does not; a second backward must give the same bits), then through ag::attention on
// Var<float, cuda> against Var<float, cpu>; GELU on odd and misaligned lengths; gemm_accumulate in
// all four transpose combinations into a non-zero c. The bf16 kernels (f32 math, bf16 operands and
// results) against the CPU's f32 kernels on the same bf16-rounded inputs. Skipped (exit 77) where no
// GPU exists.
#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/cuda.cuh>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;

namespace {

using ward_test::max_rel_diff;
using ward_test::as_read;
using ward_test::on_host;
using ward_test::widened;

Tensor<float> random(Generator& g, const Shape& s, float scale = 1.f) {
    std::vector<float> v = Tensor<float>(normal<float>(g, s)).to_vector();
    for (float& x : v) x *= scale;
    return Tensor<float>::from_vector(v, s);
}

/// max_rel_diff where both sides must have the same infinities (lse is -inf for a query that sees
/// no key); NaN where they do not.
template <class D>
double diff(const Tensor<float, D>& got, const Tensor<float>& want) {
    std::vector<float> g = on_host(got), w = on_host(want);
    if (g.size() != w.size()) return INFINITY;
    for (std::size_t i = 0; i < g.size(); ++i)
        if (std::isinf(g[i]) || std::isinf(w[i])) {
            if (g[i] != w[i]) return NAN;
            g[i] = w[i] = 0.f;
        }
    return max_rel_diff(g, w);
}

// Tolerances, as |got - want| / (1 + |want|), for f32 on both sides in a different summation order:
// - attention forward: o is a convex combination of rows of v and lse a log of at most a few
//   hundred terms; each score is a dot of hd <= 256 products (rounding ~ sqrt(hd) * 6e-8 * |s|), and
//   exp carries that relative error into p. Expected ~1e-6; 1e-4 leaves two orders of margin.
// - attention backward: dk and dv sum up to T * (H / Hkv) = 1028 products of such p, and
//   ds = p (dp - delta) subtracts two sums of hd products, so its absolute error is dp's; expected
//   ~1e-5, bounded here by 5e-4.
constexpr double attention_forward_tol = 1e-4;
constexpr double attention_backward_tol = 5e-4;

struct AttentionCase {
    index_t B, H, Hkv, T, hd, offset;
    bool padded, strided;
    std::string name() const {
        return "B " + std::to_string(B) + " H " + std::to_string(H) + " Hkv " + std::to_string(Hkv) + " T " +
               std::to_string(T) + " hd " + std::to_string(hd) + " offset " + std::to_string(offset) +
               (padded ? " padded" : "") + (strided ? " strided" : "");
    }
};

const AttentionCase attention_cases[] = {
    {2, 2, 2, 1, 16, 0, false, false},     // one query, one key
    {2, 3, 3, 17, 64, 0, false, false},    // odd length, a partial tile
    {1, 8, 2, 128, 80, 0, false, true},    // GQA, hd not a multiple of 64, strided
    {1, 2, 2, 257, 128, 0, false, false},  // a tile and one row more
    {2, 8, 2, 257, 16, 0, true, false},    // GQA with padding
    {2, 4, 4, 128, 64, 0, true, true},     // padding, strided
    {2, 8, 2, 1, 64, 299, false, false},   // decoding: one query over a 300-key cache
    {2, 4, 4, 1, 128, 256, true, true},    // decoding with padding, strided
    {1, 2, 1, 5, 80, 60, false, false},    // a few queries after a cache
    {1, 2, 2, 33, 30, 0, true, false},     // hd not a multiple of 4 (the scalar loads)
    {1, 1, 1, 70, 256, 0, false, false},   // the largest head size
    {1, 2, 2, 40, 130, 3, false, true},    // the 256-column tiles with hd 130
    {4, 12, 4, 257, 64, 0, true, false},   // 240 blocks: enough to fill the GPU, the keys not split
};

/// q (B, H, T, hd), k and v (B, Hkv, S, hd) as views of one (B, S, H + 2 Hkv, hd) projection
/// permuted to heads (as nn::CausalSelfAttention makes them; q covers its last T rows).
template <class D>
std::array<Tensor<float, D>, 3> head_views(const Tensor<float, D>& proj, const AttentionCase& c) {
    const index_t S = c.offset + c.T;
    return {proj.slice(1, c.offset, S).slice(2, 0, c.H).permute({0, 2, 1, 3}),
            proj.slice(2, c.H, c.H + c.Hkv).permute({0, 2, 1, 3}),
            proj.slice(2, c.H + c.Hkv, c.H + 2 * c.Hkv).permute({0, 2, 1, 3})};
}

/// The operands of one case on the host: dense, or head views of `proj`; key padding (B, S) where
/// the case asks for it; an output gradient g (B, T, H * hd).
struct AttentionInputs {
    Tensor<float> proj, q, k, v, pad, g;
};

AttentionInputs attention_inputs(Generator& gen, const AttentionCase& c) {
    const index_t S = c.offset + c.T;
    AttentionInputs in;
    if (c.strided) {
        in.proj = random(gen, {c.B, S, c.H + 2 * c.Hkv, c.hd});
        auto views = head_views(in.proj, c);
        in.q = views[0], in.k = views[1], in.v = views[2];
    } else {
        in.q = random(gen, {c.B, c.H, c.T, c.hd});
        in.k = random(gen, {c.B, c.Hkv, S, c.hd});
        in.v = random(gen, {c.B, c.Hkv, S, c.hd});
    }
    if (c.padded) {  // batch row 0: keys 0..2 and every fifth masked (its first queries see nothing)
        std::vector<float> p(static_cast<std::size_t>(c.B * S), 1.f);
        for (index_t j = 0; j < S; ++j)
            if (j < 3 || j % 5 == 4) p[static_cast<std::size_t>(j)] = 0.f;
        if (c.B > 1) p[static_cast<std::size_t>(S + S / 2)] = 0.f;  // row 1: one key in the middle
        in.pad = Tensor<float>::from_vector(p, {c.B, S});
    }
    in.g = random(gen, {c.B, c.T, c.H * c.hd});
    return in;
}


// A bf16 kernel computes in f32 from bf16 operands and rounds its results once: against the f32
// kernel on the same (rounded) operands it differs by that rounding, at most 2^-9 of |want| (round
// to nearest, 8 bits of mantissa), plus the f32 tolerance for another summation order.
constexpr double bf16_rounding = 1.0 / 512;

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_fused)

BOOST_AUTO_TEST_CASE(attention_forward_and_backward_match_the_cpu) {
    Generator gen(11);
    for (const AttentionCase& c : attention_cases) {
        AttentionInputs in = attention_inputs(gen, c);
        Tensor<float, cuda> q, k, v;
        if (c.strided) {
            auto views = head_views(in.proj.to<cuda>(), c);
            q = views[0], k = views[1], v = views[2];
            BOOST_TEST((!q.is_contiguous() && q.stride(3) == 1));
        } else {
            q = in.q.to<cuda>(), k = in.k.to<cuda>(), v = in.v.to<cuda>();
        }
        Tensor<float, cuda> pad = in.pad.defined() ? in.pad.to<cuda>() : Tensor<float, cuda>();
        const double scale = 1.0 / std::sqrt(double(c.hd));
        FusedAttention<float, cpu> want = attention_forward(in.q, in.k, in.v, c.offset, in.pad, scale);
        FusedAttention<float, cuda> got = attention_forward(q, k, v, c.offset, pad, scale);
        BOOST_TEST(diff(got.o, want.o) <= attention_forward_tol, "o, " << c.name());
        BOOST_TEST(diff(got.lse, want.lse) <= attention_forward_tol, "lse, " << c.name());

        std::array<Tensor<float>, 3> dw = attention_backward(want, in.g);
        std::array<Tensor<float, cuda>, 3> dg = attention_backward(got, in.g.to<cuda>());
        BOOST_TEST(diff(dg[0], dw[0]) <= attention_backward_tol, "dq, " << c.name());
        BOOST_TEST(diff(dg[1], dw[1]) <= attention_backward_tol, "dk, " << c.name());
        BOOST_TEST(diff(dg[2], dw[2]) <= attention_backward_tol, "dv, " << c.name());

        // Every gradient element is summed by one thread in a fixed order: the same bits again.
        std::array<Tensor<float, cuda>, 3> again = attention_backward(got, in.g.to<cuda>());
        for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(on_host(again[i]) == on_host(dg[i]), "rerun " << i << ", " << c.name());
    }
}

BOOST_AUTO_TEST_CASE(attention_of_a_query_that_sees_nothing_is_zero_with_minus_infinite_lse) {
    Generator gen(12);
    const index_t B = 1, H = 2, T = 9, hd = 64;
    Tensor<float> q = random(gen, {B, H, T, hd}), k = random(gen, {B, H, T, hd}), v = random(gen, {B, H, T, hd});
    Tensor<float> pad = Tensor<float>::zeros({B, T});  // every key is padding
    FusedAttention<float, cuda> f = attention_forward(q.to<cuda>(), k.to<cuda>(), v.to<cuda>(), 0, pad.to<cuda>(), 0.125);
    for (float x : on_host(f.o)) BOOST_TEST(x == 0.f);
    for (float x : on_host(f.lse)) BOOST_TEST(x == -std::numeric_limits<float>::infinity());
    std::array<Tensor<float, cuda>, 3> d = attention_backward(f, random(gen, {B, T, H * hd}).to<cuda>());
    for (const auto& t : d)
        for (float x : on_host(t)) BOOST_TEST(x == 0.f);
}

BOOST_AUTO_TEST_CASE(attention_through_the_tape_matches_the_cpu) {
    // q, k, v (B, T, heads, hd) leaves permuted to heads, as the attention layer makes them: the
    // gradients come back through the fused backward's permuted views.
    Generator gen(13);
    const index_t B = 2, H = 6, Hkv = 2, T = 65, hd = 64;
    Tensor<float> qh = random(gen, {B, T, H, hd}), kh = random(gen, {B, T, Hkv, hd}), vh = random(gen, {B, T, Hkv, hd});
    Tensor<float> w = random(gen, {B, T, H * hd}), pad = Tensor<float>::ones({B, T});
    pad.data()[T + 4] = 0.f;  // batch row 1, key 4
    auto run = [&](auto device) {
        using D = decltype(device);
        ag::Var<float, D> q(qh.to<D>(), true), k(kh.to<D>(), true), v(vh.to<D>(), true);
        ag::AttentionMask<float, D> mask{0, pad.to<D>()};
        ag::Var<float, D> o = ag::attention(ag::permute(q, {0, 2, 1, 3}), ag::permute(k, {0, 2, 1, 3}),
                                            ag::permute(v, {0, 2, 1, 3}), mask, 1.0 / std::sqrt(double(hd)));
        ag::sum(o * ag::Var<float, D>(w.to<D>())).backward();
        return std::array<Tensor<float>, 4>{o.value().template to<cpu>(), q.grad().template to<cpu>(),
                                            k.grad().template to<cpu>(), v.grad().template to<cpu>()};
    };
    std::array<Tensor<float>, 4> want = run(cpu{}), got = run(cuda{});
    BOOST_TEST(diff(got[0], want[0]) <= attention_forward_tol);
    BOOST_TEST(diff(got[1], want[1]) <= attention_backward_tol);
    BOOST_TEST(diff(got[2], want[2]) <= attention_backward_tol);
    BOOST_TEST(diff(got[3], want[3]) <= attention_backward_tol);
}

BOOST_AUTO_TEST_CASE(gelu_tanh_and_its_gradient_match_the_cpu) {
    // Both sides evaluate the same closed form in f32 with their own tanh (a few ulp apart): the
    // difference is ~1e-7 of 1 + |y|; 1e-5 leaves room for the cubic's rounding at |x| ~ 10.
    Generator gen(14);
    for (index_t n : {index_t(1), index_t(3), index_t(1000), index_t(4099), (index_t(1) << 20) + 3}) {
        Tensor<float> x = random(gen, {n + 1}, 3.f), dy = random(gen, {n + 1});
        Tensor<float, cuda> xd = x.to<cuda>(), dyd = dy.to<cuda>();
        for (index_t shift : {index_t(0), index_t(1)}) {  // shift 1: not 16-byte aligned, the scalar path
            Tensor<float> y = Tensor<float>::empty({n}), dx = Tensor<float>::empty({n});
            Tensor<float, cuda> yd = Tensor<float, cuda>::empty({n}), dxd = Tensor<float, cuda>::empty({n});
            if (!Backend<cpu>::gelu_tanh(x.data() + shift, y.data(), n))
                y = Tensor<float>(gelu_tanh(x.slice(0, shift, shift + n)));
            if (!Backend<cpu>::gelu_tanh_backward(x.data() + shift, dy.data() + shift, dx.data(), n))
                dx = Tensor<float>(dy.slice(0, shift, shift + n) * gelu_tanh_grad(x.slice(0, shift, shift + n)));
            BOOST_TEST(Backend<cuda>::gelu_tanh(xd.data() + shift, yd.data(), n));
            BOOST_TEST(Backend<cuda>::gelu_tanh_backward(xd.data() + shift, dyd.data() + shift, dxd.data(), n));
            BOOST_TEST(max_rel_diff(on_host(yd), on_host(y)) <= 1e-5, "gelu, n " << n << " shift " << shift);
            BOOST_TEST(max_rel_diff(on_host(dxd), on_host(dx)) <= 1e-5, "gelu backward, n " << n << " shift " << shift);
        }
    }
    // Through the front ends as the tape calls them.
    Tensor<float> z = random(gen, {7, 33}, 3.f), g = random(gen, {7, 33});
    BOOST_TEST(max_rel_diff(on_host(gelu_tanh_values(z.to<cuda>())), on_host(gelu_tanh_values(z))) <= 1e-5);
    BOOST_TEST(max_rel_diff(on_host(gelu_tanh_input_grad(z.to<cuda>(), g.to<cuda>())), on_host(gelu_tanh_input_grad(z, g))) <=
               1e-5);
}

BOOST_AUTO_TEST_CASE(gemm_accumulate_matches_the_cpu_in_every_transpose) {
    // f32 dots of K <= 300 products of N(0, 1) terms, summed in different orders (cuBLASLt's tiles,
    // oneDNN's blocks): rounding ~ sqrt(K) * 6e-8 * |c| with |c| ~ sqrt(K), well below 1e-4 of 1 + |c|.
    Generator gen(15);
    struct Dims {
        index_t M, N, K;
    };
    for (Dims d : {Dims{1, 1, 1}, Dims{17, 33, 65}, Dims{128, 7, 300}, Dims{5, 3, 0}, Dims{64, 64, 64}})
        for (bool ta : {false, true})
            for (bool tb : {false, true}) {
                Tensor<float> a = random(gen, ta ? Shape{d.K, d.M} : Shape{d.M, d.K});
                Tensor<float> b = random(gen, tb ? Shape{d.N, d.K} : Shape{d.K, d.N});
                Tensor<float> c = random(gen, {d.M, d.N});  // summed into: not zero
                Tensor<float, cuda> cd = c.to<cuda>();
                gemm_accumulate(a, ta, b, tb, c);
                gemm_accumulate(a.to<cuda>(), ta, b.to<cuda>(), tb, cd);
                BOOST_TEST(max_rel_diff(on_host(cd), on_host(c)) <= 1e-4,
                           "M " << d.M << " N " << d.N << " K " << d.K << " ta " << ta << " tb " << tb);
            }
    // A c that is a view at an odd offset (less than 16-byte aligned) and a row stride past its width.
    Tensor<float> a = random(gen, {9, 11}), b = random(gen, {11, 13}), big = random(gen, {10, 16});
    Tensor<float, cuda> bigd = big.to<cuda>();
    Backend<cpu>::gemm_accumulate(false, false, 9, 13, 11, a.data(), 11, b.data(), 13, big.data() + 1, 16);
    Tensor<float, cuda> ad = a.to<cuda>(), bd = b.to<cuda>();
    Backend<cuda>::gemm_accumulate(false, false, 9, 13, 11, ad.data(), 11, bd.data(), 13, bigd.data() + 1, 16);
    BOOST_TEST(max_rel_diff(on_host(bigd), on_host(big)) <= 1e-4);
}

BOOST_AUTO_TEST_CASE(bf16_kernels_match_the_f32_kernels_on_rounded_operands) {
    Generator gen(16);
    for (const AttentionCase& c : attention_cases) {
        if (c.strided) continue;  // the strided views are covered in f32; here the element type
        AttentionInputs in = attention_inputs(gen, c);
        Tensor<float> q = as_read<bf16>(in.q), k = as_read<bf16>(in.k), v = as_read<bf16>(in.v), g = as_read<bf16>(in.g);
        const double scale = 1.0 / std::sqrt(double(c.hd));
        FusedAttention<float, cpu> want = attention_forward(q, k, v, c.offset, in.pad, scale);
        Tensor<bf16, cuda> pad = in.pad.defined() ? Tensor<bf16>(cast<bf16>(in.pad)).to<cuda>() : Tensor<bf16, cuda>();
        FusedAttention<bf16, cuda> got = attention_forward(Tensor<bf16>(cast<bf16>(q)).to<cuda>(),
                                                           Tensor<bf16>(cast<bf16>(k)).to<cuda>(),
                                                           Tensor<bf16>(cast<bf16>(v)).to<cuda>(), c.offset, pad, scale);
        BOOST_TEST(diff(widened(got.o), want.o) <= attention_forward_tol + bf16_rounding, "bf16 o, " << c.name());
        BOOST_TEST(diff(got.lse, want.lse) <= attention_forward_tol, "bf16 lse (kept in f32), " << c.name());

        // The backward pass reads the stored o, rounded to bf16: so does the reference.
        want.o = as_read<bf16>(want.o);
        std::array<Tensor<float>, 3> dw = attention_backward(want, g);
        std::array<Tensor<bf16, cuda>, 3> dg = attention_backward(got, Tensor<bf16>(cast<bf16>(g)).to<cuda>());
        const char* names[] = {"dq", "dk", "dv"};
        for (std::size_t i = 0; i < 3; ++i)
            BOOST_TEST(diff(widened(dg[i]), dw[i]) <= attention_backward_tol + bf16_rounding, "bf16 " << names[i] << ", " << c.name());
    }

    for (index_t n : {index_t(1), index_t(9), index_t(4099), (index_t(1) << 20) + 3}) {
        Tensor<float> x = as_read<bf16>(random(gen, {n + 1}, 3.f)), dy = as_read<bf16>(random(gen, {n + 1}));
        Tensor<bf16, cuda> xd = Tensor<bf16>(cast<bf16>(x)).to<cuda>(), dyd = Tensor<bf16>(cast<bf16>(dy)).to<cuda>();
        for (index_t shift : {index_t(0), index_t(1)}) {  // shift 1: not 16-byte aligned, the scalar path
            Tensor<float> xs = x.slice(0, shift, shift + n), dys = dy.slice(0, shift, shift + n);
            Tensor<float> y = Tensor<float>(gelu_tanh(xs)), dx = Tensor<float>(dys * gelu_tanh_grad(xs));
            Tensor<bf16, cuda> yd = Tensor<bf16, cuda>::empty({n}), dxd = Tensor<bf16, cuda>::empty({n});
            BOOST_TEST(Backend<cuda>::gelu_tanh(xd.data() + shift, yd.data(), n));
            BOOST_TEST(Backend<cuda>::gelu_tanh_backward(xd.data() + shift, dyd.data() + shift, dxd.data(), n));
            BOOST_TEST(max_rel_diff(on_host(widened(yd)), on_host(y)) <= 1e-5 + bf16_rounding, "bf16 gelu, n " << n << " shift " << shift);
            BOOST_TEST(max_rel_diff(on_host(widened(dxd)), on_host(dx)) <= 1e-5 + bf16_rounding,
                       "bf16 gelu backward, n " << n << " shift " << shift);
        }
    }

    // gemm_accumulate: c (bf16) + op(a) op(b) summed in f32 and rounded once.
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            const index_t M = 17, N = 33, K = 65;
            Tensor<float> a = as_read<bf16>(random(gen, ta ? Shape{K, M} : Shape{M, K}));
            Tensor<float> b = as_read<bf16>(random(gen, tb ? Shape{N, K} : Shape{K, N}));
            Tensor<float> c = as_read<bf16>(random(gen, {M, N}));
            Tensor<bf16, cuda> cd = Tensor<bf16>(cast<bf16>(c)).to<cuda>();
            gemm_accumulate(a, ta, b, tb, c);
            gemm_accumulate(Tensor<bf16>(cast<bf16>(a)).to<cuda>(), ta, Tensor<bf16>(cast<bf16>(b)).to<cuda>(), tb, cd);
            BOOST_TEST(max_rel_diff(on_host(widened(cd)), on_host(c)) <= 1e-4 + bf16_rounding, "bf16 gemm_accumulate ta " << ta << " tb " << tb);
        }
}

BOOST_AUTO_TEST_SUITE_END()
