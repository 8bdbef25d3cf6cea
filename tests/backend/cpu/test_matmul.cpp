// ward::backend::cpu::matmul against a naive triple loop in double precision: f32, f64, bf16; odd
// sizes; transposed, padded, reversed and broadcast (stride-0) operands; batched and broadcast
// batch dims; bias and ReLU/GELU-tanh epilogues; shape errors naming both shapes.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cpu/strided_buffer.hpp"
#include "ward/backend/cpu/matmul.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;
using cpu::Epilogue;

namespace {

using test::Strided;

template <class T>
Strided<T> make(Shape shape, std::vector<int> order = {}, index_t pad = 0, std::vector<int> flip = {},
                std::uint32_t seed = 1) {
    return test::make_strided<T>(shape, {order, pad, flip}, seed, -1.f, 1.f);
}

template <class T>
double val(const StridedView<T>& v, const std::vector<index_t>& idx) {
    index_t off = 0;
    for (int i = 0; i < v.shape.rank; ++i) off += idx[static_cast<std::size_t>(i)] * v.strides[i];
    return element_cast<double>(v.data[off]);
}

double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
double epi(double x, Epilogue ep) {
    return ep == Epilogue::relu ? std::max(x, 0.0) : ep == Epilogue::gelu_tanh ? gelu_ref(x) : x;
}

// Checks c against a naive double-precision product; tol is relative to sum_k |a||b| (+ |ref|).
template <class T>
void check_product(const StridedView<const T>& a, const StridedView<const T>& b, const T* bias, Epilogue ep,
                   const StridedView<T>& c, double tol_abs, double tol_rel) {
    const int r = c.shape.rank, ra = a.shape.rank, rb = b.shape.rank;
    const index_t K = a.shape[ra - 1];
    std::vector<index_t> ci(static_cast<std::size_t>(r), 0), ai(static_cast<std::size_t>(ra)), bi(static_cast<std::size_t>(rb));
    const index_t total = c.numel();
    double worst = 0;
    for (index_t flat = 0; flat < total; ++flat) {
        index_t rem = flat;
        for (int i = r - 1; i >= 0; --i) ci[static_cast<std::size_t>(i)] = rem % c.shape[i], rem /= c.shape[i];
        for (int i = 0; i < ra - 2; ++i) {
            const index_t d = ci[static_cast<std::size_t>(i + r - ra)];
            ai[static_cast<std::size_t>(i)] = a.shape[i] == 1 ? 0 : d;
        }
        for (int i = 0; i < rb - 2; ++i) {
            const index_t d = ci[static_cast<std::size_t>(i + r - rb)];
            bi[static_cast<std::size_t>(i)] = b.shape[i] == 1 ? 0 : d;
        }
        const index_t m = ci[static_cast<std::size_t>(r - 2)], n = ci[static_cast<std::size_t>(r - 1)];
        double s = bias ? static_cast<double>(element_cast<double>(bias[n])) : 0.0, sabs = std::abs(s);
        for (index_t k = 0; k < K; ++k) {
            ai[static_cast<std::size_t>(ra - 2)] = m, ai[static_cast<std::size_t>(ra - 1)] = k;
            bi[static_cast<std::size_t>(rb - 2)] = k, bi[static_cast<std::size_t>(rb - 1)] = n;
            const double p = val(a, ai) * val(b, bi);
            s += p;
            sabs += std::abs(p);
        }
        const double ref = epi(s, ep), got = val(c, ci);
        const double err = std::abs(got - ref), lim = tol_abs + tol_rel * (sabs + std::abs(ref));
        if (!(err <= lim)) {
            BOOST_TEST_MESSAGE("mismatch at flat index " << flat << ": got " << got << ", want " << ref);
            BOOST_REQUIRE_LE(err, lim);
        }
        worst = std::max(worst, err);
    }
    BOOST_TEST_MESSAGE("max abs error " << worst);
}

template <class T>
constexpr double tol_rel() {
    if constexpr (std::is_same_v<T, double>) return 1e-13;
    else if constexpr (std::is_same_v<T, float>) return 2e-6;
    else return 8e-3;  // bf16 output rounding (2^-8 relative) dominates
}

template <class T>
void run_case(Shape as, Shape bs, Shape cs, std::vector<int> ao = {}, std::vector<int> bo = {},
              std::vector<int> co = {}, index_t pad = 0, bool with_bias = false, Epilogue ep = Epilogue::none) {
    auto a = make<T>(as, ao, pad, {}, 11);
    auto b = make<T>(bs, bo, pad, {}, 12);
    auto c = make<T>(cs, co, pad, {}, 13);
    auto bias = make<T>(Shape{cs[cs.rank - 1]}, {}, 0, {}, 14);
    cpu::matmul<T>(a.cview(), b.cview(), with_bias ? bias.view.data : nullptr, ep, c.view);
    check_product<T>(a.cview(), b.cview(), with_bias ? bias.view.data : nullptr, ep, c.view, 1e-6, tol_rel<T>());
}

template <class T>
void all_layouts_2d(index_t M, index_t K, index_t N) {
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb)
            for (int tc = 0; tc < 2; ++tc) {
                BOOST_TEST_CONTEXT("M=" << M << " K=" << K << " N=" << N << " ta=" << ta << " tb=" << tb << " tc=" << tc) {
                    run_case<T>(Shape{M, K}, Shape{K, N}, Shape{M, N}, ta ? std::vector<int>{1, 0} : std::vector<int>{},
                                tb ? std::vector<int>{1, 0} : std::vector<int>{},
                                tc ? std::vector<int>{1, 0} : std::vector<int>{});
                }
            }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_matmul)

BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f32) {
    for (auto [M, K, N] : {std::tuple<index_t, index_t, index_t>{1, 1, 1}, {7, 33, 5}, {33, 7, 1}, {1, 33, 7}, {64, 64, 64}})
        all_layouts_2d<float>(M, K, N);
}

BOOST_AUTO_TEST_CASE(odd_sizes_all_transposes_f64) {
    for (auto [M, K, N] : {std::tuple<index_t, index_t, index_t>{1, 1, 1}, {7, 33, 5}, {33, 7, 1}, {1, 33, 7}, {64, 64, 64}})
        all_layouts_2d<double>(M, K, N);
}

BOOST_AUTO_TEST_CASE(odd_sizes_bf16) {
    for (auto [M, K, N] : {std::tuple<index_t, index_t, index_t>{1, 1, 1}, {7, 33, 5}, {33, 7, 1}, {64, 64, 64}})
        all_layouts_2d<bf16>(M, K, N);
}

BOOST_AUTO_TEST_CASE(long_dims) {
    run_case<float>(Shape{3, 1025}, Shape{1025, 7}, Shape{3, 7});
    run_case<float>(Shape{2, 7}, Shape{7, 1025}, Shape{2, 1025}, {}, {1, 0});
    run_case<double>(Shape{1025, 7}, Shape{7, 3}, Shape{1025, 3}, {1, 0});
    run_case<bf16>(Shape{3, 1025}, Shape{1025, 7}, Shape{3, 7});
}

BOOST_AUTO_TEST_CASE(padded_rows_are_read_in_place) {
    // lda > K etc.: still oneDNN-readable strided layouts.
    run_case<float>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {}, {}, {}, 3);
    run_case<float>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {1, 0}, {1, 0}, {}, 2);
    run_case<double>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {1, 0}, {}, {1, 0}, 3);
    run_case<bf16>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {}, {1, 0}, {}, 1);
}

BOOST_AUTO_TEST_CASE(reversed_and_broadcast_operands) {
    // Negative strides and stride-0 matrix dims have no BLAS layout: they are copied, still correct.
    auto a = make<float>(Shape{9, 13}, {}, 0, {0});     // rows reversed
    auto b = make<float>(Shape{13, 6}, {}, 0, {1});     // columns reversed
    auto c = make<float>(Shape{9, 6}, {}, 1, {0, 1});   // both reversed, padded
    cpu::matmul<float>(a.cview(), b.cview(), nullptr, Epilogue::none, c.view);
    check_product<float>(a.cview(), b.cview(), nullptr, Epilogue::none, c.view, 1e-6, 2e-6);

    // b is one row broadcast over K (stride 0 along K); a has a stride-0 column.
    auto brow = make<double>(Shape{1, 6});
    StridedView<const double> bb{brow.buf.data(), Shape{13, 6}, Strides{0, 1}};
    auto acol = make<double>(Shape{9, 1});
    StridedView<const double> ab{acol.buf.data(), Shape{9, 13}, Strides{1, 0}};
    auto cd = make<double>(Shape{9, 6});
    cpu::matmul<double>(ab, bb, nullptr, Epilogue::none, cd.view);
    check_product<double>(ab, bb, nullptr, Epilogue::none, cd.view, 1e-12, 1e-13);

    auto brow32 = make<float>(Shape{1, 6});
    StridedView<const float> bb32{brow32.buf.data(), Shape{13, 6}, Strides{0, 1}};
    auto c32 = make<float>(Shape{9, 6});
    cpu::matmul<float>(a.cview(), bb32, nullptr, Epilogue::none, c32.view);
    check_product<float>(a.cview(), bb32, nullptr, Epilogue::none, c32.view, 1e-6, 2e-6);
}

BOOST_AUTO_TEST_CASE(batched_and_broadcast_batch_dims) {
    // (B, M, K) @ (B, K, N)
    run_case<float>(Shape{3, 7, 5}, Shape{3, 5, 9}, Shape{3, 7, 9});
    run_case<double>(Shape{3, 7, 5}, Shape{3, 5, 9}, Shape{3, 7, 9});
    run_case<bf16>(Shape{3, 7, 5}, Shape{3, 5, 9}, Shape{3, 7, 9});
    // rank-2 b shared by every batch, rank-2 a against batched b
    run_case<float>(Shape{4, 7, 5}, Shape{5, 9}, Shape{4, 7, 9});
    run_case<float>(Shape{7, 5}, Shape{4, 5, 9}, Shape{4, 7, 9});
    run_case<double>(Shape{7, 5}, Shape{4, 5, 9}, Shape{4, 7, 9});
    // 4-D, both sides broadcast: (2, 1, M, K) @ (3, K, N) -> (2, 3, M, N)
    run_case<float>(Shape{2, 1, 7, 5}, Shape{3, 5, 9}, Shape{2, 3, 7, 9});
    run_case<double>(Shape{2, 1, 7, 5}, Shape{3, 5, 9}, Shape{2, 3, 7, 9});
    run_case<bf16>(Shape{2, 1, 7, 5}, Shape{3, 5, 9}, Shape{2, 3, 7, 9});
    // attention-like: q (B, H, T, d) @ k^T as strides, batch dims permuted in memory
    run_case<float>(Shape{2, 3, 7, 4}, Shape{2, 3, 4, 7}, Shape{2, 3, 7, 7}, {0, 2, 1, 3}, {0, 3, 1, 2});
    run_case<double>(Shape{2, 3, 7, 4}, Shape{2, 3, 4, 7}, Shape{2, 3, 7, 7}, {0, 2, 1, 3}, {0, 3, 1, 2});
    // output with permuted batch dims and a transposed output
    run_case<float>(Shape{3, 7, 5}, Shape{3, 5, 9}, Shape{3, 7, 9}, {}, {}, {1, 0, 2});
    run_case<float>(Shape{3, 7, 5}, Shape{3, 5, 9}, Shape{3, 7, 9}, {}, {}, {0, 2, 1});
}

BOOST_AUTO_TEST_CASE(stride_zero_batch_broadcast) {
    // b is a single (K, N) matrix viewed as (4, K, N) with batch stride 0 (a broadcast view).
    auto b1 = make<float>(Shape{5, 9});
    StridedView<const float> b{b1.buf.data(), Shape{4, 5, 9}, Strides{0, 9, 1}};
    auto a = make<float>(Shape{4, 7, 5});
    auto c = make<float>(Shape{4, 7, 9});
    cpu::matmul<float>(a.cview(), b, nullptr, Epilogue::none, c.view);
    check_product<float>(a.cview(), b, nullptr, Epilogue::none, c.view, 1e-6, 2e-6);
}

BOOST_AUTO_TEST_CASE(bias_and_epilogues) {
    for (Epilogue ep : {Epilogue::none, Epilogue::relu, Epilogue::gelu_tanh})
        for (bool bias : {false, true}) {
            BOOST_TEST_CONTEXT("epilogue " << static_cast<int>(ep) << " bias " << bias) {
                run_case<float>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {}, {}, {}, 0, bias, ep);
                run_case<float>(Shape{2, 7, 33}, Shape{33, 5}, Shape{2, 7, 5}, {0, 2, 1}, {1, 0}, {}, 0, bias, ep);
                run_case<double>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {1, 0}, {}, {1, 0}, 0, bias, ep);
                run_case<bf16>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {}, {1, 0}, {}, 0, bias, ep);
                run_case<float>(Shape{7, 33}, Shape{33, 5}, Shape{7, 5}, {}, {}, {1, 0}, 0, bias, ep);  // packed c
            }
        }
}

BOOST_AUTO_TEST_CASE(empty_dims) {
    // K = 0: the product is empty, c = epilogue(bias).
    std::vector<float> a, b, bias = {-1.f, 2.f, 0.5f};
    std::vector<float> c(2 * 3, 7.f);
    cpu::matmul<float>({a.data(), Shape{2, 0}, Strides{0, 1}}, {b.data(), Shape{0, 3}, Strides{3, 1}}, bias.data(),
                       Epilogue::relu, {c.data(), Shape{2, 3}, Strides{3, 1}});
    for (int m = 0; m < 2; ++m)
        for (int n = 0; n < 3; ++n) BOOST_TEST(c[static_cast<std::size_t>(m * 3 + n)] == std::max(bias[static_cast<std::size_t>(n)], 0.f));
    std::vector<double> cd(4, 7.0);
    cpu::matmul<double>({nullptr, Shape{2, 0}, Strides{0, 1}}, {nullptr, Shape{0, 2}, Strides{2, 1}}, nullptr,
                        Epilogue::none, {cd.data(), Shape{2, 2}, Strides{2, 1}});
    for (double v : cd) BOOST_TEST(v == 0.0);
    // M = 0: nothing to write, nothing read.
    cpu::matmul<float>({nullptr, Shape{0, 4}, Strides{4, 1}}, {nullptr, Shape{4, 3}, Strides{3, 1}}, nullptr,
                       Epilogue::none, {nullptr, Shape{0, 3}, Strides{3, 1}});
}

BOOST_AUTO_TEST_CASE(shape_errors_name_both_shapes) {
    std::vector<float> buf(1000);
    auto v = [&](Shape s) { return StridedView<const float>{buf.data(), s, contiguous_strides(s)}; };
    auto w = [&](Shape s) { return StridedView<float>{buf.data() + 500, s, contiguous_strides(s)}; };
    auto expect = [](auto&& f, std::vector<std::string> parts) {
        try {
            f();
            BOOST_ERROR("no shape_error thrown");
        } catch (const shape_error& e) {
            const std::string msg = e.what();
            for (const auto& p : parts) BOOST_TEST(msg.find(p) != std::string::npos, "message '" << msg << "' lacks " << p);
        }
    };
    expect([&] { cpu::matmul<float>(v({3, 4}), v({5, 6}), nullptr, Epilogue::none, w({3, 6})); }, {"(3, 4)", "(5, 6)"});
    expect([&] { cpu::matmul<float>(v({2, 3, 4}), v({3, 4, 6}), nullptr, Epilogue::none, w({3, 3, 6})); },
           {"(2, 3, 4)", "(3, 4, 6)"});
    expect([&] { cpu::matmul<float>(v({3, 4}), v({4, 6}), nullptr, Epilogue::none, w({3, 7})); }, {"(3, 7)", "(3, 6)"});
    expect([&] { cpu::matmul<float>(v({4}), v({4, 6}), nullptr, Epilogue::none, w({6})); }, {"(4,)", "(4, 6)"});
    std::vector<double> d(100);
    expect(
        [&] {
            cpu::matmul<double>({d.data(), Shape{3, 4}, Strides{4, 1}}, {d.data(), Shape{5, 2}, Strides{2, 1}}, nullptr,
                                Epilogue::none, {d.data() + 50, Shape{3, 2}, Strides{2, 1}});
        },
        {"(3, 4)", "(5, 2)"});
}

BOOST_AUTO_TEST_SUITE_END()
