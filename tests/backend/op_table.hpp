#pragma once
// The cross-device op table, in the spirit of ggml's test-backend-ops: every op of ward's public
// front ends (element-wise math, casts, reductions, contiguous copies of views, matmul with its
// epilogues, softmax, norms, embedding, concat/split, random draws, losses, attention) and,
// through the tape, the gradient of every op that has one, each over a few layouts: dense,
// transposed, sliced with a step, broadcast, empty and odd sizes. make_table<Ref, Dev>() builds
// the cases; op_table_harness.hpp runs them on both devices and compares (or times them).
//
// Where an op does not take a dtype on a device the case says "not on <device>" instead of not
// compiling: the fused kernels are found through the has_* concepts of tensor/fused.hpp, and the
// kernels that refuse a dtype by static_assert (no constraint to test) through the traits below,
// which a device's program specialises.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "op_table_harness.hpp"

namespace ward_test::op_table {

namespace ag = ward::ag;
using ward::bf16;

/// Whether Backend<D>::matmul takes T (the CUDA matmul static_asserts f32 so far); the program for a
/// device specialises it. matmul, linear and attention read it.
template <class T, class D>
inline constexpr bool matmul_takes = true;

template <class T>
inline const char* dtype_name() {
    return std::is_same_v<T, bf16> ? "bf16" : "f32";
}

// ---- layouts of one operand ---------------------------------------------------------------------
enum class Layout { contig, transposed, sliced, empty, scalar };
inline const char* layout_name(Layout l) {
    switch (l) {
        case Layout::contig: return "contig";
        case Layout::transposed: return "transposed";
        case Layout::sliced: return "sliced";
        case Layout::empty: return "empty";
        case Layout::scalar: return "rank0";
    }
    return "?";
}
inline constexpr Layout all_layouts[] = {Layout::contig, Layout::transposed, Layout::sliced, Layout::empty, Layout::scalar};
/// The perf mode times the dense layout (and the strided ones of a few ops, below): each timed case
/// draws its large inputs on the host, which costs more than the op.
inline bool timed(Layout l) { return l == Layout::contig; }

/// A (7, 33) operand (perf: (4096, 4096)) in layout l: dense, a transposed view, every other column
/// of a wider tensor; or an empty (0, 33) or rank-0 one. `desc` receives its description.
template <class T, class D>
Tensor<T, D> laid_out(std::uint64_t seed, Layout l, bool big, Domain dom, std::string& desc) {
    const index_t R = big ? 4096 : 7, C = big ? 4096 : 33;
    switch (l) {
        case Layout::contig: desc = str({R, C}); return input<T, D>(seed, {R, C}, dom);
        case Layout::transposed: desc = str({C, R}) + "^T"; return input<T, D>(seed, {C, R}, dom).transpose();
        case Layout::sliced: desc = str({R, 2 * C}) + "[:,::2]"; return input<T, D>(seed, {R, 2 * C}, dom).slice(1, 0, 2 * C, 2);
        case Layout::empty: desc = str({0, C}); return input<T, D>(seed, {0, C}, dom);
        case Layout::scalar: desc = "()"; return input<T, D>(seed, Shape{}, dom);
    }
    return {};
}

// ---- forward cases -----------------------------------------------------------------------------------
/// y = f(x) for every layout.
template <class T, class Ref, class Dev, class F>
void add_unary(Table<Ref, Dev>& t, const std::string& name, F f, Domain dom, Kind kind) {
    for (Layout l : all_layouts)
        t.add(name, layout_name(l), dtype_name<T>(), kind, false,
              timed(l) || (name == "exp" && (l == Layout::transposed || l == Layout::sliced)), [f, l, dom](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            Tensor<T, D> x = laid_out<T, D>(11, l, big, dom, p.shape);
            p.bytes = 2.0 * double(x.numel()) * sizeof(T);
            p.run = [x, f] { return Results().add("y", Tensor<T, D>(f(x))); };
            return p;
        });
}

/// The two operands of a binary case: shapes that broadcast, a transposed one, a number.
enum class Pair { same, bcast, row, transposed, number, empty };
inline const char* pair_name(Pair p) {
    switch (p) {
        case Pair::same: return "same";
        case Pair::bcast: return "bcast (R,1)x(1,C)";
        case Pair::row: return "bcast (R,C)x(C)";
        case Pair::transposed: return "a transposed";
        case Pair::number: return "b number";
        case Pair::empty: return "empty";
    }
    return "?";
}
inline constexpr Pair all_pairs[] = {Pair::same, Pair::bcast, Pair::row, Pair::transposed, Pair::number, Pair::empty};

template <class T, class D>
std::pair<Tensor<T, D>, Tensor<T, D>> operands(Pair p, bool big, Domain da, Domain db, std::string& desc) {
    const index_t R = big ? 4096 : 7, C = big ? 4096 : 33;
    switch (p) {
        case Pair::same: desc = str({R, C}) + "x" + str({R, C}); return {input<T, D>(21, {R, C}, da), input<T, D>(22, {R, C}, db)};
        case Pair::bcast: desc = str({R, 1}) + "x" + str({1, C}); return {input<T, D>(21, {R, 1}, da), input<T, D>(22, {1, C}, db)};
        case Pair::row: desc = str({R, C}) + "x" + str({C}); return {input<T, D>(21, {R, C}, da), input<T, D>(22, {C}, db)};
        case Pair::transposed:
            desc = str({C, R}) + "^Tx" + str({R, C});
            return {input<T, D>(21, {C, R}, da).transpose(), input<T, D>(22, {R, C}, db)};
        case Pair::number: desc = str({R, C}) + "x1.5"; return {input<T, D>(21, {R, C}, da), Tensor<T, D>()};
        case Pair::empty: desc = str({0, C}) + "x" + str({0, C}); return {input<T, D>(21, {0, C}, da), input<T, D>(22, {0, C}, db)};
    }
    return {};
}

/// y = f(a, b) for every pairing (b a number in one).
template <class T, class Ref, class Dev, class F>
void add_binary(Table<Ref, Dev>& t, const std::string& name, F f, Domain da, Domain db, Kind kind) {
    for (Pair pr : all_pairs)
        t.add(name, pair_name(pr), dtype_name<T>(), kind, false, pr == Pair::same || pr == Pair::row,
              [f, pr, da, db](auto tag, bool big) {
                  using D = typename decltype(tag)::type;
                  Prepared p;
                  auto [a, b] = operands<T, D>(pr, big, da, db, p.shape);
                  p.bytes = 3.0 * double(a.numel()) * sizeof(T);
                  if (pr == Pair::number) p.run = [a, f] { return Results().add("y", Tensor<T, D>(f(a, 1.5f))); };
                  else p.run = [a, b, f] { return Results().add("y", Tensor<T, D>(f(a, b))); };
                  return p;
              });
}

template <class T, class Ref, class Dev>
void add_elementwise(Table<Ref, Dev>& t) {
    using Domain::grid;
    using Domain::nonzero;
    using Domain::normal;
    using Domain::positive;
    add_unary<T>(t, "neg", [](const auto& x) { return -x; }, normal, Kind::exact);
    add_unary<T>(t, "exp", [](const auto& x) { return ward::exp(x); }, normal, Kind::eltwise);
    add_unary<T>(t, "log", [](const auto& x) { return ward::log(x); }, positive, Kind::eltwise);
    add_unary<T>(t, "log1p", [](const auto& x) { return ward::log1p(x); }, positive, Kind::eltwise);
    add_unary<T>(t, "sqrt", [](const auto& x) { return ward::sqrt(x); }, positive, Kind::eltwise);
    add_unary<T>(t, "rsqrt", [](const auto& x) { return ward::rsqrt(x); }, positive, Kind::eltwise);
    add_unary<T>(t, "tanh", [](const auto& x) { return ward::tanh(x); }, normal, Kind::eltwise);
    add_unary<T>(t, "sigmoid", [](const auto& x) { return ward::sigmoid(x); }, normal, Kind::eltwise);
    add_unary<T>(t, "relu", [](const auto& x) { return ward::relu(x); }, normal, Kind::exact);
    add_unary<T>(t, "gelu_tanh", [](const auto& x) { return ward::gelu_tanh(x); }, normal, Kind::eltwise);
    add_unary<T>(t, "gelu_tanh_grad", [](const auto& x) { return ward::gelu_tanh_grad(x); }, normal, Kind::eltwise);
    add_unary<T>(t, "abs", [](const auto& x) { return ward::abs(x); }, normal, Kind::exact);
    add_unary<T>(t, "square", [](const auto& x) { return ward::square(x); }, normal, Kind::exact);
    add_unary<T>(t, "sign", [](const auto& x) { return ward::sign(x); }, grid, Kind::exact);
    add_unary<T>(t, "pow(x,2.5)", [](const auto& x) { return ward::pow(x, 2.5); }, positive, Kind::eltwise);
    add_unary<T>(t, "clamp", [](const auto& x) { return ward::clamp(x, -0.5, 0.75); }, normal, Kind::exact);
    // A fused chain: one pass of several functors (nvcc may contract a * b + c into an FMA).
    add_unary<T>(t, "chain", [](const auto& x) { return ward::sigmoid(x * 1.5f + 0.25f) * ward::exp(-ward::square(x)); }, normal,
                 Kind::eltwise);

    add_binary<T>(t, "add", [](const auto& a, const auto& b) { return a + b; }, normal, normal, Kind::exact);
    add_binary<T>(t, "sub", [](const auto& a, const auto& b) { return a - b; }, normal, normal, Kind::exact);
    add_binary<T>(t, "mul", [](const auto& a, const auto& b) { return a * b; }, normal, normal, Kind::exact);
    add_binary<T>(t, "div", [](const auto& a, const auto& b) { return a / b; }, normal, nonzero, Kind::exact);
    add_binary<T>(t, "pow", [](const auto& a, const auto& b) { return ward::pow(a, b); }, positive, normal, Kind::eltwise);
    add_binary<T>(t, "maximum", [](const auto& a, const auto& b) { return ward::maximum(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "minimum", [](const auto& a, const auto& b) { return ward::minimum(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "lt", [](const auto& a, const auto& b) { return ward::lt(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "le", [](const auto& a, const auto& b) { return ward::le(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "gt", [](const auto& a, const auto& b) { return ward::gt(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "ge", [](const auto& a, const auto& b) { return ward::ge(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "eq", [](const auto& a, const auto& b) { return ward::eq(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "ne", [](const auto& a, const auto& b) { return ward::ne(a, b); }, grid, grid, Kind::exact);
    add_binary<T>(t, "where", [](const auto& a, const auto& b) { return ward::where(a > 0.f, a, b); }, grid, normal, Kind::exact);
}

/// f32 <-> bf16 conversions, dense and through a transposed view.
template <class Ref, class Dev>
void add_casts(Table<Ref, Dev>& t) {
    for (Layout l : {Layout::contig, Layout::transposed, Layout::empty}) {
        t.add("cast f32->bf16", layout_name(l), "f32", Kind::exact, false, l != Layout::empty, [l](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            Tensor<float, D> x = laid_out<float, D>(31, l, big, Domain::normal, p.shape);
            p.bytes = 6.0 * double(x.numel());
            p.run = [x] { return Results().add("y", Tensor<bf16, D>(ward::cast<bf16>(x))); };
            return p;
        });
        t.add("cast bf16->f32", layout_name(l), "bf16", Kind::exact, false, l != Layout::empty, [l](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            Tensor<bf16, D> x = laid_out<bf16, D>(32, l, big, Domain::normal, p.shape);
            p.bytes = 6.0 * double(x.numel());
            p.run = [x] { return Results().add("y", Tensor<float, D>(ward::cast<float>(x))); };
            return p;
        });
    }
}

/// Counter-based draws keyed by one seed: the same numbers on every device.
template <class Ref, class Dev>
void add_random(Table<Ref, Dev>& t) {
    auto add = [&t](const std::string& name, auto draw) {
        for (int shape = 0; shape < 3; ++shape)
            t.add(name, shape == 0 ? "(7,33)" : shape == 1 ? "(1000)" : "(2,3,5,7)", "f32", Kind::eltwise, false, shape == 0,
                  [draw, shape](auto tag, bool big) {
                      using D = typename decltype(tag)::type;
                      Prepared p;
                      Shape s = shape == 0 ? (big ? Shape{4096, 4096} : Shape{7, 33}) : shape == 1 ? Shape{1000} : Shape{2, 3, 5, 7};
                      p.shape = str(s);
                      p.bytes = 4.0 * double(s.numel());
                      p.run = [draw, s] {
                          ward::Generator g(1234);
                          return Results().add("y", Tensor<float, D>(draw(g, s, std::type_identity<D>{})));
                      };
                      return p;
                  });
    };
    add("uniform", [](ward::Generator& g, const Shape& s, auto d) {
        return ward::uniform<float, typename decltype(d)::type>(g, s, -2.f, 3.f);
    });
    add("normal", [](ward::Generator& g, const Shape& s, auto d) {
        return ward::normal<float, typename decltype(d)::type>(g, s, 0.5f, 2.f);
    });
    add("bernoulli", [](ward::Generator& g, const Shape& s, auto d) {
        return ward::bernoulli<float, typename decltype(d)::type>(g, s, 0.3f);
    });
    t.add("x+normal", "(7,33)x(33) noise", "f32", Kind::eltwise, false, false, [](auto tag, bool) {
        using D = typename decltype(tag)::type;
        Prepared p;
        Tensor<float, D> x = input<float, D>(33, {7, 33});
        p.shape = "(7,33)+(33)";
        p.run = [x] {
            ward::Generator g(99);
            return Results().add("y", Tensor<float, D>(x + ward::normal<float, D>(g, Shape{33}) * 0.1f));
        };
        return p;
    });
}

/// Reductions over one axis (kept or dropped) and over everything, of dense and transposed input.
template <class T, class Ref, class Dev>
void add_reductions(Table<Ref, Dev>& t) {
    enum Over { last_keep, first, all };
    auto add = [&t](const std::string& name, auto red, auto red_all, Kind kind, bool empty_ok) {
        for (Over over : {last_keep, first, all})
            for (Layout l : {Layout::contig, Layout::transposed, Layout::empty}) {
                if (l == Layout::empty && !empty_ok) continue;
                const char* on = over == last_keep ? "axis -1 keepdim" : over == first ? "axis 0" : "all";
                t.add(name, std::string(layout_name(l)) + ", " + on, dtype_name<T>(), kind, false, l == Layout::contig,
                      [red, red_all, over, l](auto tag, bool big) {
                          using D = typename decltype(tag)::type;
                          Prepared p;
                          Tensor<T, D> x = laid_out<T, D>(41, l, big, Domain::normal, p.shape);
                          p.bytes = double(x.numel()) * sizeof(T);
                          if (over == all) p.run = [x, red_all] { return Results().add("y", red_all(x)); };
                          else p.run = [x, red, over] { return Results().add("y", red(x, over == first ? 0 : -1, over == last_keep)); };
                          return p;
                      });
            }
    };
#define WARD_OP_TABLE_REDUCTION(fn, kind, empty_ok)                                                                   \
    add(#fn, [](const auto& x, int axis, bool keep) { return ward::fn(x, axis, keep); }, [](const auto& x) { return ward::fn(x); }, \
        kind, empty_ok)
    WARD_OP_TABLE_REDUCTION(sum, Kind::reduce, true);
    WARD_OP_TABLE_REDUCTION(mean, Kind::reduce, false);
    WARD_OP_TABLE_REDUCTION(max, Kind::exact, false);
    WARD_OP_TABLE_REDUCTION(min, Kind::exact, false);
    WARD_OP_TABLE_REDUCTION(argmax, Kind::exact, false);
    WARD_OP_TABLE_REDUCTION(argmin, Kind::exact, false);
    WARD_OP_TABLE_REDUCTION(logsumexp, Kind::reduce, true);
#undef WARD_OP_TABLE_REDUCTION
    // A reduction of an expression: the element-wise work fuses into the reduction's pass.
    t.add("sum(x*y)", "contig, axis -1", dtype_name<T>(), Kind::reduce, false, true, [](auto tag, bool big) {
        using D = typename decltype(tag)::type;
        Prepared p;
        std::string d;
        Tensor<T, D> x = laid_out<T, D>(42, Layout::contig, big, Domain::normal, d), y = laid_out<T, D>(43, Layout::transposed, big, Domain::normal, p.shape);
        p.shape = d + "*" + p.shape;
        p.bytes = 2.0 * double(x.numel()) * sizeof(T);
        p.run = [x, y] { return Results().add("y", ward::sum(x * y, -1)); };
        return p;
    });
}

/// contiguous() of views: a transposed matrix, heads split from (B, T, H, hd), a strided slice, a
/// broadcast (stride-0) axis.
template <class T, class Ref, class Dev>
void add_copies(Table<Ref, Dev>& t) {
    for (int v = 0; v < 4; ++v) {
        const char* names[] = {"transposed", "permute(0,2,1,3)", "slice step 3", "expand"};
        t.add("contiguous", names[v], dtype_name<T>(), Kind::exact, false, true, [v](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            Tensor<T, D> x;
            switch (v) {
                case 0: x = laid_out<T, D>(51, Layout::transposed, big, Domain::normal, p.shape); break;
                case 1: {
                    Shape s = big ? Shape{16, 1024, 16, 64} : Shape{2, 5, 3, 4};
                    x = input<T, D>(52, s).permute({0, 2, 1, 3});
                    p.shape = str(s) + ".permute(0,2,1,3)";
                    break;
                }
                case 2: {
                    Shape s = big ? Shape{4096, 3 * 4096} : Shape{5, 31};
                    x = input<T, D>(53, s).slice(1, 1, s[1], 3);
                    p.shape = str(s) + "[:,1::3]";
                    break;
                }
                case 3: {
                    Shape s = big ? Shape{1, 4096} : Shape{1, 33};
                    x = input<T, D>(54, s).expand(Shape{big ? 4096 : 7, s[1]});
                    p.shape = str(s) + ".expand" + str(x.shape());
                    break;
                }
            }
            p.bytes = 2.0 * double(x.numel()) * sizeof(T);
            p.run = [x] { return Results().add("y", x.contiguous()); };
            return p;
        });
    }
}

// ---- heavy ops -------------------------------------------------------------------------------------
/// matmul through its front end: plain, transposed operands (strides, not copies), batched, batch
/// broadcast, the bias and activation epilogues, odd and empty sizes.
template <class T, class Ref, class Dev>
void add_matmul(Table<Ref, Dev>& t) {
    struct Spec {
        const char* name;
        Shape a, b, big_a, big_b;
        bool ta, tb;  // operand given as a transposed view of its (.., n, m) storage
        int epi;      // 0 none, 1 bias, 2 bias+relu, 3 bias+gelu
        bool perf;
    };
    const Spec specs[] = {
        {"plain", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, false, false, 0, true},
        {"a^T", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, true, false, 0, true},
        {"b^T", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, false, true, 0, true},
        {"a^T b^T", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, true, true, 0, false},
        {"batched", {4, 17, 33}, {4, 33, 9}, {64, 512, 64}, {64, 64, 512}, false, false, 0, true},
        {"batch bcast", {2, 3, 17, 33}, {33, 9}, {8, 1024, 1024}, {1024, 1024}, false, false, 0, true},
        {"batch bcast 1", {2, 1, 17, 33}, {1, 3, 33, 9}, {2, 1, 17, 33}, {1, 3, 33, 9}, false, false, 0, false},
        {"bias", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, false, false, 1, true},
        {"bias+relu", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, false, false, 2, true},
        {"bias+gelu", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, false, false, 3, true},
        {"1x1x1", {1, 1}, {1, 1}, {1, 1}, {1, 1}, false, false, 0, false},
        {"vector", {1, 257}, {257, 1}, {1, 257}, {257, 1}, false, false, 0, false},
        {"empty M", {0, 33}, {33, 9}, {0, 33}, {33, 9}, false, false, 0, false},
        {"K=0", {17, 0}, {0, 9}, {17, 0}, {0, 9}, false, false, 0, false},
    };
    for (const Spec& s : specs)
        t.add(std::string("matmul") + (s.epi == 1 ? "+bias" : s.epi == 2 ? "+bias+relu" : s.epi == 3 ? "+bias+gelu" : ""), s.name,
              dtype_name<T>(), Kind::matmul, false, s.perf, [s](auto tag, bool big) {
                  using D = typename decltype(tag)::type;
                  if constexpr (!matmul_takes<T, D>) {
                      return Prepared::unsupported("Backend::matmul takes no " + std::string(dtype_name<T>()));
                  } else {
                      Prepared p;
                      auto operand = [](std::uint64_t seed, Shape sh, bool trans) {
                          if (!trans) return input<T, D>(seed, sh);
                          std::swap(sh[sh.rank - 1], sh[sh.rank - 2]);
                          return input<T, D>(seed, sh).transpose();
                      };
                      Shape sa = big ? s.big_a : s.a, sb = big ? s.big_b : s.b;
                      Tensor<T, D> a = operand(61, sa, s.ta), b = operand(62, sb, s.tb);
                      p.shape = str(sa) + (s.ta ? "^T" : "") + "@" + str(sb) + (s.tb ? "^T" : "");
                      const Shape out = ward::detail::matmul_shape(a.shape(), b.shape());
                      p.flops = 2.0 * double(out.numel()) * double(sa[sa.rank - 1]);
                      if (s.epi == 0) {
                          p.run = [a, b] { return Results().add("y", ward::matmul(a, b)); };
                      } else {
                          Tensor<T, D> bias = input<T, D>(63, {sb[sb.rank - 1]});
                          const ward::Activation act = s.epi == 2   ? ward::Activation::relu
                                                       : s.epi == 3 ? ward::Activation::gelu_tanh
                                                                    : ward::Activation::none;
                          p.run = [a, b, bias, act] { return Results().add("y", ward::matmul(a, b, bias, act)); };
                      }
                      return p;
                  }
              });
}

/// Row-wise ops over the last axis: softmax, log-softmax, layer norm (with and without affine
/// part, its statistics too), RMS norm; rows of 33 and 1025 (warp and block per row on CUDA),
/// transposed and sliced rows, empty and one-column inputs.
template <class T, class Ref, class Dev>
void add_rows(Table<Ref, Dev>& t) {
    struct Spec {
        const char* name;
        Shape s;
        int view;  // 0 dense, 1 transposed storage, 2 every other column
    };
    const Spec specs[] = {{"(7,33)", {7, 33}, 0},       {"(3,1025)", {3, 1025}, 0}, {"transposed", {7, 33}, 1},
                          {"sliced", {5, 1025}, 2},      {"empty (0,17)", {0, 17}, 0}, {"one column", {5, 1}, 0},
                          {"(2,3,4097)", {2, 3, 4097}, 0}};
    auto rows = [](auto tag, const Spec& s, bool big, std::uint64_t seed, std::string& desc) {
        using D = typename decltype(tag)::type;
        Shape sh = big ? Shape{8192, 4096} : s.s;
        if (s.view == 1) {
            Shape st = sh;
            std::swap(st[st.rank - 1], st[st.rank - 2]);
            desc = str(st) + "^T";
            return input<T, D>(seed, st).transpose();
        }
        if (s.view == 2) {
            Shape st = sh;
            st[st.rank - 1] *= 2;
            desc = str(st) + "[:,::2]";
            return input<T, D>(seed, st).slice(-1, 0, st[st.rank - 1], 2);
        }
        desc = str(sh);
        return input<T, D>(seed, sh);
    };
    for (const Spec& s : specs) {
        const bool perf = s.name == specs[0].name || s.view != 0;
        auto add = [&](const std::string& op, int which) {
            t.add(op, s.name, dtype_name<T>(), Kind::reduce, false, perf, [s, which, rows](auto tag, bool big) {
                using D = typename decltype(tag)::type;
                Prepared p;
                Tensor<T, D> x = rows(tag, s, big, 71, p.shape);
                const index_t C = x.size(-1);
                Tensor<T, D> gamma = input<T, D>(72, {C}), beta = input<T, D>(73, {C});
                p.bytes = 2.0 * double(x.numel()) * sizeof(T);
                switch (which) {
                    case 0: p.run = [x] { return Results().add("y", ward::softmax(x)); }; break;
                    case 1: p.run = [x] { return Results().add("y", ward::log_softmax(x)); }; break;
                    case 2:
                        p.run = [x, gamma, beta] {
                            ward::NormStats<T, D> st;
                            Tensor<T, D> y = ward::layer_norm(x, gamma, beta, 1e-5, &st);
                            return Results().add("y", y).add("mean", st.mean).add("rstd", st.rstd);
                        };
                        break;
                    case 3: p.run = [x] { return Results().add("y", ward::layer_norm(x, Tensor<T, D>(), Tensor<T, D>())); }; break;
                    case 4:
                        p.run = [x, gamma] {
                            ward::NormStats<T, D> st;
                            Tensor<T, D> y = ward::rms_norm(x, gamma, 1e-6, &st);
                            return Results().add("y", y).add("rstd", st.rstd);
                        };
                        break;
                    case 5: p.run = [x] { return Results().add("y", ward::rms_norm(x, Tensor<T, D>())); }; break;
                }
                return p;
            });
        };
        add("softmax", 0);
        add("log_softmax", 1);
        add("layer_norm", 2);
        add("layer_norm (no affine)", 3);
        add("rms_norm", 4);
        add("rms_norm (no gamma)", 5);
    }
}

/// Embedding gather (dense and transposed tables, empty ids), concat along each axis (a strided
/// part, an empty part), split into views.
template <class T, class Ref, class Dev>
void add_gathers(Table<Ref, Dev>& t) {
    for (int v = 0; v < 3; ++v) {
        const char* names[] = {"(50,33)[(3,7)]", "table^T", "empty ids"};
        t.add("embedding", names[v], dtype_name<T>(), Kind::exact, false, v == 0, [v](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            const index_t V = big ? 50257 : 50, E = big ? 768 : 33;
            Tensor<T, D> table = v == 1 ? input<T, D>(81, {E, V}).transpose() : input<T, D>(81, {V, E});
            Shape is = v == 2 ? Shape{0} : big ? Shape{8, 1024} : Shape{3, 7};
            Tensor<std::int64_t, D> id = ids<D>(82, is, V);
            p.shape = str(table.shape()) + (v == 1 ? "^T" : "") + "[" + str(is) + "]";
            p.bytes = 2.0 * double(is.numel() * E) * sizeof(T);
            p.run = [table, id] { return Results().add("y", ward::embedding(table, id)); };
            return p;
        });
    }
    for (int v = 0; v < 5; ++v) {
        const char* names[] = {"axis 0", "axis -1", "axis 1 of 3", "transposed part", "empty part"};
        t.add("concat", names[v], dtype_name<T>(), Kind::exact, false, v < 2, [v](auto tag, bool big) {
            using D = typename decltype(tag)::type;
            Prepared p;
            const index_t R = big ? 4096 : 7, C = big ? 4096 : 33;
            std::vector<Tensor<T, D>> parts;
            int axis = 0;
            switch (v) {
                case 0: parts = {input<T, D>(91, {R, C}), input<T, D>(92, {3, C}), input<T, D>(93, {R, C})}; break;
                case 1: parts = {input<T, D>(91, {R, C}), input<T, D>(92, {R, 5}), input<T, D>(93, {R, C})}, axis = -1; break;
                case 2: parts = {input<T, D>(91, {2, 3, 5}), input<T, D>(92, {2, 4, 5})}, axis = 1; break;
                case 3: parts = {input<T, D>(91, {C, R}).transpose(), input<T, D>(92, {R, 4})}, axis = 1; break;
                case 4: parts = {input<T, D>(91, {R, 0}), input<T, D>(92, {R, C})}, axis = 1; break;
            }
            for (const auto& x : parts) {
                if (!p.shape.empty()) p.shape += '+';
                p.shape += str(x.shape());
            }
            for (const auto& x : parts) p.bytes += 2.0 * double(x.numel()) * sizeof(T);
            p.run = [parts, axis] { return Results().add("y", ward::concat(parts, axis)); };
            return p;
        });
    }
    t.add("split", "(7,33) axis 1 into 5,20,8", dtype_name<T>(), Kind::exact, false, false, [](auto tag, bool) {
        using D = typename decltype(tag)::type;
        Prepared p;
        Tensor<T, D> x = input<T, D>(94, {7, 33});
        p.shape = "(7,33)";
        p.run = [x] {
            auto parts = ward::split(x, {5, 20, 8}, 1);
            Results r;
            for (std::size_t i = 0; i < parts.size(); ++i) r.add(numbered("part", i), parts[i].contiguous());
            return r;
        };
        return p;
    });
}

// ---- gradients -------------------------------------------------------------------------------------
/// Runs f on fresh leaves holding xs (all requiring grad), back-propagates an upstream gradient drawn
/// from `seed` for the output's shape (the same on both devices), and returns the output and every
/// input's gradient.
template <class T, class D, class F>
Results forward_backward(const F& f, const std::vector<Tensor<T, D>>& xs, std::uint64_t seed,
                         const std::shared_ptr<Tensor<T, D>>& upstream) {
    std::vector<ag::Var<T, D>> vs;
    for (const auto& x : xs) vs.emplace_back(x, true);
    ag::Var<T, D> y = f(vs);
    if (!upstream->defined() || !(upstream->shape() == y.shape())) *upstream = input<T, D>(seed, y.shape());
    y.backward(*upstream);
    Results r;
    r.add("y", y.value());
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (vs[i].grad().defined()) r.add(numbered("d", i), vs[i].grad());
        else r.add(numbered("d", i) + " (none)", Tensor<T, D>::empty(Shape{0}));
    }
    return r;
}

/// A gradient case: `inputs(tag, big, desc)` builds the leaves' values, `f(vars)` the op on the tape.
/// Matmul: the op runs a matmul (matmul_takes<T, D> decides whether it is there).
template <class T, bool Matmul = false, class Ref, class Dev, class In, class F>
void add_grad(Table<Ref, Dev>& t, const std::string& op, const std::string& variant, Kind kind, bool perf, In inputs, F f,
              double flops_big = 0) {
    t.add(op + ".grad", variant, dtype_name<T>(), kind, true, perf, [inputs, f, flops_big](auto tag, bool big) {
        using D = typename decltype(tag)::type;
        if constexpr (Matmul && !matmul_takes<T, D>) {
            return Prepared::unsupported("Backend::matmul takes no " + std::string(dtype_name<T>()));
        } else {
            Prepared p;
            std::vector<Tensor<T, D>> xs = inputs(tag, big, p.shape);
            for (const auto& x : xs) p.bytes += 3.0 * double(x.numel()) * sizeof(T);
            if (flops_big > 0 && big) p.flops = flops_big;
            auto upstream = std::make_shared<Tensor<T, D>>();
            p.run = [f, xs, upstream] { return forward_backward<T, D>(f, xs, 101, upstream); };
            return p;
        }
    });
}

/// Every op's gradient in f32; in bf16 a subset (one or two of each family): the tape's ops are
/// templates over the element type, so the subset exercises each device's bf16 paths.
template <class T, class Ref, class Dev>
void add_grads(Table<Ref, Dev>& t) {
    constexpr bool all = std::is_same_v<T, float>;
    // Unary: dense and transposed input.
    auto unary = [&t](const std::string& name, auto f, Domain dom) {
        for (Layout l : {Layout::contig, Layout::transposed})
            add_grad<T>(t, name, layout_name(l), Kind::eltwise, l == Layout::contig,
                        [l, dom](auto tag, bool big, std::string& d) {
                            using D = typename decltype(tag)::type;
                            return std::vector<Tensor<T, D>>{laid_out<T, D>(111, l, big, dom, d)};
                        },
                        [f](const auto& v) { return f(v[0]); });
    };
    unary("exp", [](const auto& x) { return ag::exp(x); }, Domain::normal);
    unary("gelu_tanh", [](const auto& x) { return ag::gelu_tanh(x); }, Domain::normal);
    if constexpr (all) {
        unary("neg", [](const auto& x) { return -x; }, Domain::normal);
        unary("log", [](const auto& x) { return ag::log(x); }, Domain::positive);
        unary("sqrt", [](const auto& x) { return ag::sqrt(x); }, Domain::positive);
        unary("rsqrt", [](const auto& x) { return ag::rsqrt(x); }, Domain::positive);
        unary("tanh", [](const auto& x) { return ag::tanh(x); }, Domain::normal);
        unary("sigmoid", [](const auto& x) { return ag::sigmoid(x); }, Domain::normal);
        unary("relu", [](const auto& x) { return ag::relu(x); }, Domain::normal);
        unary("abs", [](const auto& x) { return ag::abs(x); }, Domain::normal);
        unary("square", [](const auto& x) { return ag::square(x); }, Domain::normal);
        unary("log_sigmoid", [](const auto& x) { return ag::log_sigmoid(x); }, Domain::normal);
        unary("pow(x,2.5)", [](const auto& x) { return ag::pow(x, 2.5); }, Domain::positive);
        unary("clamp", [](const auto& x) { return ag::clamp(x, -0.5, 0.75); }, Domain::normal);
        unary("dropout", [](const auto& x) {
            ward::Generator g(5);
            return ag::dropout(x, 0.25, g);
        }, Domain::normal);
        unary("fused swish", [](const auto& x) {
            return ag::fused([](auto a) { return a * ward::sigmoid(a); }, x);
        }, Domain::normal);
    }

    // Binary, with broadcasting (the gradient of a broadcast operand is summed back to its shape).
    auto binary = [&t](const std::string& name, auto f, Domain da, Domain db) {
        for (Pair pr : {Pair::same, Pair::bcast, Pair::row})
            add_grad<T>(t, name, pair_name(pr), Kind::eltwise, pr == Pair::same,
                        [pr, da, db](auto tag, bool big, std::string& d) {
                            using D = typename decltype(tag)::type;
                            auto [a, b] = operands<T, D>(pr, big, da, db, d);
                            return std::vector<Tensor<T, D>>{a, b};
                        },
                        [f](const auto& v) { return f(v[0], v[1]); });
    };
    binary("mul", [](const auto& a, const auto& b) { return a * b; }, Domain::normal, Domain::normal);
    if constexpr (all) {
        binary("add", [](const auto& a, const auto& b) { return a + b; }, Domain::normal, Domain::normal);
        binary("sub", [](const auto& a, const auto& b) { return a - b; }, Domain::normal, Domain::normal);
        binary("div", [](const auto& a, const auto& b) { return a / b; }, Domain::normal, Domain::nonzero);
        binary("maximum", [](const auto& a, const auto& b) { return ag::maximum(a, b); }, Domain::normal, Domain::normal);
        binary("where", [](const auto& a, const auto& b) {
            using Vt = std::remove_cvref_t<decltype(a)>;
            using D = typename Vt::device;
            auto cond = Tensor<T, D>(a.value() > 0.f);
            return ag::where(cond, a, b);
        }, Domain::normal, Domain::normal);
        binary("x*2-3/y+1", [](const auto& a, const auto& b) { return a * 2.0 - 3.0 / b + 1.0; }, Domain::normal, Domain::nonzero);
    }

    // Reductions.
    auto reduction = [&t](const std::string& name, auto f) {
        add_grad<T>(t, name, "(7,33)^T", Kind::reduce, true,
                    [](auto tag, bool big, std::string& d) {
                        using D = typename decltype(tag)::type;
                        return std::vector<Tensor<T, D>>{laid_out<T, D>(121, Layout::transposed, big, Domain::normal, d)};
                    },
                    [f](const auto& v) { return f(v[0]); });
    };
    reduction("sum axis 0", [](const auto& x) { return ag::sum(x, 0); });
    reduction("logsumexp axis -1", [](const auto& x) { return ag::logsumexp(x, -1); });
    if constexpr (all) {
        reduction("sum all", [](const auto& x) { return ag::sum(x); });
        reduction("mean all", [](const auto& x) { return ag::mean(x); });
        reduction("mean axis -1 keepdim", [](const auto& x) { return ag::mean(x, -1, true); });
        reduction("max axis -1", [](const auto& x) { return ag::max(x, -1); });
    }

    if constexpr (all) {
        // Views on the tape: each passes its gradient back through the view.
        // Copies pass gradients exactly; expand's and split's sum theirs (Kind::reduce).
        auto view = [&t](const std::string& name, auto f, Kind kind = Kind::exact) {
            add_grad<T>(t, name, "(2,3,5,4)", kind, false,
                        [](auto tag, bool, std::string& d) {
                            using D = typename decltype(tag)::type;
                            d = "(2,3,5,4)";
                            return std::vector<Tensor<T, D>>{input<T, D>(131, {2, 3, 5, 4})};
                        },
                        [f](const auto& v) { return f(v[0]); });
        };
        view("reshape", [](const auto& x) { return ag::reshape(x, {6, 20}); });
        view("permute", [](const auto& x) { return ag::permute(x, {0, 2, 1, 3}); });
        view("transpose", [](const auto& x) { return ag::transpose(x); });
        view("slice", [](const auto& x) { return ag::slice(x, 2, 1, 5, 2); });
        view("select", [](const auto& x) { return ag::select(x, 1, 2); });
        view("expand", [](const auto& x) { return ag::expand(ag::unsqueeze(x, 0), {3, 2, 3, 5, 4}); }, Kind::reduce);
        view("squeeze", [](const auto& x) { return ag::squeeze(ag::slice(x, 1, 0, 1), 1); });
        view("split", [](const auto& x) {
            auto parts = ag::split(x, {1, 3, 1}, 2);
            return parts[0] * 2.0 + parts[2] - ag::sum(parts[1], 2, true);
        }, Kind::reduce);
        add_grad<T>(t, "concat", "axis 1, 3 parts", Kind::exact, false,
                    [](auto tag, bool, std::string& d) {
                        using D = typename decltype(tag)::type;
                        d = "(4,3)+(4,5)+(4,1)";
                        return std::vector<Tensor<T, D>>{input<T, D>(132, {4, 3}), input<T, D>(133, {4, 5}), input<T, D>(134, {4, 1})};
                    },
                    [](const auto& v) { return ag::concat(v, 1); });
    }

    // Heavy ops.
    {
        auto mm = [&t](const std::string& variant, Shape a, Shape b, Shape ba, Shape bb, bool perf) {
            add_grad<T, true>(t, "matmul", variant, Kind::matmul, perf,
                        [a, b, ba, bb](auto tag, bool big, std::string& d) {
                            using D = typename decltype(tag)::type;
                            Shape sa = big ? ba : a, sb = big ? bb : b;
                            d = str(sa) + "@" + str(sb);
                            return std::vector<Tensor<T, D>>{input<T, D>(141, sa), input<T, D>(142, sb)};
                        },
                        [](const auto& v) { return ag::matmul(v[0], v[1]); },
                        3 * 2.0 * double(ba.numel()) * double(bb[bb.rank - 1]));
        };
        mm("(17,33)@(33,9)", {17, 33}, {33, 9}, {4096, 4096}, {4096, 4096}, true);
        mm("batch bcast", {2, 3, 17, 33}, {33, 9}, {8, 1024, 1024}, {1024, 1024}, false);
    }
    if constexpr (all) for (int act = 0; act < 4; ++act) {
        const char* names[] = {"no bias", "bias", "bias+relu", "bias+gelu"};
        add_grad<T, true>(t, "linear", names[act], Kind::matmul, act == 3,
                    [act](auto tag, bool big, std::string& d) {
                        using D = typename decltype(tag)::type;
                        const index_t N = big ? 8192 : 11, I = big ? 1024 : 33, O = big ? 4096 : 9;
                        d = "x";
                        d += str({2, N, I});
                        d += " W";
                        d += str({O, I});
                        std::vector<Tensor<T, D>> xs{input<T, D>(151, {2, N, I}), input<T, D>(152, {O, I})};
                        if (act > 0) xs.push_back(input<T, D>(153, {O}));
                        return xs;
                    },
                    [act](const auto& v) {
                        const auto a = act == 2 ? ward::Activation::relu : act == 3 ? ward::Activation::gelu_tanh : ward::Activation::none;
                        return act == 0 ? ag::linear(v[0], v[1]) : ag::linear(v[0], v[1], v[2], a);
                    },
                    3 * 2.0 * 2 * 8192 * 1024 * 4096);
    }
    auto rows = [&t](const std::string& name, auto f, int params) {
        for (int v = 0; v < 2; ++v)
            add_grad<T>(t, name, v == 0 ? "(7,33)" : "(3,1025)^T", Kind::reduce, v == 0,
                        [v, params](auto tag, bool big, std::string& d) {
                            using D = typename decltype(tag)::type;
                            Shape s = big ? Shape{8192, 4096} : v == 0 ? Shape{7, 33} : Shape{3, 1025};
                            Tensor<T, D> x = v == 0 ? input<T, D>(161, s) : input<T, D>(161, {s[1], s[0]}).transpose();
                            d = v == 0 ? str(s) : str({s[1], s[0]}) + "^T";
                            std::vector<Tensor<T, D>> xs{x};
                            for (int i = 0; i < params; ++i) xs.push_back(input<T, D>(162 + std::uint64_t(i), {s[1]}));
                            return xs;
                        },
                        f);
    };
    rows("softmax", [](const auto& v) { return ag::softmax(v[0]); }, 0);
    rows("log_softmax", [](const auto& v) { return ag::log_softmax(v[0]); }, 0);
    rows("layer_norm", [](const auto& v) { return ag::layer_norm(v[0], v[1], v[2]); }, 2);
    rows("rms_norm", [](const auto& v) { return ag::rms_norm(v[0], v[1]); }, 1);
    add_grad<T>(t, "embedding", "(50,33)[(3,7)] repeated ids", Kind::reduce, false,
                [](auto tag, bool, std::string& d) {
                    using D = typename decltype(tag)::type;
                    d = "(50,33)";
                    return std::vector<Tensor<T, D>>{input<T, D>(171, {50, 33})};
                },
                [](const auto& v) {
                    using D = typename std::remove_cvref_t<decltype(v[0])>::device;
                    return ag::embedding(v[0], ids<D>(172, {3, 7}, 10));  // 21 ids in [0, 10): repeats sum
                });
}

/// Losses and attention, forward and backward together.
template <class T, class Ref, class Dev>
void add_losses(Table<Ref, Dev>& t) {
    struct Spec {
        const char* name;
        Shape logits;
        index_t every;  // every n-th target ignored (0: none)
        bool mask;
    };
    const Spec specs[] = {{"(7,33)", {7, 33}, 0, false},
                          {"(2,5,33) ignore every 3rd", {2, 5, 33}, 3, false},
                          {"(7,33) mask", {7, 33}, 0, true},
                          {"(3,1025) all ignored", {3, 1025}, 1, false}};
    for (const Spec& s : specs) {
        auto loss = [&](const std::string& op, int which) {
            add_grad<T>(t, op, s.name, Kind::reduce, s.name == specs[0].name,
                        [s](auto tag, bool big, std::string& d) {
                            using D = typename decltype(tag)::type;
                            Shape sh = big ? Shape{2048, 32000} : s.logits;
                            d = str(sh);
                            return std::vector<Tensor<T, D>>{input<T, D>(181, sh)};
                        },
                        [s, which](const auto& v) {
                            using D = typename std::remove_cvref_t<decltype(v[0])>::device;
                            const Shape& sh = v[0].shape();
                            Shape ts = sh;
                            --ts.rank;
                            const index_t V = sh[sh.rank - 1];
                            Tensor<std::int64_t, D> target = ids<D>(182, ts, V, s.every);
                            if (which == 0) {
                                Tensor<T, D> mask = s.mask ? input<T, D>(184, ts, Domain::grid) : Tensor<T, D>();
                                if (s.mask) mask = Tensor<T, D>(ward::gt(mask, 0.f));
                                return ag::cross_entropy(v[0], target, mask);
                            }
                            return ag::token_log_probs(v[0], target);
                        });
        };
        loss("cross_entropy", 0);
        loss("token_log_probs", 1);
    }
    auto pointwise = [&t](const std::string& op, auto f) {
        add_grad<T>(t, op, "(7,33)", Kind::reduce, false,
                    [](auto tag, bool, std::string& d) {
                        using D = typename decltype(tag)::type;
                        d = "(7,33)";
                        return std::vector<Tensor<T, D>>{input<T, D>(191, {7, 33}), input<T, D>(192, {7, 33})};
                    },
                    f);
    };
    if constexpr (std::is_same_v<T, float>) {
        pointwise("mse", [](const auto& v) {
            using D = typename std::remove_cvref_t<decltype(v[0])>::device;
            return ag::mse(v[0], input<T, D>(193, {7, 33}));
        });
        pointwise("bce_with_logits", [](const auto& v) {
            using D = typename std::remove_cvref_t<decltype(v[0])>::device;
            return ag::bce_with_logits(v[0], input<T, D>(194, {7, 33}, Domain::unit));
        });
        pointwise("kl_div", [](const auto& v) { return ag::kl_div(v[0], v[1]); });
    }

    // Attention: grouped-query heads, a key offset with padding, q/k/v as permuted views of
    // (B, T, heads, hd) projections (as a model makes them).
    struct Att {
        const char* name;
        index_t B, H, Hkv, Tq, S, hd;
        bool pad, permuted;
    };
    const Att atts[] = {{"GQA B2 H4/2 T9 hd16", 2, 4, 2, 9, 9, 16, false, false},
                        {"offset 4 + padding", 2, 2, 2, 5, 9, 8, true, false},
                        {"permuted views", 2, 4, 4, 7, 7, 16, false, true},
                        {"one query", 1, 2, 1, 1, 6, 8, false, false}};
    for (const Att& a0 : atts)
        add_grad<T, true>(t, "attention", a0.name, Kind::matmul, a0.name == atts[0].name,
                    [a0](auto tag, bool big, std::string& d) {
                        using D = typename decltype(tag)::type;
                        Att a = a0;
                        if (big) a = {a0.name, 4, 16, 16, 1024, 1024, 64, false, false};
                        d = numbered("B", a.B) + numbered(" H", a.H) + numbered("/", a.Hkv) + numbered(" T", a.Tq) +
                            numbered(" S", a.S) + numbered(" hd", a.hd);
                        auto heads = [&](std::uint64_t seed, index_t n, index_t rows) {
                            if (!a.permuted) return input<T, D>(seed, {a.B, n, rows, a.hd});
                            return input<T, D>(seed, {a.B, rows, n, a.hd}).permute({0, 2, 1, 3});
                        };
                        return std::vector<Tensor<T, D>>{heads(201, a.H, a.Tq), heads(202, a.Hkv, a.S), heads(203, a.Hkv, a.S)};
                    },
                    [a0](const auto& v) {
                        using D = typename std::remove_cvref_t<decltype(v[0])>::device;
                        {
                            ag::AttentionMask<T, D> mask;
                            mask.offset = v[1].size(2) - v[0].size(2);
                            if (a0.pad && v[0].size(0) == a0.B) {
                                std::vector<T> pad(static_cast<std::size_t>(a0.B * a0.S), ward::element_cast<T>(1.0f));
                                pad[static_cast<std::size_t>(a0.S - 1)] = ward::element_cast<T>(0.0f);  // batch 0: last key padding
                                pad[static_cast<std::size_t>(a0.S + 1)] = ward::element_cast<T>(0.0f);  // batch 1: key 1 padding
                                mask.key_padding = Tensor<T, ward::cpu>::from_vector(pad, {a0.B, a0.S}).template to<D>();
                            }
                            return ag::attention(v[0], v[1], v[2], mask, 1.0 / std::sqrt(double(v[0].size(3))));
                        }
                    },
                    3 * 4.0 * 4 * 16 * 1024 * 1024 * 64 / 2);
}

/// The whole table.
template <class Ref, class Dev>
Table<Ref, Dev> make_table() {
    Table<Ref, Dev> t;
    add_elementwise<float>(t);
    add_elementwise<bf16>(t);
    add_casts(t);
    add_random(t);
    add_reductions<float>(t);
    add_reductions<bf16>(t);
    add_copies<float>(t);
    add_copies<bf16>(t);
    add_matmul<float>(t);
    add_matmul<bf16>(t);
    add_rows<float>(t);
    add_rows<bf16>(t);
    add_gathers<float>(t);
    add_gathers<bf16>(t);
    add_grads<float>(t);
    add_grads<bf16>(t);
    add_losses<float>(t);
    add_losses<bf16>(t);
    return t;
}

}  // namespace ward_test::op_table
