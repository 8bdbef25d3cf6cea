// Which CUDA kernel a pass takes, decided on the host: checked here on CPU tensors' evaluators
// (the same evaluator types a CUDA tensor builds), planned exactly as the CUDA executor plans them.
#include <boost/test/unit_test.hpp>

#include <ward/ward.hpp>

#include <string>

#include "ward/backend/cuda/launch_plan.cuh"

using namespace ward;
using backend::cuda::ElementwisePath;
using backend::cuda::ReducePath;

namespace {

template <class Path>
std::string named(Path p) { return backend::cuda::path_name(p); }

/// The path Executor<cuda>::assign would take for dst = e.
template <class T, Expression E>
ElementwisePath assign_path(const Tensor<T>& dst, const E& e) {
    auto view = dst.view();
    auto ev = e.evaluator(view.shape);
    index_t st[max_rank] = {};
    for (int d = 0; d < view.shape.rank; ++d) st[d] = view.strides[d];
    LoopPlan plan = plan_loop(view.shape, ev, st, view.shape.rank);
    index_t zeros[max_rank] = {};
    ev.seek(zeros, plan.rank - 1);
    return backend::cuda::choose_elementwise_path(plan, st, view.data, ev);
}

/// The path Executor<cuda>::reduce would take for a reduction of e over axis (-1: everything).
template <Expression E>
ReducePath reduce_path(const E& e, int axis) {
    Shape shape = e.shape();
    auto ev = e.evaluator(shape);
    LoopPlan plan;
    if (axis < 0) {
        plan = plan_loop(shape, ev, nullptr, shape.rank);
    } else {
        Shape moved = move_axis_last(shape, axis, ev);
        plan = plan_loop(moved, ev, nullptr, moved.rank - 1);
    }
    index_t zeros[max_rank] = {};
    ev.seek(zeros, plan.rank - 1);
    return backend::cuda::choose_reduce_path(plan, ev, axis < 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cuda_launch_plan)

BOOST_AUTO_TEST_CASE(dense_operands_take_the_vector_path) {
    Generator g(1);
    Tensor<float> a = normal<float>(g, {64, 33}), b = normal<float>(g, {64, 33});
    auto out = Tensor<float>::empty({64, 33});
    BOOST_TEST(named(assign_path(out, gelu_tanh(a * b + 1.0f) - tanh(a) * 0.5f)) == "contiguous_vector");
    BOOST_TEST(named(assign_path(out, a)) == "contiguous_vector");
    BOOST_TEST(named(assign_path(out, where(a > b, a, b * 2.0f))) == "contiguous_vector");
    BOOST_TEST(named(assign_path(out, cast<float>(cast<bf16>(a)))) == "contiguous_vector");
}

BOOST_AUTO_TEST_CASE(misaligned_operands_fall_back_to_scalar_loads) {
    Generator g(2);
    Tensor<float> a = normal<float>(g, {1001});
    Tensor<float> shifted = a.slice(0, 1, 1001);  // starts 4 bytes into a 16-byte pack
    auto out = Tensor<float>::empty({1000});
    BOOST_TEST(named(assign_path(out, shifted * 2.0f)) == "contiguous");
    BOOST_TEST(named(assign_path(out.slice(0, 1, 1000), a.slice(0, 0, 999))) == "contiguous");  // dst misaligned
    auto tail = Tensor<float>::empty({997});
    BOOST_TEST(named(assign_path(tail, a.slice(0, 4, 1001))) == "contiguous_vector");  // 16 bytes in: aligned
}

BOOST_AUTO_TEST_CASE(broadcast_rows_and_strided_layouts) {
    Generator g(3);
    Tensor<float> x = normal<float>(g, {37, 65}), bias = normal<float>(g, {65}), scale = normal<float>(g, {37, 1});
    auto out = Tensor<float>::empty({37, 65});
    BOOST_TEST(named(assign_path(out, x + bias)) == "broadcast_rows");
    BOOST_TEST(named(assign_path(out, x * scale)) == "broadcast_rows");
    BOOST_TEST(named(assign_path(out, x.slice(1, 0, 65) + 1.0f)) == "contiguous_vector");
    Tensor<float> wide = normal<float>(g, {37, 130});
    BOOST_TEST(named(assign_path(out, wide.slice(1, 0, 65))) == "broadcast_rows");  // row stride 130: rows, not one row
    BOOST_TEST(named(assign_path(out, wide.slice(1, 0, 130, 2))) == "strided");     // inner stride 2
    Tensor<float> xt = normal<float>(g, {65, 37});
    BOOST_TEST(named(assign_path(out, xt.transpose() + x)) == "strided");
    BOOST_TEST(named(assign_path(out.transpose(), xt)) == "strided");  // strided destination
    auto one = Tensor<float>::empty({5});
    Tensor<float> s = normal<float>(g, {1});
    BOOST_TEST(named(assign_path(one, s + 0.0f)) == "broadcast_rows_vector");  // a stride-0 leaf on one row
    // rows of 64 floats: every row start aligned, packs along the rows
    Tensor<float> x64 = normal<float>(g, {37, 64}), bias64 = normal<float>(g, {64});
    auto out64 = Tensor<float>::empty({37, 64});
    BOOST_TEST(named(assign_path(out64, x64 + bias64)) == "broadcast_rows_vector");
    BOOST_TEST(named(assign_path(out64, x64 * scale - bias64)) == "broadcast_rows_vector");
    BOOST_TEST(named(assign_path(out64.slice(1, 0, 63), bias64.slice(0, 1, 64) + x64.slice(1, 0, 63))) == "broadcast_rows");  // bias starts 4 bytes in
}

BOOST_AUTO_TEST_CASE(reductions_pick_their_kernels) {
    Generator g(4);
    Tensor<float> a = normal<float>(g, {40, 4096});
    BOOST_TEST(named(reduce_path(a, -1)) == "all_contiguous_vector");
    BOOST_TEST(named(reduce_path(exp(a) * 2.0f, -1)) == "all_contiguous_vector");
    BOOST_TEST(named(reduce_path(a.slice(1, 1, 4096), -1)) == "all_strided");
    BOOST_TEST(named(reduce_path(a.reshape({40 * 4096}).slice(0, 1, 40 * 4096), -1)) == "all_contiguous");
    BOOST_TEST(named(reduce_path(a.transpose(), -1)) == "all_strided");
    BOOST_TEST(named(reduce_path(a, 1)) == "rows_per_block");  // 40 rows of 4096
    BOOST_TEST(named(reduce_path(a, 0)) == "rows_per_thread");  // 4096 columns, strided along the axis
    Tensor<float> small = normal<float>(g, {300, 100});
    BOOST_TEST(named(reduce_path(small, 1)) == "rows_per_warp");
    BOOST_TEST(named(reduce_path(small, 0)) == "rows_per_warp");  // 100 strided rows: too few for a thread each
}

BOOST_AUTO_TEST_CASE(rows_are_packed_when_every_row_start_is_aligned) {
    Generator g(5);
    auto packable = [](const auto& e, int axis) {
        Shape shape = e.shape();
        auto ev = e.evaluator(shape);
        Shape moved = move_axis_last(shape, axis, ev);
        LoopPlan plan = plan_loop(moved, ev, nullptr, moved.rank - 1);
        index_t zeros[max_rank] = {};
        ev.seek(zeros, plan.rank - 1);
        return backend::cuda::rows_packable(plan, ev);
    };
    Tensor<float> a = normal<float>(g, {300, 100}), odd = normal<float>(g, {300, 102}), b = normal<float>(g, {6, 70, 9});
    BOOST_TEST(packable(a, 1));                          // rows of 100 floats: 400-byte strides
    BOOST_TEST(packable(exp(a) * 2.0f, 1));
    BOOST_TEST(!packable(odd, 1));                       // 408-byte strides: every other row misaligned
    BOOST_TEST(!packable(a.slice(1, 1, 100), 1));        // the first row starts 4 bytes in
    BOOST_TEST(!packable(a, 0));                         // strided along the reduced axis
    BOOST_TEST(!packable(b, 1));
    Tensor<float> bias = normal<float>(g, {100});
    BOOST_TEST(packable(a * bias, 1));                   // the broadcast row starts at the same place each time
}

BOOST_AUTO_TEST_SUITE_END()
