// Backend<cuda>'s matmul (cuBLASLt) against an f64 reference computed on the CPU (Eigen, through
// Tensor<double>'s matmul) from the same rounded inputs: f32, TF32 on and off, bf16, with bias and
// ReLU/GELU epilogues, two batch axes, broadcast batch axes, batch axes that do not collapse to one
// stride, transposed operands, a column-major output, odd and empty sizes. Skipped (exit 77) where no
// GPU exists.
//
// Each element is checked against the error bound of the arithmetic, not a fixed tolerance:
//   |got - want| <= 1.2 (u_in + (K + 2) 2^-24) sum_k |a_ik| |b_kj| + u_out |want| + e (1 + |want|)
// with u_in the rounding of the inputs before the products (0 for f32 and bf16, whose inputs the
// tensor cores take exactly; 2^-9 for TF32: 10 explicit mantissa bits, truncation of both operands
// at worst, 2 * 2^-10), (K + 2) 2^-24 the f32 accumulation (the classic gamma_K bound), u_out the
// roundings after the sum (the bias add and the epilogue in f32: 2^-22, four f32 ulps of the result;
// bf16's output rounding: 2^-8, one bf16 ulp), 1.2 the largest
// slope of GELU, and e = 1e-5 for cuBLASLt's GELU (its tanh need not be libm's).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <ward/cuda.cuh>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;

namespace {

using ward_test::on_host;

template <class T>
Tensor<T> random(Generator& g, const Shape& s) {
    std::vector<float> v = Tensor<float>(normal<float>(g, s)).to_vector();
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = element_cast<T>(v[i]);
    return Tensor<T>::from_vector(out, s);
}

template <class T>
Tensor<double> as_f64(const Tensor<T>& x) {
    return Tensor<double>(cast<double>(x));
}

struct Precision {
    double u_in, u_out, e;
};
const Precision f32_precision{0, 1.0 / 4194304, 0}, tf32_precision{1.0 / 512, 1.0 / 4194304, 0}, bf16_precision{0, 1.0 / 256, 0};

/// Checks got (computed on the GPU from a and b, CPU copies with the same views) against the f64
/// product; counts and reports the elements outside the bound.
template <class T>
void check_product(const Tensor<T, cuda>& got, const Tensor<T>& a, const Tensor<T>& b, const Tensor<T>* bias,
                   Activation act, Precision p, const std::string& what) {
    const Tensor<double> a64 = as_f64(a), b64 = as_f64(b);
    const Tensor<double> want =
        matmul(a64, b64, bias ? as_f64(*bias) : Tensor<double>::zeros(Shape{b.size(-1)}), act);  // Eigen, then bias and act
    const Tensor<double> absum = matmul(Tensor<double>(ward::abs(a64)), Tensor<double>(ward::abs(b64)));
    BOOST_TEST_REQUIRE((got.shape() == want.shape()), what << ": shape " << got.shape().str() << " vs " << want.shape().str());
    const std::vector<T> g = on_host(got);
    const std::vector<double> w = want.contiguous().to_vector(), s = absum.contiguous().to_vector();
    const double K = double(a.size(-1));
    const double e = act == Activation::gelu_tanh ? 1e-5 : 0.0;
    std::size_t bad = 0, worst = 0;
    double worst_ratio = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const double gi = ward_test::as_double(g[i]);
        const double bound = 1.2 * (p.u_in + (K + 2) * std::ldexp(1.0, -24)) * s[i] + p.u_out * std::abs(w[i]) +
                             e * (1 + std::abs(w[i])) + 1e-300;
        const double ratio = std::abs(gi - w[i]) / bound;
        if (!(ratio <= 1)) ++bad;
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    BOOST_TEST(bad == 0u, what << ": " << bad << " of " << w.size() << " elements outside the bound; worst at " << worst
                               << " (error / bound = " << worst_ratio << ")");
}

/// The same product without bias (the overload above needs a bias tensor to name).
template <class T>
void check_product(const Tensor<T, cuda>& got, const Tensor<T>& a, const Tensor<T>& b, Activation act, Precision p,
                   const std::string& what) {
    check_product<T>(got, a, b, nullptr, act, p, what);
}

struct Size {
    index_t M, K, N;
};
const Size sizes[] = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {129, 257, 63}, {1, 300, 1}, {64, 1, 48}};

template <class T>
void plain_products(Precision p, const char* label) {
    Generator g(11);
    for (Size z : sizes) {
        Tensor<T> a = random<T>(g, {z.M, z.K}), b = random<T>(g, {z.K, z.N}), bias = random<T>(g, {z.N});
        const std::string at = std::string(label) + " " + std::to_string(z.M) + "x" + std::to_string(z.K) + "x" +
                               std::to_string(z.N);
        auto da = a.template to<cuda>();
        auto db = b.template to<cuda>();
        auto dbias = bias.template to<cuda>();
        check_product<T>(matmul(da, db), a, b, Activation::none, p, at);
        check_product<T>(matmul(da, db, dbias), a, b, &bias, Activation::none, p, at + " +bias");
        check_product<T>(matmul(da, db, dbias, Activation::relu), a, b, &bias, Activation::relu, p, at + " +bias relu");
        check_product<T>(matmul(da, db, dbias, Activation::gelu_tanh), a, b, &bias, Activation::gelu_tanh, p, at + " +bias gelu");
        check_product<T>(matmul(da, db, Tensor<T, cuda>::zeros({z.N}), Activation::gelu_tanh), a, b, Activation::gelu_tanh,
                         p, at + " gelu, zero bias");
    }
}

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_matmul)

BOOST_AUTO_TEST_CASE(f32_products_with_epilogues_at_odd_sizes) {
    BOOST_TEST(!backend::cuda::allow_tf32());  // off by default, as in PyTorch
    plain_products<float>(f32_precision, "f32");
}

BOOST_AUTO_TEST_CASE(tf32_is_opt_in_and_within_its_bound) {
    backend::cuda::set_allow_tf32(true);
    BOOST_TEST(backend::cuda::allow_tf32());
    plain_products<float>(tf32_precision, "tf32");
    // Large enough for the tensor cores: the bound of TF32, and an error TF32 shows and f32 does not.
    Generator g(12);
    Tensor<float> a = random<float>(g, {256, 1024}), b = random<float>(g, {1024, 192});
    Tensor<float, cuda> tf = matmul(a.to<cuda>(), b.to<cuda>());
    check_product<float>(tf, a, b, Activation::none, tf32_precision, "tf32 256x1024x192");
    backend::cuda::set_allow_tf32(false);
    Tensor<float, cuda> full = matmul(a.to<cuda>(), b.to<cuda>());
    check_product<float>(full, a, b, Activation::none, f32_precision, "f32 after tf32 off, 256x1024x192");
    BOOST_TEST_MESSAGE("tf32 vs f32 max rel diff " << ward_test::max_rel_diff(on_host(tf), on_host(full)));
}

BOOST_AUTO_TEST_CASE(bf16_products_with_epilogues_at_odd_sizes) { plain_products<bf16>(bf16_precision, "bf16"); }

BOOST_AUTO_TEST_CASE(bf16_agrees_with_the_cpu_bf16_matmul) {
    Generator g(13);
    Tensor<bf16> a = random<bf16>(g, {2, 37, 70}), b = random<bf16>(g, {70, 29}), bias = random<bf16>(g, {29});
    Tensor<bf16> cpu = matmul(a, b, bias, Activation::gelu_tanh);
    Tensor<bf16, cuda> gpu = matmul(a.to<cuda>(), b.to<cuda>(), bias.to<cuda>(), Activation::gelu_tanh);
    // Both round an f32 sum to bf16: at most a bf16 ulp or two apart (2^-7 relative).
    BOOST_TEST(ward_test::max_rel_diff(on_host(gpu), on_host(cpu)) <= std::ldexp(1.0, -7));
}

BOOST_AUTO_TEST_CASE(transposed_operands_and_a_column_major_output) {
    Generator g(14);
    for (Size z : {Size{7, 13, 5}, Size{33, 65, 17}}) {
        const std::string at = std::to_string(z.M) + "x" + std::to_string(z.K) + "x" + std::to_string(z.N);
        Tensor<float> at_base = random<float>(g, {z.K, z.M}), bt_base = random<float>(g, {z.N, z.K});
        Tensor<float> a = at_base.transpose(), b = bt_base.transpose();  // unit stride on the row axis
        Tensor<float, cuda> da = at_base.to<cuda>().transpose(), db = bt_base.to<cuda>().transpose();
        Tensor<float> a_rows = a.contiguous(), b_rows = b.contiguous();
        check_product<float>(matmul(da, b_rows.to<cuda>()), a, b_rows, Activation::none, f32_precision, at + " transposed a");
        check_product<float>(matmul(a_rows.to<cuda>(), db), a_rows, b, Activation::none, f32_precision, at + " transposed b");
        check_product<float>(matmul(da, db), a, b, Activation::none, f32_precision, at + " both transposed");
        // A column-major output, through the backend directly (the front end allocates row-major).
        Tensor<float, cuda> ct = Tensor<float, cuda>::empty({z.N, z.M});
        Backend<cuda>::matmul<float>(da.cview(), db.cview(), nullptr, Activation::relu, ct.transpose().view());
        check_product<float>(ct.transpose(), a, b, Activation::relu, f32_precision, at + " column-major c");
        // ... which with a bias is refused, by name.
        Tensor<float, cuda> bias = Tensor<float, cuda>::zeros({z.N});
        BOOST_CHECK_THROW(Backend<cuda>::matmul<float>(da.cview(), db.cview(), bias.data(), Activation::none, ct.transpose().view()),
                          shape_error);
    }
}

BOOST_AUTO_TEST_CASE(two_batch_axes_and_broadcast_batches) {
    Generator g(15);
    for (bool half : {false, true}) {
        auto run = [&](auto tag) {
            using T = decltype(tag);
            const Precision p = half ? bf16_precision : f32_precision;
            const std::string at = half ? "bf16 " : "f32 ";
            // (2, 3) batch, dense: collapses to one strided batch of 6.
            Tensor<T> a = random<T>(g, {2, 3, 9, 11}), b = random<T>(g, {2, 3, 11, 7}), bias = random<T>(g, {7});
            check_product<T>(matmul(a.template to<cuda>(), b.template to<cuda>(), bias.template to<cuda>(), Activation::relu),
                             a, b, &bias, Activation::relu, p, at + "(2,3) @ (2,3)");
            // b of rank 2 broadcast over both batch axes (stride 0 after lifting).
            Tensor<T> b2 = random<T>(g, {11, 7});
            check_product<T>(matmul(a.template to<cuda>(), b2.template to<cuda>()), a, b2, Activation::none, p, at + "(2,3) @ ()");
            // (2, 1) @ (1, 3): each operand broadcasts on a different axis (a host loop over the outer one).
            Tensor<T> a3 = random<T>(g, {2, 1, 5, 11}), b3 = random<T>(g, {1, 3, 11, 6});
            check_product<T>(matmul(a3.template to<cuda>(), b3.template to<cuda>()), a3, b3, Activation::none, p, at + "(2,1) @ (1,3)");
            // Three batch axes, one broadcast through expand (stride 0, extent 4).
            Tensor<T> a4 = random<T>(g, {2, 1, 3, 4, 5}), b4 = random<T>(g, {2, 1, 3, 5, 3});
            Tensor<T> a4e = a4.expand({2, 4, 3, 4, 5}), b4e = b4.expand({2, 4, 3, 5, 3});
            check_product<T>(matmul(a4.template to<cuda>().expand({2, 4, 3, 4, 5}), b4.template to<cuda>().expand({2, 4, 3, 5, 3})),
                             a4e, b4e, Activation::none, p, at + "expanded (2,4,3)");
            // Batch axes that do not collapse: every other matrix of the outer axis.
            Tensor<T> a5 = random<T>(g, {4, 3, 6, 8}), b5 = random<T>(g, {2, 3, 8, 5});
            check_product<T>(matmul(a5.template to<cuda>().slice(0, 0, 4, 2), b5.template to<cuda>()), a5.slice(0, 0, 4, 2), b5,
                             Activation::none, p, at + "sliced batch");
        };
        if (half) run(bf16{});
        else run(0.0f);
    }
}

BOOST_AUTO_TEST_CASE(a_bias_view_at_an_unaligned_offset) {
    // cuBLASLt reads biases in 16-byte packs; a slice starting one element in is copied first.
    Generator g(16);
    Tensor<float> a = random<float>(g, {9, 21}), b = random<float>(g, {21, 19}), wide = random<float>(g, {20});
    Tensor<float> bias = wide.slice(0, 1, 20);
    check_product<float>(matmul(a.to<cuda>(), b.to<cuda>(), wide.to<cuda>().slice(0, 1, 20), Activation::gelu_tanh), a, b,
                         &bias, Activation::gelu_tanh, f32_precision, "f32 bias at offset 1");
    Tensor<bf16> ah = random<bf16>(g, {9, 21}), bh = random<bf16>(g, {21, 19}), wideh = random<bf16>(g, {22});
    Tensor<bf16> biash = wideh.slice(0, 3, 22);
    check_product<bf16>(matmul(ah.to<cuda>(), bh.to<cuda>(), wideh.to<cuda>().slice(0, 3, 22), Activation::relu), ah, bh,
                        &biash, Activation::relu, bf16_precision, "bf16 bias at offset 3");
}

BOOST_AUTO_TEST_CASE(empty_products) {
    // M or N zero: an empty result; K zero: c = epilogue(bias), as on the CPU.
    Tensor<float, cuda> a0 = Tensor<float, cuda>::empty({0, 5}), b = Tensor<float, cuda>::zeros({5, 3});
    BOOST_TEST(matmul(a0, b).numel() == 0);
    BOOST_TEST(matmul(Tensor<float, cuda>::zeros({2, 0, 4, 5}), b).numel() == 0);
    Tensor<float> bias = Tensor<float>::from_vector({-1.0f, 0.5f, 2.0f}, {3});
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu_tanh}) {
        Tensor<float> want = matmul(Tensor<float>::empty({2, 4, 0}), Tensor<float>::empty({0, 3}), bias, act);
        Tensor<float, cuda> got =
            matmul(Tensor<float, cuda>::empty({2, 4, 0}), Tensor<float, cuda>::empty({0, 3}), bias.to<cuda>(), act);
        BOOST_TEST(ward_test::max_rel_diff(on_host(got), on_host(want)) <= 1e-6);
    }
    Tensor<bf16, cuda> z = matmul(Tensor<bf16, cuda>::empty({3, 0}), Tensor<bf16, cuda>::empty({0, 2}));
    for (bf16 v : on_host(z)) BOOST_TEST(float(v) == 0.0f);
}

BOOST_AUTO_TEST_CASE(layouts_without_a_unit_stride_are_refused_by_name) {
    Tensor<float, cuda> base = Tensor<float, cuda>::zeros({8, 10});
    Tensor<float, cuda> strided = base.slice(0, 0, 8, 2).slice(1, 0, 10, 2);  // (4, 5), strides (20, 2)
    Tensor<float, cuda> b = Tensor<float, cuda>::zeros({5, 3});
    try {
        (void)matmul(strided, b);
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()).find("has no unit stride") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
