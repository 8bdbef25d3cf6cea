// How the CUDA matmul lays a problem out for cuBLASLt (backend/cuda/matmul_plan.cuh), checked on
// the host against naive index arithmetic on CPU tensors' views: every batch matrix of the output
// is reached exactly once, in row-major order, with each operand's offset as its own strides give
// it (broadcast axes contributing nothing), whether the batch axes collapse to one strided batch or
// leave an outer index; each operand's matrix as column-major cuBLASLt reads it lands on the
// view's elements; shapes that do not fit are refused by name.
#include <boost/test/unit_test.hpp>

#include <ward/tensor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "ward/backend/cuda/matmul_plan.cuh"

using namespace ward;
namespace bc = ward::backend::cuda;

namespace {

struct Offsets {
    std::int64_t a, b, c;
    bool operator==(const Offsets&) const = default;
};

/// Batch offsets of a, b and c for every batch index of c, row-major, from the views' own strides
/// (an axis of extent 1 in an operand, or missing from it, contributes nothing).
std::vector<Offsets> naive(const Tensor<float>& a, const Tensor<float>& b, const Tensor<float>& c) {
    const int n = c.rank(), ra = a.rank(), rb = b.rank();
    index_t count = 1;
    for (int i = 0; i < n - 2; ++i) count *= c.size(i);
    std::vector<Offsets> out;
    for (index_t q = 0; q < count; ++q) {
        Offsets o{0, 0, 0};
        index_t rem = q;
        for (int i = n - 3; i >= 0; --i) {
            const index_t idx = rem % c.size(i);
            rem /= c.size(i);
            o.c += idx * c.stride(i);
            if (i >= n - ra && a.size(i - (n - ra)) != 1) o.a += idx * a.stride(i - (n - ra));
            if (i >= n - rb && b.size(i - (n - rb)) != 1) o.b += idx * b.stride(i - (n - rb));
        }
        out.push_back(o);
    }
    return out;
}

/// The same offsets as the plan reaches them: outer steps, then the strided batch within each.
std::vector<Offsets> planned(const Tensor<float>& a, const Tensor<float>& b, const Tensor<float>& c, index_t* calls) {
    const bc::MatmulShape s = bc::plan_matmul_shape(a.shape(), a.strides(), b.shape(), b.strides(), c.shape(), c.strides());
    const bc::BatchSplit split = bc::split_batch(s.axes);
    *calls = split.steps;
    std::vector<Offsets> out;
    for (index_t q = 0; q < split.steps; ++q) {
        const bc::BatchOffsets o = bc::outer_offsets(split.outer, q);
        for (index_t j = 0; j < split.inner.n; ++j)
            out.push_back({o.a + j * split.inner.sa, o.b + j * split.inner.sb, o.c + j * split.inner.sc});
    }
    return out;
}

void check_batch(const Tensor<float>& a, const Tensor<float>& b, const Tensor<float>& c, index_t want_calls,
                 const std::string& what) {
    index_t calls = 0;
    BOOST_TEST((planned(a, b, c, &calls) == naive(a, b, c)), what);
    BOOST_TEST(calls == want_calls, what << ": " << calls << " cuBLASLt calls");
}

/// Checks that the column-major description of the (r, c) view lands on its elements.
void check_matrix(const Tensor<float>& x, const std::string& what) {
    const index_t r = x.size(-2), c = x.size(-1), sr = x.stride(-2), sc = x.stride(-1);
    const bc::LtMatrix m = bc::describe_matrix(r, c, sr, sc, x.strides(), "x");
    BOOST_TEST(m.ld >= std::int64_t(m.rows), what);
    for (index_t i = 0; i < r; ++i)
        for (index_t j = 0; j < c; ++j) {
            // Column-major buffer element (x, y) is at x + y * ld; the matrix is its transpose unless flagged.
            const std::int64_t at = m.transposed ? i + j * m.ld : j + i * m.ld;
            if (at != i * sr + j * sc) {
                BOOST_TEST(false, what << ": element (" << i << ", " << j << ") at " << at << ", the view has it at " << i * sr + j * sc);
                return;
            }
        }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cuda_matmul_plan)

BOOST_AUTO_TEST_CASE(batch_axes_collapse_where_the_strides_allow) {
    const index_t M = 3, K = 5, N = 4;
    auto t = [](Shape s) { return Tensor<float>::zeros(s); };
    check_batch(t({2, 3, M, K}), t({2, 3, K, N}), t({2, 3, M, N}), 1, "dense (2, 3): one batch of 6");
    check_batch(t({M, K}), t({K, N}), t({M, N}), 1, "no batch");
    check_batch(t({2, 3, M, K}), t({K, N}), t({2, 3, M, N}), 1, "b broadcast over (2, 3)");
    check_batch(t({2, 1, M, K}), t({1, 3, K, N}), t({2, 3, M, N}), 2, "(2, 1) @ (1, 3): a loop of 2");
    check_batch(t({2, 1, 3, M, K}).expand({2, 4, 3, M, K}), t({2, 1, 3, K, N}).expand({2, 4, 3, K, N}),
                t({2, 4, 3, M, N}), 8, "expanded middle axis");
    check_batch(t({4, 3, M, K}).slice(0, 0, 4, 2), t({2, 3, K, N}), t({2, 3, M, N}), 2, "every other outer matrix of a");
    check_batch(t({3, 2, M, K}).permute({1, 0, 2, 3}), t({2, 3, K, N}), t({2, 3, M, N}), 2, "permuted batch axes of a");
    check_batch(t({1, 5, M, K}), t({1, 5, K, N}), t({1, 5, M, N}), 1, "leading extent 1");
    check_batch(t({2, 3, M, K}), t({2, 3, K, N}), t({2, 3, M, 2 * N}).slice(3, 0, N), 1, "c with padded rows");
    check_batch(t({2, 3, 2, M, K}), t({3, 2, K, N}), t({4, 3, 2, M, N}).slice(0, 0, 4, 2), 2, "c every other outer");
}

BOOST_AUTO_TEST_CASE(operands_become_column_major_descriptions) {
    auto t = [](Shape s) { return Tensor<float>::zeros(s); };
    check_matrix(t({7, 5}), "row-major");
    check_matrix(t({5, 7}).transpose(), "transposed");
    check_matrix(t({7, 10}).slice(1, 0, 5), "padded rows");
    check_matrix(t({10, 7}).slice(0, 0, 5).transpose(), "transposed, padded");
    check_matrix(t({1, 5}), "one row");
    check_matrix(t({5, 1}), "one column");
    check_matrix(t({1, 1}), "one element");
    check_matrix(t({5, 1}).expand({5, 1}), "a column vector");
    check_matrix(t({8, 6}).slice(1, 0, 6, 2).slice(0, 0, 8, 1).slice(1, 0, 1), "a strided column of one");
    BOOST_CHECK_THROW(bc::describe_matrix(4, 5, 10, 2, Strides{10, 2}, "a"), shape_error);  // no unit stride
    BOOST_CHECK_THROW(bc::describe_matrix(4, 5, 0, 1, Strides{0, 1}, "a"), shape_error);   // rows broadcast
    try {
        bc::describe_matrix(4, 5, 10, 2, Strides{10, 2}, "a");
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()).find("has no unit stride") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(shapes_that_do_not_fit_are_refused_by_name) {
    auto plan = [](Shape a, Shape b, Shape c) {
        return bc::plan_matmul_shape(a, contiguous_strides(a), b, contiguous_strides(b), c, contiguous_strides(c));
    };
    BOOST_CHECK_NO_THROW(plan({2, 3, 4}, {4, 5}, {2, 3, 5}));
    BOOST_CHECK_THROW(plan({3, 4}, {5, 6}, {3, 6}), shape_error);           // inner dimensions
    BOOST_CHECK_THROW(plan({2, 3, 4}, {3, 4, 5}, {2, 3, 5}), shape_error);  // batch 2 vs 3
    BOOST_CHECK_THROW(plan({2, 3, 4}, {4, 5}, {3, 5}), shape_error);        // output rank
    BOOST_CHECK_THROW(plan({4}, {4, 5}, {5}), shape_error);                 // rank 1
    const Shape c{2, 3, 5};
    BOOST_CHECK_THROW(bc::plan_matmul_shape(Shape{2, 3, 4}, contiguous_strides(Shape{2, 3, 4}), Shape{4, 5},
                                            contiguous_strides(Shape{4, 5}), c, Strides{0, 5, 1}),
                      shape_error);  // aliasing output
}

BOOST_AUTO_TEST_CASE(alignment_is_what_every_step_keeps) {
    BOOST_TEST(bc::alignment_of(0x10000, 4, {}) == 256u);
    BOOST_TEST(bc::alignment_of(0x10000, 4, {6}) == 8u);
    BOOST_TEST(bc::alignment_of(0x10000, 2, {0, 64}) == 128u);
    BOOST_TEST(bc::alignment_of(0x10002, 2, {64}) == 2u);
    BOOST_TEST(bc::alignment_of(0x10010, 4, {-8}) == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
