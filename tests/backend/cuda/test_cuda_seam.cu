// The CUDA seam end to end: device memory and copies, a fused element-wise expression and a
// reduction evaluated by kernels, and cuBLASLt matmul with a bias + GELU epilogue, each checked
// against the CPU backend on the same inputs. Skipped (exit 77) where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <ward/cuda.cuh>

#include "require_gpu.hpp"

using namespace ward;

namespace {
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
    return a.size() == b.size() ? m : INFINITY;
}
}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_seam)

BOOST_AUTO_TEST_CASE(round_trip_copies) {
    Generator g(3);
    Tensor<float> host = normal<float>(g, {37, 5});
    Tensor<float, cuda> dev = host.to<cuda>();
    BOOST_TEST(dev.to<cpu>().to_vector() == host.to_vector(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fused_expression_matches_cpu) {
    Generator g(4);
    Tensor<float> a = normal<float>(g, {1025, 33}), b = normal<float>(g, {33});
    Tensor<float> want = gelu_tanh(a * b + 1.0f) - tanh(a.transpose().transpose()) * 0.5f;
    auto da = a.to<cuda>(), db = b.to<cuda>();
    auto before = stats::elementwise_passes.load();
    Tensor<float, cuda> got = gelu_tanh(da * db + 1.0f) - tanh(da.transpose().transpose()) * 0.5f;
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);
    BOOST_TEST(max_abs_diff(got.to<cpu>().to_vector(), want.to_vector()) <= 1e-5);
    // a strided (transposed) destination
    Tensor<float, cuda> t = Tensor<float, cuda>::zeros({33, 1025});
    t.transpose().assign(da * 2.0f);
    Tensor<float> t_want = Tensor<float>(a * 2.0f).transpose().contiguous();
    BOOST_TEST(max_abs_diff(t.to<cpu>().to_vector(), t_want.to_vector()) == 0.0);
}

BOOST_AUTO_TEST_CASE(reductions_match_cpu) {
    Generator g(5);
    Tensor<float> a = normal<float>(g, {67, 129});
    auto da = a.to<cuda>();
    BOOST_TEST(max_abs_diff(sum(da, 1).to<cpu>().to_vector(), sum(a, 1).to_vector()) <= 1e-4);
    BOOST_TEST(max_abs_diff(max(da, 0).to<cpu>().to_vector(), max(a, 0).to_vector()) == 0.0);
    BOOST_TEST(argmax(da, 1).to<cpu>().to_vector() == argmax(a, 1).to_vector(), boost::test_tools::per_element());
    BOOST_TEST(std::abs(sum(exp(da)).item() - sum(exp(a)).item()) <= 1e-2);
    BOOST_TEST(std::abs(logsumexp(da).item() - logsumexp(a).item()) <= 1e-4);
}

BOOST_AUTO_TEST_CASE(cublaslt_matmul_with_bias_gelu) {
    Generator g(6);
    const index_t M = 65, K = 33, N = 17;
    Tensor<float> a = normal<float>(g, {M, K}), b = normal<float>(g, {K, N}), bias = normal<float>(g, {N});
    // CPU reference: naive loops in double
    std::vector<float> want(static_cast<std::size_t>(M * N));
    for (index_t i = 0; i < M; ++i)
        for (index_t j = 0; j < N; ++j) {
            double s = bias(j);
            for (index_t k = 0; k < K; ++k) s += double(a(i, k)) * double(b(k, j));
            want[static_cast<std::size_t>(i * N + j)] = float(0.5 * s * (1 + std::tanh(0.7978845608028654 * (s + 0.044715 * s * s * s))));
        }
    auto da = a.to<cuda>(), db = b.to<cuda>(), dbias = bias.to<cuda>();
    auto dc = Tensor<float, cuda>::empty({M, N});
    backend::cuda::matmul(da.cview(), db.cview(), dbias.data(), backend::cuda::Epilogue::gelu_tanh, dc.view());
    BOOST_TEST(max_abs_diff(dc.to<cpu>().to_vector(), want) <= 2e-3);
    // a transposed operand passed as strides
    auto at = a.transpose().contiguous().to<cuda>().transpose();  // (M, K) view with unit row stride
    auto dc2 = Tensor<float, cuda>::empty({M, N});
    backend::cuda::matmul(at.cview(), db.cview(), dbias.data(), backend::cuda::Epilogue::gelu_tanh, dc2.view());
    BOOST_TEST(max_abs_diff(dc2.to<cpu>().to_vector(), want) <= 2e-3);
}

BOOST_AUTO_TEST_CASE(tensor_matmul_dispatches_to_cublaslt) {
    Generator g(7);
    Tensor<float> a = normal<float>(g, {3, 20, 12}), b = normal<float>(g, {3, 12, 9}), bias = normal<float>(g, {9});
    Tensor<float> want = matmul(a, b, bias, Activation::relu);  // oneDNN on the CPU
    Tensor<float, cuda> got = matmul(a.to<cuda>(), b.to<cuda>(), bias.to<cuda>(), Activation::relu);
    BOOST_TEST((got.shape() == want.shape()));
    BOOST_TEST(max_abs_diff(got.to<cpu>().to_vector(), want.to_vector()) <= 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()
