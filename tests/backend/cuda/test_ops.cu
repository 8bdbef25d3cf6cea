// Backend<cuda>'s heavy ops (softmax, log-softmax, layer norm, RMS norm, embedding gather and
// scatter-add, concat, and the fused norm backward and cross-entropy rows) against Backend<cpu> on
// the same inputs: rows of 1, 31, 1025 and 4097 columns (both the warp-per-row and block-per-row
// kernels), empty tensors, strided inputs, bf16, ignored and out-of-range ids. The fused kernels in
// bf16 against the CPU's f32 kernels on the same bf16-rounded inputs. Skipped (exit 77) where no GPU
// exists.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include <ward/cuda.cuh>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;

namespace {

using ward_test::max_rel_diff;
using ward_test::as_read;
using ward_test::gpu_as;
using ward_test::on_host;
using ward_test::widened;

template <class T>
Tensor<T> random(Generator& g, const Shape& s) {
    std::vector<float> v = Tensor<float>(normal<float>(g, s)).to_vector();
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = element_cast<T>(v[i] * 3.0f);
    return Tensor<T>::from_vector(out, s);
}

const index_t column_counts[] = {1, 31, 1025, 4097};
const index_t row_counts[] = {1, 7};

/// What rounding a result to E adds to the f32 tolerance: 2^-9 of |want| for bf16 (8 bits of
/// mantissa, round to nearest), nothing for f32.
template <class E>
constexpr double rounding_of = std::is_same_v<E, bf16> ? 1.0 / 512 : 0.0;

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_ops)

BOOST_AUTO_TEST_CASE(softmax_and_log_softmax_match_the_cpu) {
    Generator g(3);
    for (index_t rows : row_counts)
        for (index_t D : column_counts) {
            Tensor<float> x = random<float>(g, {rows, D});
            Tensor<float, cuda> xd = x.to<cuda>();
            BOOST_TEST(max_rel_diff(on_host(softmax(xd)), on_host(softmax(x))) <= 1e-5, "rows " << rows << " D " << D);
            BOOST_TEST(max_rel_diff(on_host(log_softmax(xd)), on_host(log_softmax(x))) <= 1e-5,
                       "rows " << rows << " D " << D);
        }
}

BOOST_AUTO_TEST_CASE(softmax_on_strided_rows_and_columns) {
    Generator g(4);
    for (index_t D : column_counts) {
        // (D, 6) permuted to (6, D): rows of stride 1, columns of stride 6; then every other column.
        Tensor<float> base = random<float>(g, {D, 6});
        Tensor<float> x = base.permute({1, 0});
        Tensor<float, cuda> xd = base.to<cuda>().permute({1, 0});
        BOOST_TEST(max_rel_diff(on_host(softmax(xd)), on_host(softmax(x))) <= 1e-5, "permuted D " << D);
        Tensor<float> wide = random<float>(g, {3, 2 * D});
        BOOST_TEST(max_rel_diff(on_host(log_softmax(wide.to<cuda>().slice(1, 0, 2 * D, 2))),
                                on_host(log_softmax(wide.slice(1, 0, 2 * D, 2)))) <= 1e-5,
                   "column step 2, D " << D);
    }
}

BOOST_AUTO_TEST_CASE(softmax_of_bf16_and_of_nothing) {
    Generator g(5);
    Tensor<bf16> x = random<bf16>(g, {5, 1025});
    BOOST_TEST(max_rel_diff(on_host(softmax(x.to<cuda>())), on_host(softmax(x))) <= 1e-2);
    Tensor<float, cuda> empty = Tensor<float, cuda>::empty(Shape{0, 17});
    BOOST_TEST(softmax(empty).numel() == 0);
    BOOST_TEST(log_softmax(Tensor<float, cuda>::empty(Shape{4, 0})).numel() == 0);
}

BOOST_AUTO_TEST_CASE(softmax_of_a_row_of_minus_infinity_is_nan_as_on_the_cpu) {
    Tensor<float> x = Tensor<float>::full(Shape{2, 40}, -INFINITY);
    BOOST_TEST(std::isnan(max_rel_diff(on_host(softmax(x.to<cuda>())), std::vector<float>(80, 0.0f))));
    BOOST_TEST(max_rel_diff(on_host(softmax(x.to<cuda>())), on_host(softmax(x))) == 0);  // NaN where the CPU has NaN
}

BOOST_AUTO_TEST_CASE(layer_norm_and_rms_norm_match_the_cpu_with_their_statistics) {
    Generator g(6);
    for (index_t rows : row_counts)
        for (index_t D : column_counts) {
            Tensor<float> x = random<float>(g, {rows, D}), gamma = random<float>(g, {D}), beta = random<float>(g, {D});
            NormStats<float, cpu> sc;
            NormStats<float, cuda> sg;
            Tensor<float> want = layer_norm(x, gamma, beta, 1e-5, &sc);
            Tensor<float, cuda> got = layer_norm(x.to<cuda>(), gamma.to<cuda>(), beta.to<cuda>(), 1e-5, &sg);
            BOOST_TEST(max_rel_diff(on_host(got), on_host(want)) <= 1e-4, "layer_norm rows " << rows << " D " << D);
            BOOST_TEST(max_rel_diff(on_host(sg.mean), on_host(sc.mean)) <= 1e-5, "mean rows " << rows << " D " << D);
            BOOST_TEST(max_rel_diff(on_host(sg.rstd), on_host(sc.rstd)) <= 1e-4, "rstd rows " << rows << " D " << D);

            NormStats<float, cpu> rc;
            NormStats<float, cuda> rg;
            Tensor<float> rwant = rms_norm(x, gamma, 1e-6, &rc);
            Tensor<float, cuda> rgot = rms_norm(x.to<cuda>(), gamma.to<cuda>(), 1e-6, &rg);
            BOOST_TEST(max_rel_diff(on_host(rgot), on_host(rwant)) <= 1e-4, "rms_norm rows " << rows << " D " << D);
            BOOST_TEST(max_rel_diff(on_host(rg.rstd), on_host(rc.rstd)) <= 1e-4, "rms rstd rows " << rows << " D " << D);
        }
}

BOOST_AUTO_TEST_CASE(norms_without_affine_on_strided_input_in_bf16_and_empty) {
    Generator g(7);
    for (index_t D : column_counts) {
        Tensor<float> base = random<float>(g, {D, 5});
        Tensor<float> x = base.permute({1, 0});
        Tensor<float, cuda> xd = base.to<cuda>().permute({1, 0});
        BOOST_TEST(max_rel_diff(on_host(layer_norm(xd, Tensor<float, cuda>(), Tensor<float, cuda>())),
                                on_host(layer_norm(x, Tensor<float>(), Tensor<float>()))) <= 1e-4,
                   "permuted D " << D);
        BOOST_TEST(max_rel_diff(on_host(rms_norm(xd, Tensor<float, cuda>())), on_host(rms_norm(x, Tensor<float>()))) <= 1e-4,
                   "permuted D " << D);
    }
    Tensor<bf16> xb = random<bf16>(g, {3, 4097}), gb = random<bf16>(g, {4097});
    BOOST_TEST(max_rel_diff(on_host(rms_norm(xb.to<cuda>(), gb.to<cuda>())), on_host(rms_norm(xb, gb))) <= 2e-2);
    BOOST_TEST(max_rel_diff(on_host(layer_norm(xb.to<cuda>(), gb.to<cuda>(), gb.to<cuda>())),
                            on_host(layer_norm(xb, gb, gb))) <= 2e-2);
    NormStats<float, cuda> s;
    BOOST_TEST(layer_norm(Tensor<float, cuda>::empty(Shape{0, 8}), Tensor<float, cuda>(), Tensor<float, cuda>(), 1e-5, &s)
                   .numel() == 0);
}

BOOST_AUTO_TEST_CASE(embedding_gather_matches_the_cpu) {
    Generator g(8);
    for (index_t D : column_counts) {
        const index_t V = 37;
        Tensor<float> table = random<float>(g, {V, D});
        std::vector<std::int64_t> idv = {0, 36, 5, 5, 12, 0, 35};
        Tensor<std::int64_t> ids = Tensor<std::int64_t>::from_vector(idv, Shape{7});
        BOOST_TEST(max_rel_diff(on_host(embedding(table.to<cuda>(), ids.to<cuda>())), on_host(embedding(table, ids))) == 0,
                   "D " << D);
        // A strided table: every other column of a wider one.
        Tensor<float> wide = random<float>(g, {V, 2 * D});
        BOOST_TEST(max_rel_diff(on_host(embedding(wide.to<cuda>().slice(1, 0, 2 * D, 2), ids.to<cuda>())),
                                on_host(embedding(wide.slice(1, 0, 2 * D, 2), ids))) == 0,
                   "strided D " << D);
    }
    Tensor<float> table = random<float>(g, {4, 3});
    BOOST_TEST(embedding(table.to<cuda>(), Tensor<std::int64_t, cuda>::empty(Shape{0})).numel() == 0);
}

BOOST_AUTO_TEST_CASE(out_of_range_ids_throw_and_write_nothing) {
    Generator g(9);
    Tensor<float, cuda> table = random<float>(g, {10, 31}).to<cuda>();
    for (std::int64_t bad : {std::int64_t(10), std::int64_t(-1), std::int64_t(1) << 40}) {
        Tensor<std::int64_t, cuda> ids = Tensor<std::int64_t>::from_vector({1, 2, bad, 3, bad}, Shape{5}).to<cuda>();
        Tensor<float, cuda> out = Tensor<float, cuda>::full(Shape{5, 31}, 7.0f);
        try {
            Backend<cuda>::embedding_gather<float>(table.cview(), ids.data(), 5, out.view());
            BOOST_ERROR("no error for id " << bad);
        } catch (const index_error& e) {
            const std::string what = e.what();
            BOOST_TEST(what.find("id " + std::to_string(bad) + " at position 2") != std::string::npos, what);
            BOOST_TEST(what.find("V = 10") != std::string::npos, what);
        }
        BOOST_TEST(max_rel_diff(on_host(out), std::vector<float>(5 * 31, 7.0f)) == 0, "output written for id " << bad);
        Tensor<float, cuda> grad = Tensor<float, cuda>::zeros(Shape{10, 31});
        BOOST_CHECK_THROW(embedding_backward(Tensor<float, cuda>::ones(Shape{5, 31}), ids, grad), index_error);
        BOOST_TEST(max_rel_diff(on_host(grad), std::vector<float>(10 * 31, 0.0f)) == 0);
    }
}

BOOST_AUTO_TEST_CASE(embedding_scatter_add_matches_the_cpu_on_both_paths) {
    BOOST_TEST(backend::cuda::deterministic_embedding_grad());  // embedding_backward's promise, by default
    Generator g(10);
    for (bool deterministic : {false, true}) {
        backend::cuda::set_deterministic_embedding_grad(deterministic);
        for (index_t D : column_counts) {
            const index_t V = 13, n = 300;  // many repeated ids
            std::vector<std::int64_t> idv(static_cast<std::size_t>(n));
            for (index_t i = 0; i < n; ++i) idv[std::size_t(i)] = (i * 7 + i / 5) % V;
            Tensor<std::int64_t> ids = Tensor<std::int64_t>::from_vector(idv, Shape{n});
            Tensor<float> og = random<float>(g, {n, D});
            Tensor<float> want = Tensor<float>::zeros(Shape{V, D});
            embedding_backward(og, ids, want);
            Tensor<float, cuda> got = Tensor<float, cuda>::zeros(Shape{V, D});
            embedding_backward(og.to<cuda>(), ids.to<cuda>(), got);
            BOOST_TEST(max_rel_diff(on_host(got), on_host(want)) <= 1e-5, "deterministic " << deterministic << " D " << D);
            if (deterministic) {  // the same bits on a second run
                Tensor<float, cuda> again = Tensor<float, cuda>::zeros(Shape{V, D});
                embedding_backward(og.to<cuda>(), ids.to<cuda>(), again);
                BOOST_TEST(max_rel_diff(on_host(again), on_host(got)) == 0);
            }
        }
    }
    backend::cuda::set_deterministic_embedding_grad(true);  // the default
    Tensor<bf16> og = random<bf16>(g, {20, 31});
    Tensor<std::int64_t> ids = Tensor<std::int64_t>::from_vector(std::vector<std::int64_t>(20, 3), Shape{20});
    Tensor<bf16> want = Tensor<bf16>::zeros(Shape{5, 31});
    embedding_backward(og, ids, want);
    Tensor<bf16, cuda> got = Tensor<bf16, cuda>::zeros(Shape{5, 31});
    embedding_backward(og.to<cuda>(), ids.to<cuda>(), got);
    BOOST_TEST(max_rel_diff(on_host(got), on_host(want)) == 0);  // same order, same f32 adds
}

BOOST_AUTO_TEST_CASE(concat_along_every_axis_matches_the_cpu) {
    Generator g(11);
    for (int axis : {0, 1, 2, -1}) {
        std::vector<Tensor<float>> parts;
        std::vector<Tensor<float, cuda>> dparts;
        for (index_t a : {index_t(1), index_t(0), index_t(31), index_t(1025)}) {
            Shape s{3, 4, 5};
            s[axis < 0 ? axis + 3 : axis] = a;
            Tensor<float> p = random<float>(g, s);
            parts.push_back(p);
            dparts.push_back(p.to<cuda>());
        }
        // A permuted part: same shape, other strides.
        Shape s{3, 4, 5};
        s[axis < 0 ? axis + 3 : axis] = 6;
        Tensor<float> base = random<float>(g, Shape{s[2], s[1], s[0]});
        parts.push_back(base.permute({2, 1, 0}));
        dparts.push_back(base.to<cuda>().permute({2, 1, 0}));
        BOOST_TEST(max_rel_diff(on_host(concat(dparts, axis)), on_host(concat(parts, axis))) == 0, "axis " << axis);
    }
}

// The norm backward with E operands on the GPU (mean and rstd f32 in both) against the CPU's f32
// kernel on the values the GPU reads.
template <bool Centered, class E>
void check_norm_backward(index_t N, index_t C, bool affine) {
    Generator g(12 + N + C);
    Tensor<float> x = as_read<E>(random<float>(g, {N, C})), gr = as_read<E>(random<float>(g, {N, C})),
                  gamma = as_read<E>(random<float>(g, {C}));
    NormStats<float, cpu> st;
    if (Centered) layer_norm(x, Tensor<float>(), Tensor<float>(), 1e-5, &st);
    else rms_norm(x, Tensor<float>(), 1e-6, &st);
    Tensor<float> dx = Tensor<float>::zeros(Shape{N, C}), dg = Tensor<float>::zeros(Shape{C});
    Tensor<float> db = Tensor<float>::zeros(Shape{C});  // its own buffer: dgamma and dbeta must not alias
    const float* mean = Centered ? st.mean.data() : nullptr;
    Backend<cpu>::norm_backward<Centered>(x.data(), gr.data(), mean, st.rstd.data(), affine ? gamma.data() : nullptr, N, C,
                                          dx.data(), affine ? dg.data() : nullptr, affine ? db.data() : nullptr);
    Tensor<E, cuda> xd = gpu_as<E>(x), grd = gpu_as<E>(gr), gd = gpu_as<E>(gamma);
    Tensor<float, cuda> rstd = st.rstd.to<cuda>(), meand = Centered ? st.mean.to<cuda>() : Tensor<float, cuda>();
    Tensor<E, cuda> dxd = Tensor<E, cuda>::zeros(Shape{N, C}), dgd = Tensor<E, cuda>::zeros(Shape{C}),
                    dbd = Tensor<E, cuda>::zeros(Shape{C});
    Backend<cuda>::norm_backward<Centered>(xd.data(), grd.data(), Centered ? meand.data() : nullptr, rstd.data(),
                                           affine ? gd.data() : nullptr, N, C, dxd.data(), affine ? dgd.data() : nullptr,
                                           affine ? dbd.data() : nullptr);
    const double tol = 1e-4 + rounding_of<E>;
    const char* type = std::is_same_v<E, bf16> ? "bf16" : "f32";
    BOOST_TEST(max_rel_diff(on_host(widened(dxd)), on_host(dx)) <= tol, type << " dx N " << N << " C " << C << " centered " << Centered);
    BOOST_TEST(max_rel_diff(on_host(widened(dgd)), on_host(dg)) <= tol, type << " dgamma N " << N << " C " << C);
    BOOST_TEST(max_rel_diff(on_host(widened(dbd)), on_host(db)) <= tol, type << " dbeta N " << N << " C " << C);
}

BOOST_AUTO_TEST_CASE(norm_backward_matches_the_cpu_kernel) {
    for (index_t N : {index_t(1), index_t(33)})
        for (index_t C : column_counts)
            for (bool affine : {false, true}) {
                check_norm_backward<true, float>(N, C, affine);
                check_norm_backward<false, float>(N, C, affine);
                check_norm_backward<true, bf16>(N, C, affine);
                check_norm_backward<false, bf16>(N, C, affine);
            }
}

// The cross-entropy rows with E logits, mask and log-probs on the GPU (lse and w f32 in both)
// against the CPU's f32 kernels on the values the GPU reads.
template <class E>
void check_cross_entropy(index_t N, index_t V, bool masked) {
    Generator g(40 + N + V);
    Tensor<float> x = as_read<E>(random<float>(g, {N, V})), mask = as_read<E>(random<float>(g, {N})),
                  dy = as_read<E>(random<float>(g, {N}));
    std::vector<std::int64_t> tv(static_cast<std::size_t>(N));
    for (index_t n = 0; n < N; ++n) tv[std::size_t(n)] = n % 5 == 3 ? -100 : n % 7 == 4 ? V + 3 : (n * 13) % V;
    Tensor<std::int64_t> t = Tensor<std::int64_t>::from_vector(tv, Shape{N});
    Tensor<E, cuda> xd = gpu_as<E>(x), maskd = gpu_as<E>(mask), dyd = gpu_as<E>(dy);
    Tensor<std::int64_t, cuda> td = t.to<cuda>();
    const double tol = 1e-5 + rounding_of<E>;  // for results stored as E
    const std::string what = std::string(std::is_same_v<E, bf16> ? "bf16" : "f32") + " N " + std::to_string(N) + " V " +
                             std::to_string(V);

    Tensor<float> lse = Tensor<float>::zeros(Shape{N}), w = Tensor<float>::zeros(Shape{N});
    Tensor<float> dx = Tensor<float>::zeros(Shape{N, V});
    Tensor<float, cuda> lsed = Tensor<float, cuda>::zeros(Shape{N}), wd = Tensor<float, cuda>::zeros(Shape{N});
    Tensor<E, cuda> dxd = Tensor<E, cuda>::zeros(Shape{N, V});
    const CrossEntropySums want =
        Backend<cpu>::cross_entropy(x.data(), N, V, t.data(), masked ? mask.data() : nullptr, -100, lse.data(), w.data());
    const CrossEntropySums got =
        Backend<cuda>::cross_entropy(xd.data(), N, V, td.data(), masked ? maskd.data() : nullptr, -100, lsed.data(), wd.data());
    BOOST_TEST(std::abs(got.counted - want.counted) <= 1e-9 * (1 + std::abs(want.counted)), what);
    BOOST_TEST(std::abs(got.total - want.total) <= 1e-5 * (1 + std::abs(want.total)), what);
    BOOST_TEST(max_rel_diff(on_host(lsed), on_host(lse)) <= 1e-5, "lse " << what);
    BOOST_TEST(max_rel_diff(on_host(wd), on_host(w)) == 0, "w " << what);
    Backend<cpu>::cross_entropy_backward(x.data(), N, V, t.data(), lse.data(), w.data(), 0.25f, dx.data());
    Backend<cuda>::cross_entropy_backward(xd.data(), N, V, td.data(), lsed.data(), wd.data(), 0.25f, dxd.data());
    BOOST_TEST(max_rel_diff(on_host(widened(dxd)), on_host(dx)) <= tol, "dx " << what);

    Tensor<float> out = Tensor<float>::zeros(Shape{N});
    Tensor<E, cuda> outd = Tensor<E, cuda>::zeros(Shape{N});
    Backend<cpu>::token_log_probs(x.data(), N, V, t.data(), -100, lse.data(), out.data());
    Backend<cuda>::token_log_probs(xd.data(), N, V, td.data(), -100, lsed.data(), outd.data());
    BOOST_TEST(max_rel_diff(on_host(widened(outd)), on_host(out)) <= tol, "log-probs " << what);
    Backend<cpu>::token_log_probs_backward(x.data(), N, V, t.data(), -100, lse.data(), dy.data(), dx.data());
    Backend<cuda>::token_log_probs_backward(xd.data(), N, V, td.data(), -100, lsed.data(), dyd.data(), dxd.data());
    BOOST_TEST(max_rel_diff(on_host(widened(dxd)), on_host(dx)) <= tol, "log-probs dx " << what);
}

BOOST_AUTO_TEST_CASE(cross_entropy_rows_match_the_cpu_kernels_with_ignored_and_out_of_range_ids) {
    for (index_t N : {index_t(1), index_t(33)})
        for (index_t V : column_counts)
            for (bool masked : {false, true}) {
                check_cross_entropy<float>(N, V, masked);
                check_cross_entropy<bf16>(N, V, masked);
            }
    CrossEntropySums none = Backend<cuda>::cross_entropy<float>(nullptr, 0, 5, nullptr, nullptr, -100, nullptr, nullptr);
    BOOST_TEST(none.counted == 0);
    BOOST_TEST(none.total == 0);
}

BOOST_AUTO_TEST_SUITE_END()
