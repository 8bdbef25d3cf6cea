#pragma once
// The op table's gradient cases (see op_table.hpp): every op with a backward, through the tape
// (ward::ag::Var), the same upstream gradient on both devices and every input's gradient compared;
// the losses and attention, forward and backward together.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "op_table_forward.hpp"

namespace ward_test::op_table {

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
    // linear in both dtypes: its backward sums the weight gradient in place (gemm_accumulate) and
    // its GELU epilogue has a kernel of its own, on CUDA in bf16 too.
    for (int act = 0; act < 4; ++act) {
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

}  // namespace ward_test::op_table
