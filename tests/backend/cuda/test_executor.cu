// The CUDA executor's kernels against the CPU executor on the same inputs: every element-wise
// path (dense packed, dense misaligned, broadcast rows, strided, empty), every reduction kernel
// (over everything, per row by warp, block or thread) for each reducer, and the same bits on a
// second run. Skipped (exit 77) where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <ward/cuda.cuh>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;

namespace {

using ward_test::max_rel_diff;
using ward_test::on_host;

/// The six-op expression of the benchmark, on any device.
template <class A, class B>
auto six_ops(const A& a, const B& b) {
    return gelu_tanh(a * b + 1.0f) - tanh(a) * 0.5f;
}

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_executor)

BOOST_AUTO_TEST_CASE(dense_packed_path_at_odd_sizes) {
    Generator g(11);
    for (index_t n : {1, 3, 4, 5, 7, 8, 1023, 4097, (1 << 20) + 3}) {
        Tensor<float> a = normal<float>(g, {n}), b = normal<float>(g, {n});
        Tensor<float> want = six_ops(a, b);
        Tensor<float, cuda> got = six_ops(a.to<cuda>(), b.to<cuda>());
        BOOST_TEST(max_rel_diff(on_host(got), want.to_vector()) <= 1e-5, "n = " << n);  // FMAs on the GPU
    }
}

BOOST_AUTO_TEST_CASE(dense_misaligned_path) {
    Generator g(12);
    Tensor<float> a = normal<float>(g, {4099});
    auto da = a.to<cuda>();
    Tensor<float> want = exp(a.slice(0, 1, 4099)) * 3.0f;
    Tensor<float, cuda> got = exp(da.slice(0, 1, 4099)) * 3.0f;  // the operand starts 4 bytes into a pack
    BOOST_TEST(max_rel_diff(on_host(got), want.to_vector()) <= 1e-6);
    auto dst = Tensor<float, cuda>::zeros({4099});
    dst.slice(0, 1, 4099).assign(da.slice(0, 0, 4098) + 1.0f);  // a misaligned destination
    std::vector<float> host = on_host(dst), expect(4099, 0.0f);
    for (index_t i = 1; i < 4099; ++i) expect[std::size_t(i)] = a(i - 1) + 1.0f;
    BOOST_TEST(max_rel_diff(host, expect) == 0.0);
}

BOOST_AUTO_TEST_CASE(broadcast_rows_path) {
    Generator g(13);
    Tensor<float> x = normal<float>(g, {37, 65}), bias = normal<float>(g, {65}), scale = normal<float>(g, {37, 1});
    auto dx = x.to<cuda>(), dbias = bias.to<cuda>(), dscale = scale.to<cuda>();
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(dx + dbias)), Tensor<float>(x + bias).to_vector()) == 0.0);
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(dx * dscale - dbias)), Tensor<float>(x * scale - bias).to_vector()) <= 1e-5);  // the GPU may fuse into an FMA
    // rows of 64: packs along aligned rows, a stride-0 leaf read once per pack
    Tensor<float> x64 = normal<float>(g, {37, 64}), bias64 = normal<float>(g, {64});
    auto dx64 = x64.to<cuda>(), dbias64 = bias64.to<cuda>();
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(dx64 * dscale - dbias64)), Tensor<float>(x64 * scale - bias64).to_vector()) <= 1e-5);
    Tensor<float> rows66 = normal<float>(g, {5, 68});  // rows of 66 in a stride of 68: a tail of 2 per row
    Tensor<float> want66 = rows66.slice(1, 0, 66) * 3.0f;
    Tensor<float, cuda> got66 = Tensor<float, cuda>::zeros({5, 68});
    got66.slice(1, 0, 66).assign(rows66.to<cuda>().slice(1, 0, 66) * 3.0f);
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(got66.slice(1, 0, 66).contiguous())), want66.contiguous().to_vector()) == 0.0);
    // rank 4 with broadcasts on outer axes, rows of 1 to 2000 columns
    for (index_t inner : {1, 31, 2000}) {
        Tensor<float> y = normal<float>(g, {3, 4, 5, inner}), r = normal<float>(g, {4, 1, inner}), c = normal<float>(g, {3, 1, 5, 1});
        Tensor<float> want = y * r + c;
        Tensor<float, cuda> got = y.to<cuda>() * r.to<cuda>() + c.to<cuda>();
        BOOST_TEST(max_rel_diff(on_host(got), want.to_vector()) <= 1e-5, "inner = " << inner);
    }
    Tensor<float> one = normal<float>(g, {1});
    Tensor<float, cuda> spread = one.to<cuda>() + Tensor<float, cuda>::zeros({9});
    BOOST_TEST(max_rel_diff(on_host(spread), std::vector<float>(9, one(0))) == 0.0);
}

BOOST_AUTO_TEST_CASE(strided_path) {
    Generator g(14);
    Tensor<float> x = normal<float>(g, {37, 65}), xt = normal<float>(g, {65, 37}), wide = normal<float>(g, {37, 130});
    auto dx = x.to<cuda>(), dxt = xt.to<cuda>(), dwide = wide.to<cuda>();
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(dxt.transpose() + dx)), Tensor<float>(xt.transpose() + x).to_vector()) == 0.0);
    BOOST_TEST(max_rel_diff(on_host(Tensor<float, cuda>(dwide.slice(1, 0, 130, 2) * 2.0f)),
                            Tensor<float>(wide.slice(1, 0, 130, 2) * 2.0f).to_vector()) == 0.0);
    // a strided destination and a rank-5 permutation
    auto dst = Tensor<float, cuda>::zeros({37, 65});
    dst.transpose().assign(dxt * 0.5f);
    BOOST_TEST(max_rel_diff(on_host(dst), Tensor<float>(xt * 0.5f).transpose().contiguous().to_vector()) == 0.0);
    Tensor<float> p = normal<float>(g, {2, 3, 5, 7, 11});
    Tensor<float> want = exp(p.permute({4, 2, 0, 3, 1}));
    Tensor<float, cuda> got = exp(p.to<cuda>().permute({4, 2, 0, 3, 1}));
    BOOST_TEST(max_rel_diff(on_host(got), want.to_vector()) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(empty_and_single_element_passes) {
    auto before = stats::elementwise_passes.load();
    Tensor<float, cuda> e = Tensor<float, cuda>::zeros({0, 5}) * 2.0f;
    BOOST_TEST(e.numel() == 0);
    BOOST_TEST(stats::elementwise_passes.load() > before);
    BOOST_TEST(sum(Tensor<float, cuda>::zeros({0})).item() == 0.0f);
    Tensor<float, cuda> rows = sum(Tensor<float, cuda>::zeros({3, 0}), 1);
    BOOST_TEST(on_host(rows) == std::vector<float>(3, 0.0f), boost::test_tools::per_element());
    BOOST_TEST(sum(Tensor<float, cuda>::zeros({0, 4}), 1).numel() == 0);
    Tensor<float, cuda> s = Tensor<float, cuda>::full({1}, 2.5f) * 2.0f;
    BOOST_TEST(s.item() == 5.0f);
}

BOOST_AUTO_TEST_CASE(bf16_destinations_pack_eight) {
    Generator g(15);
    Tensor<float> a = normal<float>(g, {1027});
    Tensor<bf16> want = cast<bf16>(a * 2.0f);
    Tensor<bf16, cuda> got = cast<bf16>(a.to<cuda>() * 2.0f);
    std::vector<bf16> w = want.to_vector(), h = got.to<cpu>().to_vector();
    bool same = w.size() == h.size();
    for (std::size_t i = 0; same && i < w.size(); ++i) same = w[i].bits == h[i].bits;
    BOOST_TEST(same);
}

BOOST_AUTO_TEST_CASE(whole_tensor_reductions_match_cpu) {
    Generator g(16);
    for (index_t n : {1, 17, 16384, 16385, (1 << 20) + 7}) {
        Tensor<float> a = normal<float>(g, {n});
        auto da = a.to<cuda>();
        const std::string at = "n = " + std::to_string(n);
        BOOST_TEST(std::abs(sum(da).item() - sum(a).item()) <= 1e-6 * (1 + std::abs(sum(a).item())), at);
        BOOST_TEST(std::abs(mean(da).item() - mean(a).item()) <= 1e-6, at);
        BOOST_TEST(max(da).item() == max(a).item(), at);
        BOOST_TEST(min(da).item() == min(a).item(), at);
        BOOST_TEST(argmax(da).item() == argmax(a).item(), at);
        BOOST_TEST(argmin(da).item() == argmin(a).item(), at);
        BOOST_TEST(std::abs(logsumexp(da).item() - logsumexp(a).item()) <= 1e-5 * (1 + std::abs(logsumexp(a).item())), at);
        BOOST_TEST(std::abs(sum(exp(da) * 0.5f).item() - sum(exp(a) * 0.5f).item()) <= 1e-5 * sum(exp(a)).item(), at);
    }
    // misaligned and strided operands
    Tensor<float> m = normal<float>(g, {300, 257});
    auto dm = m.to<cuda>();
    BOOST_TEST(std::abs(sum(dm.reshape({300 * 257}).slice(0, 1, 300 * 257)).item() -
                        sum(m.reshape({300 * 257}).slice(0, 1, 300 * 257)).item()) <= 1e-3);
    BOOST_TEST(std::abs(sum(dm.transpose() * 2.0f).item() - sum(m.transpose() * 2.0f).item()) <= 1e-3);
    BOOST_TEST(argmax(dm.transpose()).item() == argmax(m.transpose()).item());
    BOOST_TEST(max(dm.slice(1, 3, 200)).item() == max(m.slice(1, 3, 200)).item());
}

BOOST_AUTO_TEST_CASE(row_reductions_match_cpu) {
    Generator g(17);
    struct Case {
        Shape shape;
        int axis;
    };
    // warp per row, block per row, thread per row, a middle axis, rows of one element
    for (Case c : {Case{{300, 100}, 1}, Case{{300, 100}, 0}, Case{{40, 4096}, 1}, Case{{40, 4096}, 0}, Case{{6, 70, 9}, 1},
                   Case{{5, 1}, 1}, Case{{3, 3000}, 0}}) {
        Tensor<float> a = normal<float>(g, c.shape);
        auto da = a.to<cuda>();
        const std::string at = c.shape.str() + " axis " + std::to_string(c.axis);
        BOOST_TEST(max_rel_diff(on_host(sum(da, c.axis)), sum(a, c.axis).to_vector()) <= 1e-6, at);
        BOOST_TEST(max_rel_diff(on_host(mean(da, c.axis)), mean(a, c.axis).to_vector()) <= 1e-6, at);
        BOOST_TEST(max_rel_diff(on_host(max(da, c.axis)), max(a, c.axis).to_vector()) == 0.0, at);
        BOOST_TEST(max_rel_diff(on_host(min(da * 2.0f, c.axis)), min(a * 2.0f, c.axis).to_vector()) == 0.0, at);
        BOOST_TEST(on_host(argmax(da, c.axis)) == argmax(a, c.axis).to_vector(), at);
        BOOST_TEST(on_host(argmin(da, c.axis)) == argmin(a, c.axis).to_vector(), at);
        BOOST_TEST(max_rel_diff(on_host(logsumexp(da, c.axis)), logsumexp(a, c.axis).to_vector()) <= 1e-5, at);
    }
    // packed rows with a tail: row stride 1032 (a multiple of the pack), rows of 1030 (a block
    // each) and 102 (a warp each)
    Tensor<float> w = normal<float>(g, {8, 1032});
    auto dw = w.to<cuda>();
    for (index_t len : {1030, 102}) {
        auto hw = w.slice(1, 0, len);
        auto dv = dw.slice(1, 0, len);
        const std::string at = "rows of " + std::to_string(len);
        BOOST_TEST(max_rel_diff(on_host(sum(dv * 2.0f, 1)), sum(hw * 2.0f, 1).to_vector()) <= 1e-6, at);
        BOOST_TEST(on_host(argmax(dv, 1)) == argmax(hw, 1).to_vector(), at);
        BOOST_TEST(max_rel_diff(on_host(logsumexp(dv, 1)), logsumexp(hw, 1).to_vector()) <= 1e-5, at);
    }
}

BOOST_AUTO_TEST_CASE(nan_and_ties_follow_the_cpu) {
    std::vector<float> v(5000, 1.0f);
    v[1234] = 3.0f;
    v[4000] = 3.0f;  // a tie: the first index wins
    Tensor<float> a = Tensor<float>::from_vector(v, {5000});
    BOOST_TEST(argmax(a.to<cuda>()).item() == 1234);
    v[3000] = NAN;
    Tensor<float> b = Tensor<float>::from_vector(v, {5000});
    BOOST_TEST(std::isnan(max(b.to<cuda>()).item()));
    BOOST_TEST(argmax(b.to<cuda>()).item() == argmax(b).item());
}

BOOST_AUTO_TEST_CASE(reductions_repeat_bit_for_bit) {
    Generator g(18);
    Tensor<float> a = normal<float>(g, {(1 << 22) + 5});
    auto da = a.to<cuda>();
    auto bits = [](float f) {
        std::uint32_t u;
        std::memcpy(&u, &f, sizeof u);
        return u;
    };
    BOOST_TEST(bits(sum(da).item()) == bits(sum(da).item()));
    BOOST_TEST(bits(logsumexp(da * 3.0f).item()) == bits(logsumexp(da * 3.0f).item()));
    auto m = da.reshape({1024, -1});
    auto r1 = on_host(sum(m, 1)), r2 = on_host(sum(m, 1));
    BOOST_TEST(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)) == 0);
    auto c1 = on_host(logsumexp(m, 0)), c2 = on_host(logsumexp(m, 0));
    BOOST_TEST(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
