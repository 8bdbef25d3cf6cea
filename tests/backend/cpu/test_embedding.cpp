// embedding_gather and embedding_scatter_add against naive loops: f32, f64, bf16; strided tables
// and outputs; repeated ids; out-of-range ids throw index_error naming id, position and V, and
// leave the output untouched.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ward/backend/cpu/embedding.hpp"

using namespace ward;
namespace cpu = ward::backend::cpu;

namespace {

template <class T>
std::vector<T> random_vec(std::size_t n, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<T> v(n);
    for (auto& x : v) x = T(u(rng));
    return v;
}

template <class T>
void gather_case(index_t V, index_t D, bool strided) {
    // Table (V, D): row-major, or column-major with padding when `strided`.
    const index_t ld = strided ? V + 3 : D;
    auto tb = random_vec<T>(static_cast<std::size_t>((strided ? D : V) * ld), 1);
    StridedView<const T> table{tb.data(), Shape{V, D}, strided ? Strides{1, ld} : Strides{D, 1}};
    std::vector<std::int64_t> ids;
    std::mt19937 rng(2);
    for (int i = 0; i < 37; ++i) ids.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(V)));
    ids.push_back(V - 1);
    ids.push_back(0);
    ids.push_back(0);  // repeated
    const index_t n = static_cast<index_t>(ids.size());
    const index_t old = strided ? D + 2 : D;
    std::vector<T> ob(static_cast<std::size_t>(n * old));
    StridedView<T> out{ob.data(), Shape{n, D}, strided ? Strides{old, 1} : Strides{D, 1}};
    cpu::embedding_gather<T>(table, ids.data(), n, out);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < D; ++j)
            BOOST_REQUIRE(out.data[i * out.strides[0] + j * out.strides[1]] ==
                          table.data[ids[static_cast<std::size_t>(i)] * table.strides[0] + j * table.strides[1]]);
}

template <class T>
void scatter_case(index_t V, index_t D, bool strided) {
    std::vector<std::int64_t> ids;
    std::mt19937 rng(3);
    for (int i = 0; i < 300; ++i) ids.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(V)));
    const index_t n = static_cast<index_t>(ids.size());
    auto gb = random_vec<T>(static_cast<std::size_t>(n * D), 4);
    StridedView<const T> g{gb.data(), Shape{n, D}, strided ? Strides{1, n} : Strides{D, 1}};
    const index_t ld = strided ? D + 5 : D;
    auto tb = random_vec<T>(static_cast<std::size_t>(V * ld), 5);  // accumulates onto existing values
    std::vector<double> ref(static_cast<std::size_t>(V * D));
    for (index_t v = 0; v < V; ++v)
        for (index_t j = 0; j < D; ++j) ref[static_cast<std::size_t>(v * D + j)] = element_cast<double>(tb[static_cast<std::size_t>(v * ld + j)]);
    for (index_t i = 0; i < n; ++i)
        for (index_t j = 0; j < D; ++j)
            ref[static_cast<std::size_t>(ids[static_cast<std::size_t>(i)] * D + j)] += element_cast<double>(g.data[i * g.strides[0] + j * g.strides[1]]);
    StridedView<T> table{tb.data(), Shape{V, D}, Strides{ld, 1}};
    cpu::embedding_scatter_add<T>(g, ids.data(), n, table);
    const double tol = std::is_same_v<T, double> ? 1e-12 : std::is_same_v<T, float> ? 1e-5 : 0.1;
    for (index_t v = 0; v < V; ++v)
        for (index_t j = 0; j < D; ++j)
            BOOST_REQUIRE_SMALL(element_cast<double>(tb[static_cast<std::size_t>(v * ld + j)]) - ref[static_cast<std::size_t>(v * D + j)], tol);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cpu_embedding)

BOOST_AUTO_TEST_CASE(gather) {
    for (bool strided : {false, true})
        for (index_t D : {1, 7, 33, 1025}) {
            gather_case<float>(50, D, strided);
            gather_case<double>(11, D, strided);
            gather_case<bf16>(7, D, strided);
        }
}

BOOST_AUTO_TEST_CASE(scatter_add) {
    for (bool strided : {false, true})
        for (index_t D : {1, 7, 130, 1025}) {
            scatter_case<float>(13, D, strided);
            scatter_case<double>(5, D, strided);
        }
    scatter_case<bf16>(40, 33, false);
}

BOOST_AUTO_TEST_CASE(scatter_add_is_deterministic) {
    // Same inputs, same bits, whatever the work split.
    std::vector<std::int64_t> ids(2000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i % 3);
    auto g = random_vec<float>(ids.size() * 256, 9);
    std::vector<float> t1(3 * 256), t2(3 * 256);
    StridedView<const float> gv{g.data(), Shape{2000, 256}, Strides{256, 1}};
    cpu::embedding_scatter_add<float>(gv, ids.data(), 2000, {t1.data(), Shape{3, 256}, Strides{256, 1}});
    cpu::embedding_scatter_add<float>(gv, ids.data(), 2000, {t2.data(), Shape{3, 256}, Strides{256, 1}});
    BOOST_TEST(t1 == t2);
    // ... and equal to the sequential sum in position order.
    std::vector<float> seq(3 * 256);
    for (std::size_t i = 0; i < ids.size(); ++i)
        for (std::size_t j = 0; j < 256; ++j) seq[static_cast<std::size_t>(ids[i]) * 256 + j] += g[i * 256 + j];
    BOOST_TEST(t1 == seq);
}

BOOST_AUTO_TEST_CASE(out_of_range_ids) {
    std::vector<float> table(10 * 4, 1.f), out(3 * 4, -7.f);
    std::vector<std::int64_t> ids = {2, 10, 1};
    try {
        cpu::embedding_gather<float>({table.data(), Shape{10, 4}, Strides{4, 1}}, ids.data(), 3,
                                     {out.data(), Shape{3, 4}, Strides{4, 1}});
        BOOST_ERROR("no index_error");
    } catch (const index_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("id 10") != std::string::npos, m);
        BOOST_TEST(m.find("position 1") != std::string::npos, m);
        BOOST_TEST(m.find("V = 10") != std::string::npos, m);
    }
    for (float v : out) BOOST_TEST(v == -7.f);  // untouched
    ids = {-1};
    BOOST_CHECK_THROW(cpu::embedding_scatter_add<float>({out.data(), Shape{1, 4}, Strides{4, 1}}, ids.data(), 1,
                                                        {table.data(), Shape{10, 4}, Strides{4, 1}}),
                      index_error);
    for (float v : table) BOOST_TEST(v == 1.f);
}

BOOST_AUTO_TEST_CASE(shape_errors) {
    std::vector<float> table(40), out(40);
    std::vector<std::int64_t> ids = {0, 1};
    try {
        cpu::embedding_gather<float>({table.data(), Shape{10, 4}, Strides{4, 1}}, ids.data(), 2,
                                     {out.data(), Shape{2, 5}, Strides{5, 1}});
        BOOST_ERROR("no shape_error");
    } catch (const shape_error& e) {
        const std::string m = e.what();
        BOOST_TEST(m.find("(2, 5)") != std::string::npos, m);
        BOOST_TEST(m.find("(10, 4)") != std::string::npos, m);
    }
    BOOST_CHECK_THROW(cpu::embedding_gather<float>({table.data(), Shape{40}, Strides{1}}, ids.data(), 2,
                                                   {out.data(), Shape{2, 4}, Strides{4, 1}}),
                      shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
