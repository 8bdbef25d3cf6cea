// The caching device allocator's bookkeeping, on the CPU with a counting stand-in for cudaMalloc:
// size classes, reuse per (stream, class), the statistics, trimming, and running out of memory.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <map>
#include <new>
#include <set>

#include "ward/backend/cuda/block_cache.cuh"

using ward::backend::cuda::BlockCache;
using ward::backend::cuda::size_class;

namespace {

/// malloc with a capacity, counting calls: what the cache asks of the driver.
struct FakeDriver {
    static inline std::size_t capacity = std::size_t(1) << 40;
    static inline std::size_t held = 0;
    static inline int allocations = 0, releases = 0;
    static inline std::set<void*> live;

    static void reset(std::size_t cap) {
        capacity = cap;
        held = 0;
        allocations = releases = 0;
        live.clear();
    }
    static void* allocate(std::size_t bytes) {
        if (held + bytes > capacity) return nullptr;
        void* p = std::malloc(bytes);
        held += bytes;
        ++allocations;
        live.insert(p);
        sizes()[p] = bytes;
        return p;
    }
    static void release(void* p) {
        held -= sizes()[p];
        ++releases;
        live.erase(p);
        std::free(p);
    }
    static std::map<void*, std::size_t>& sizes() {
        static std::map<void*, std::size_t> m;
        return m;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cuda_block_cache)

BOOST_AUTO_TEST_CASE(size_classes_cover_requests_with_bounded_waste) {
    bool ok = true;
    std::size_t previous = 0;
    for (std::size_t bytes = 1; bytes < (std::size_t(1) << 22); bytes += 1 + bytes / 97) {
        std::size_t c = size_class(bytes);
        std::size_t slack = bytes / 4 > 512 ? bytes / 4 : 512;
        ok = ok && c >= bytes && c % 512 == 0 && c - bytes < slack && c >= previous && size_class(c) == c;
        previous = c;
    }
    BOOST_TEST(ok);
    BOOST_TEST(size_class(1) == 512u);
    BOOST_TEST(size_class(512) == 512u);
    BOOST_TEST(size_class(513) == 1024u);
    BOOST_TEST(size_class(std::size_t(256) << 20) == (std::size_t(256) << 20));  // 64M f32: exact
    BOOST_TEST(size_class((std::size_t(256) << 20) + 1) == (std::size_t(320) << 20));
}

BOOST_AUTO_TEST_CASE(reuses_blocks_per_stream_and_class) {
    FakeDriver::reset(std::size_t(1) << 40);
    BlockCache<FakeDriver> cache;
    std::size_t served = 0;
    bool hit = true;
    void* a = cache.take(1000, 1, &served, &hit);
    BOOST_TEST(served == 1024u);
    BOOST_TEST(!hit);
    cache.give(a);
    void* b = cache.take(1024, 1, &served, &hit);  // same class, same stream: the same block
    BOOST_TEST(hit);
    BOOST_TEST(b == a);
    cache.give(b);
    void* c = cache.take(1000, 2, &served, &hit);  // another stream: a fresh block
    BOOST_TEST(!hit);
    BOOST_TEST(c != a);
    void* d = cache.take(5000, 1, &served, &hit);  // another class: a fresh block
    BOOST_TEST(!hit);
    BOOST_TEST(FakeDriver::allocations == 3);

    auto s = cache.stats();
    BOOST_TEST(s.hits == 1u);
    BOOST_TEST(s.misses == 3u);
    BOOST_TEST(s.bytes_in_use == 1024u + size_class(5000));
    BOOST_TEST(s.bytes_cached == 1024u);  // a, back on stream 1
    BOOST_TEST(s.bytes_peak == 1024u + size_class(5000));

    BOOST_TEST(cache.give(nullptr) == 0u);
    int unknown = 0;
    BOOST_TEST(cache.give(&unknown) == 0u);  // not from this cache: ignored
    cache.give(c);
    cache.give(d);
    s = cache.stats();
    BOOST_TEST(s.bytes_in_use == 0u);
    BOOST_TEST(s.bytes_cached == 2048u + size_class(5000));
    cache.reset_peak();
    BOOST_TEST(cache.stats().bytes_peak == 0u);
    cache.trim();
    BOOST_TEST(cache.stats().bytes_cached == 0u);
    BOOST_TEST(FakeDriver::releases == 3);
    BOOST_TEST(FakeDriver::live.empty());
}

BOOST_AUTO_TEST_CASE(out_of_memory_empties_the_free_lists_first) {
    FakeDriver::reset(4096);
    BlockCache<FakeDriver> cache;
    void* a = cache.take(2048, 1);
    void* b = cache.take(2048, 2);
    cache.give(a);
    cache.give(b);  // 4096 bytes cached, the driver full
    void* c = cache.take(3000, 1);  // another class: fits only once the cache lets go
    BOOST_TEST(c != nullptr);
    BOOST_TEST(cache.stats().bytes_cached == 0u);
    BOOST_TEST(FakeDriver::releases == 2);
    BOOST_CHECK_THROW(cache.take(4096, 1), std::bad_alloc);  // no room even after trimming
    BOOST_TEST(cache.stats().bytes_in_use == size_class(3000));
    cache.give(c);
    cache.trim();
    BOOST_TEST(FakeDriver::live.empty());
}

BOOST_AUTO_TEST_SUITE_END()
