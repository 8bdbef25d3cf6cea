#pragma once
// Reference-counted device memory. Tensors and their views share one Storage through a
// shared_ptr; the memory is released when the last view goes (host blocks to a reuse cache).

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <new>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/error.hpp"
#include "ward/core/stats.hpp"

namespace ward {

namespace detail {
/// Freed host blocks kept for reuse, by exact rounded size. A training step allocates the same
/// sizes every step; handing them back to the OS and faulting fresh pages in again costs more than
/// the step's element-wise work. Blocks of at least 2 MiB are 2 MiB aligned and advised as huge
/// pages. The cache holds no more than the most bytes tensors have held at once (so the process
/// stays under twice its peak), evicting the longest-unused blocks first.
class HostBlockCache {
public:
    static constexpr std::size_t min_cached = std::size_t{1} << 16;  // smaller blocks: malloc is fast
    static constexpr std::size_t huge = std::size_t{1} << 21;

    static HostBlockCache& instance() {
        static HostBlockCache* c = new HostBlockCache;  // never destroyed: tensors may outlive statics
        return *c;
    }
    /// A block of `bytes` (rounded, > 0) plus `header` bytes in front, from the cache or the OS.
    unsigned char* take(std::size_t bytes, std::size_t header) {
        if (bytes >= min_cached) {
            std::lock_guard<std::mutex> lock(mutex_);
            in_use_ += bytes;
            high_water_ = std::max(high_water_, in_use_);
            auto it = by_size_.find(bytes);
            if (it != by_size_.end() && !it->second.empty()) {
                auto block = it->second.back();  // the most recently freed: its pages are warm
                it->second.pop_back();
                unsigned char* b = block->base;
                order_.erase(block);
                cached_ -= bytes;
                return b;
            }
        }
        if (unsigned char* b = fresh(bytes, header)) return b;
        trim();  // out of memory: what the cache holds may make room
        if (unsigned char* b = fresh(bytes, header)) return b;
        if (bytes >= min_cached) {
            std::lock_guard<std::mutex> lock(mutex_);
            in_use_ -= bytes;
        }
        throw std::bad_alloc();
    }
    /// Returns a block taken with the same `bytes`.
    void give(unsigned char* base, std::size_t bytes) {
        if (bytes >= min_cached) {
            std::lock_guard<std::mutex> lock(mutex_);
            in_use_ -= bytes;
            if (bytes <= high_water_) {
                while (cached_ + bytes > high_water_) evict_oldest();
                auto& same = by_size_[bytes];
                same.reserve(same.size() + 1);  // so neither push below can throw after the other
                order_.push_back({base, bytes});
                same.push_back(std::prev(order_.end()));
                cached_ += bytes;
                return;
            }
        }
        std::free(base);
    }
    /// Frees every cached block (memory the process holds but no tensor uses).
    void trim() {
        std::lock_guard<std::mutex> lock(mutex_);
        while (!order_.empty()) evict_oldest();
    }
    std::size_t cached_bytes() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_;
    }

private:
    struct Block {
        unsigned char* base;
        std::size_t bytes;
    };
    std::mutex mutex_;
    std::list<Block> order_;  // cached blocks, longest unused first
    std::unordered_map<std::size_t, std::vector<std::list<Block>::iterator>> by_size_;
    std::size_t cached_ = 0, in_use_ = 0, high_water_ = 0;

    void evict_oldest() {
        Block b = order_.front();
        auto& same = by_size_[b.bytes];
        same.erase(same.begin());  // the oldest of its size is first
        order_.pop_front();
        cached_ -= b.bytes;
        std::free(b.base);
    }
    /// A new block from the allocator, or nullptr.
    static unsigned char* fresh(std::size_t bytes, std::size_t header) {
        const std::size_t total = bytes + header;
        const std::size_t align = total >= huge ? huge : header;
        const std::size_t size = (total + align - 1) / align * align;
        auto* base = static_cast<unsigned char*>(std::aligned_alloc(align, size));
        if (!base) return nullptr;
#if defined(__linux__)
        if (align == huge) {
            // Huge pages for the whole 2 MiB pages the block fills; small ones for the tail, which may
            // hold only the last bytes (a 32 MiB weight plus its header would otherwise fault in a
            // whole huge page for 64 bytes).
            const std::size_t whole = total / huge * huge;
            madvise(base, whole, MADV_HUGEPAGE);
            if (size > whole) madvise(base + whole, size - whole, MADV_NOHUGEPAGE);
        }
#endif
        return base;
    }
};
}  // namespace detail

/// Host memory, 64-byte aligned (a cache line, and what AVX-512 loads like). Each block carries its
/// size in a header one alignment unit before the data, for the memory statistics, which count
/// what tensors hold (not what the block cache keeps for reuse).
template <>
struct DeviceMemory<cpu> {
    static constexpr std::size_t alignment = 64;
    static void* allocate(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
        unsigned char* base = detail::HostBlockCache::instance().take(rounded, alignment);
        std::memcpy(base, &rounded, sizeof rounded);
        stats::note_host_allocation(static_cast<std::int64_t>(rounded));
        return base + alignment;
    }
    static void release(void* p) noexcept {
        if (!p) return;
        unsigned char* base = static_cast<unsigned char*>(p) - alignment;
        std::size_t rounded;
        std::memcpy(&rounded, base, sizeof rounded);
        stats::note_host_release(static_cast<std::int64_t>(rounded));
        try {
            detail::HostBlockCache::instance().give(base, rounded);
        } catch (...) {  // the cache's bookkeeping could not grow: free the block instead
            std::free(base);
        }
    }
    /// Frees the blocks kept for reuse.
    static void trim_cache() { detail::HostBlockCache::instance().trim(); }
    static std::size_t cached_bytes() { return detail::HostBlockCache::instance().cached_bytes(); }
    static void copy(void* dst, const void* src, std::size_t bytes) {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    static void to_host(void* host, const void* dev, std::size_t bytes) { copy(host, dev, bytes); }
    static void from_host(void* dev, const void* host, std::size_t bytes) { copy(dev, host, bytes); }
};

/// `count` elements of T on device D.
template <class T, Device D>
class Storage {
public:
    explicit Storage(std::size_t count)
        : data_(static_cast<T*>(DeviceMemory<D>::allocate(count * sizeof(T)))), count_(count) {}
    ~Storage() { DeviceMemory<D>::release(data_); }
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    T* data() const { return data_; }
    std::size_t size() const { return count_; }

private:
    T* data_;
    std::size_t count_;
};

template <class T, Device D>
using StoragePtr = std::shared_ptr<Storage<T, D>>;

}  // namespace ward
