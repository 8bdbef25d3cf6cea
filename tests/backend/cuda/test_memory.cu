// Device memory and streams on a GPU: the caching allocator reuses freed blocks and keeps the
// statistics, copies through the pinned staging buffers round-trip at chunk boundaries, work
// follows the current stream, events time it, and failures name the CUDA call. Skipped (exit 77)
// where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <ward/cuda.cuh>

#include "require_gpu.hpp"

using namespace ward;
namespace bc = ward::backend::cuda;

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_memory)

BOOST_AUTO_TEST_CASE(freed_blocks_are_reused_and_counted) {
    const auto in_use = stats::device_bytes_in_use.load();
    const void* first = nullptr;
    {
        auto t = Tensor<float, cuda>::zeros({1 << 18});  // 1 MiB, an exact size class
        first = t.data();
        BOOST_TEST(stats::device_bytes_in_use.load() - in_use == (1 << 20));
        BOOST_TEST(stats::device_bytes_peak.load() >= in_use + (1 << 20));
    }
    BOOST_TEST(stats::device_bytes_in_use.load() == in_use);
    BOOST_TEST(DeviceMemory<cuda>::cached_bytes() >= std::size_t(1) << 20);
    const auto hits = stats::device_cache_hits.load(), misses = stats::device_cache_misses.load();
    auto u = Tensor<float, cuda>::zeros({(1 << 18) - 100});  // the same class: the same block
    BOOST_TEST(u.data() == first);
    BOOST_TEST(stats::device_cache_hits.load() == hits + 1);
    BOOST_TEST(stats::device_cache_misses.load() == misses);
    stats::reset_peak();
    BOOST_TEST(stats::device_bytes_peak.load() == stats::device_bytes_in_use.load());
    {
        bc::Stream other;
        bc::StreamGuard on(other.get());
        auto v = Tensor<float, cuda>::zeros({(1 << 18) - 100});  // another stream: not the cached block
        BOOST_TEST(v.data() != first);
        other.synchronize();
    }
    DeviceMemory<cuda>::trim_cache();
    BOOST_TEST(DeviceMemory<cuda>::cached_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(staged_copies_round_trip_across_chunks) {
    const std::size_t chunk_floats = bc::StagingBuffers::chunk_bytes / sizeof(float);
    for (std::size_t n : {std::size_t(1), std::size_t(1000), chunk_floats - 1, chunk_floats, chunk_floats + 1, 3 * chunk_floats + 7}) {
        std::vector<float> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = float(i) * 0.25f - 3.0f;
        auto d = Tensor<float>::from_vector(v, {index_t(n)}).to<cuda>();
        BOOST_TEST((d.to<cpu>().to_vector() == v), "n = " << n);
    }
}

BOOST_AUTO_TEST_CASE(work_follows_the_current_stream) {
    Generator g(21);
    Tensor<float> a = normal<float>(g, {3, 1 << 16});
    Tensor<float> want = sum(exp(a) * 2.0f, 1);
    bc::Stream s;
    {
        bc::StreamGuard on(s.get());
        BOOST_TEST(bc::current_stream() == s.get());
        auto da = a.to<cuda>();
        Tensor<float, cuda> got = sum(exp(da) * 2.0f, 1);
        std::vector<float> h = got.to<cpu>().to_vector(), w = want.to_vector();
        for (std::size_t i = 0; i < h.size(); ++i) BOOST_TEST(std::abs(h[i] - w[i]) <= 1e-5f * std::abs(w[i]));
    }
    BOOST_TEST(bc::current_stream() == cudaStreamPerThread);
}

BOOST_AUTO_TEST_CASE(events_time_kernels) {
    auto x = Tensor<float, cuda>::zeros({1 << 22});
    bc::Event start, stop;
    start.record();
    for (int i = 0; i < 10; ++i) x.assign(x + 1.0f);
    stop.record();
    float ms = bc::Event::elapsed_ms(start, stop);
    BOOST_TEST(ms > 0.0f);
    BOOST_TEST(x.to<cpu>()(123) == 10.0f);
}

BOOST_AUTO_TEST_CASE(failures_name_the_call) {
    try {
        WARD_CUDA_CHECK(cudaSetDevice(1 << 20));
        BOOST_FAIL("no exception");
    } catch (const cuda_error& e) {
        BOOST_TEST(std::string(e.what()).find("cudaSetDevice(1 << 20) failed: cudaErrorInvalidDevice") != std::string::npos);
        BOOST_TEST(e.call() == "cudaSetDevice(1 << 20)");
        BOOST_TEST(e.status() == int(cudaErrorInvalidDevice));
        BOOST_TEST(std::string(e.what()).find("test_memory.cu:") != std::string::npos);
    }
    (void)cudaGetLastError();
    try {
        auto huge = Tensor<float, cuda>::empty({index_t(1) << 45});  // 128 TiB
        BOOST_FAIL("no exception");
    } catch (const backend_error& e) {
        BOOST_TEST(std::string(e.what()).find("cudaMalloc") != std::string::npos);
        BOOST_TEST(std::string(e.what()).find("out of device memory") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
