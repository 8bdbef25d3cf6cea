#pragma once
// The op table's forward cases (see op_table.hpp): element-wise math, casts, random draws,
// reductions, contiguous copies of views, matmul and its epilogues, the row-wise ops, embedding,
// concat and split, each over its layouts; and what they share with the gradient cases: the
// operand layouts and the traits that say which dtypes a device's kernels take.

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

}  // namespace ward_test::op_table
