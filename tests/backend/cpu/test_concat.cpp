// concat against a naive element loop: every axis, f32/f64/bf16, non-contiguous inputs and
// output, negative axis; shape errors naming the offending input's shape.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/strided_buffer.hpp"
#include "ward/backend/cpu/concat.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

using test::Strided;

template <class T>
Strided<T> make(Shape shape, bool transposed, index_t pad, std::uint32_t seed) {
    test::Layout layout{{}, pad, {}};
    for (int i = 0; i < shape.rank; ++i) layout.order.push_back(transposed ? shape.rank - 1 - i : i);
    return test::make_strided<T>(shape, layout, seed, -1.f, 1.f);
}

template <class T>
T at(const StridedView<T>& v, const std::vector<index_t>& idx) {
    index_t off = 0;
    for (int i = 0; i < v.shape.rank; ++i) off += idx[static_cast<std::size_t>(i)] * v.strides[i];
    return v.data[off];
}

template <class T>
void run(Shape base, int axis, std::vector<index_t> extents, bool strided) {
    const int ax = axis < 0 ? axis + base.rank : axis;
    std::vector<Strided<T>> ins;
    std::vector<StridedView<const T>> views;
    index_t total = 0;
    for (std::size_t k = 0; k < extents.size(); ++k) {
        Shape s = base;
        s[ax] = extents[k];
        total += extents[k];
        ins.push_back(make<T>(s, strided && k % 2 == 0, strided ? 1 : 0, static_cast<std::uint32_t>(k + 1)));
    }
    for (auto& in : ins) views.push_back(in.cview());
    Shape os = base;
    os[ax] = total;
    auto out = make<T>(os, strided, strided ? 2 : 0, 99);
    cpu::concat<T>(std::span<const StridedView<const T>>(views), axis, out.view);
    std::vector<index_t> idx(static_cast<std::size_t>(os.rank));
    for (index_t flat = 0; flat < os.numel(); ++flat) {
        index_t rem = flat;
        for (int i = os.rank - 1; i >= 0; --i) idx[static_cast<std::size_t>(i)] = rem % os[i], rem /= os[i];
        std::vector<index_t> src = idx;
        std::size_t k = 0;
        while (src[static_cast<std::size_t>(ax)] >= extents[k]) src[static_cast<std::size_t>(ax)] -= extents[k++];
        BOOST_REQUIRE(at(out.view, idx) == at(views[k], src));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_concat)

BOOST_AUTO_TEST_CASE(every_axis_and_layout) {
    for (bool strided : {false, true})
        for (int axis : {0, 1, 2, -1}) {
            BOOST_TEST_CONTEXT("axis " << axis << " strided " << strided) {
                run<float>(Shape{3, 4, 5}, axis, {1, 7, 2}, strided);
                run<double>(Shape{3, 4, 5}, axis, {2, 3}, strided);
                run<bf16>(Shape{3, 4, 5}, axis, {1, 1, 1, 4}, strided);
            }
        }
    run<float>(Shape{33}, 0, {1, 1025, 7}, false);
    run<float>(Shape{2, 1025}, 1, {1025, 33}, true);
    run<float>(Shape{5, 4}, 0, {0, 3, 0}, false);  // empty inputs are fine
}

BOOST_AUTO_TEST_CASE(shape_errors_name_the_input) {
    std::vector<float> a(100), b(100), o(200);
    std::vector<StridedView<const float>> in = {{a.data(), Shape{2, 3}, Strides{3, 1}}, {b.data(), Shape{4, 5}, Strides{5, 1}}};
    try {
        cpu::concat<float>(std::span<const StridedView<const float>>(in), 0, {o.data(), Shape{6, 3}, Strides{3, 1}});
        BOOST_ERROR("no shape_error");
    } catch (const shape_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("input 1") != std::string::npos, m);
        BOOST_TEST(m.find("(4, 5)") != std::string::npos, m);
        BOOST_TEST(m.find("(6, 3)") != std::string::npos, m);
    }
    in[1] = {b.data(), Shape{4, 3}, Strides{3, 1}};
    try {
        cpu::concat<float>(std::span<const StridedView<const float>>(in), 0, {o.data(), Shape{7, 3}, Strides{3, 1}});
        BOOST_ERROR("no shape_error");
    } catch (const shape_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("(7, 3)") != std::string::npos, m);
        BOOST_TEST(m.find("(4, 3)") != std::string::npos, m);
    }
    BOOST_CHECK_THROW(cpu::concat<float>(std::span<const StridedView<const float>>(in), 2,
                                         {o.data(), Shape{6, 3}, Strides{3, 1}}),
                      index_error);
    BOOST_CHECK_THROW(cpu::concat<float>(std::span<const StridedView<const float>>(), 0,
                                         {o.data(), Shape{6, 3}, Strides{3, 1}}),
                      shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
