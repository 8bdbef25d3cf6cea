#pragma once
// The bookkeeping of the caching device allocator, free of CUDA calls so the CPU tests can check
// it: requests round up to size classes, freed blocks go to a free list per (stream, class) and
// the next request of that class on that stream takes one back. cudaMalloc and cudaFree cost tens
// of microseconds and cudaFree synchronises the device; a training step frees and allocates the
// same sizes every step. A block is reused only on the stream it was freed on, where the kernels
// that used it are ordered before the kernels of its next owner.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ward::backend::cuda {

/// The size a request of `bytes` (> 0) is served with: a multiple of 512 bytes, and above that a
/// multiple of a quarter of the request's power of two, so at most 25% of a block is unused and a
/// few classes cover the sizes of a model.
inline std::size_t size_class(std::size_t bytes) {
    constexpr std::size_t granule = 512;
    if (bytes <= granule) return granule;
    std::size_t p = granule;
    while (p <= bytes / 2) p *= 2;  // the largest power of two <= bytes
    std::size_t step = p / 4 < granule ? granule : p / 4;
    return (bytes + step - 1) / step * step;
}

/// What a BlockCache holds and how often it was hit.
struct BlockCacheStats {
    std::size_t bytes_in_use = 0;  // held by callers (size classes)
    std::size_t bytes_peak = 0;    // most in use at once
    std::size_t bytes_cached = 0;  // held in free lists
    std::uint64_t hits = 0;        // requests served from a free list
    std::uint64_t misses = 0;      // requests that reached Raw::allocate
};

/// Raw provides static void* allocate(std::size_t) (nullptr when out of memory) and
/// static void release(void*). Streams are opaque keys.
template <class Raw>
class BlockCache {
public:
    using stream_key = std::uintptr_t;

    /// A block of at least `bytes` (> 0) for use on `stream`; `*bytes_served` gets its size class.
    /// Throws std::bad_alloc when Raw has no memory even after the free lists are emptied.
    void* take(std::size_t bytes, stream_key stream, std::size_t* bytes_served = nullptr, bool* hit = nullptr) {
        const std::size_t cls = size_class(bytes);
        std::lock_guard<std::mutex> lock(mutex_);
        bool from_cache = false;
        void* p = nullptr;
        auto it = free_.find({stream, cls});
        if (it != free_.end() && !it->second.empty()) {
            p = it->second.back();  // the most recently freed: still warm in L2
            it->second.pop_back();
            stats_.bytes_cached -= cls;
            from_cache = true;
        } else {
            p = Raw::allocate(cls);
            if (!p) {  // out of memory: what the free lists hold may make room
                release_all_locked();
                p = Raw::allocate(cls);
            }
            if (!p) throw std::bad_alloc();
        }
        try {
            live_.emplace(p, Block{cls, stream});
        } catch (...) {
            Raw::release(p);
            throw;
        }
        from_cache ? ++stats_.hits : ++stats_.misses;
        stats_.bytes_in_use += cls;
        if (stats_.bytes_in_use > stats_.bytes_peak) stats_.bytes_peak = stats_.bytes_in_use;
        if (bytes_served) *bytes_served = cls;
        if (hit) *hit = from_cache;
        return p;
    }

    /// Returns a block from take() to its stream's free list; returns its size class (0 for nullptr
    /// or a pointer this cache did not hand out).
    std::size_t give(void* p) noexcept {
        if (!p) return 0;
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = live_.find(p);
        if (it == live_.end()) return 0;
        Block b = it->second;
        live_.erase(it);
        stats_.bytes_in_use -= b.bytes;
        try {
            free_[{b.stream, b.bytes}].push_back(p);
            stats_.bytes_cached += b.bytes;
        } catch (...) {  // the free list could not grow: hand the block back instead
            Raw::release(p);
        }
        return b.bytes;
    }

    /// Hands every cached block back to Raw.
    void trim() {
        std::lock_guard<std::mutex> lock(mutex_);
        release_all_locked();
    }

    BlockCacheStats stats() {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }
    void reset_peak() {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.bytes_peak = stats_.bytes_in_use;
    }

private:
    struct Block {
        std::size_t bytes;
        stream_key stream;
    };
    std::mutex mutex_;
    std::unordered_map<void*, Block> live_;
    std::map<std::pair<stream_key, std::size_t>, std::vector<void*>> free_;
    BlockCacheStats stats_;

    void release_all_locked() {
        for (auto& [key, blocks] : free_)
            for (void* p : blocks) Raw::release(p);
        free_.clear();
        stats_.bytes_cached = 0;
    }
};

}  // namespace ward::backend::cuda
