#pragma once
// Reference-counted device memory. Tensors and their views share one Storage through a
// shared_ptr; the memory is released when the last view goes.

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "ward/core/config.hpp"
#include "ward/core/device.hpp"
#include "ward/core/error.hpp"
#include "ward/core/stats.hpp"

namespace ward {

/// Host memory, 64-byte aligned (a cache line, and what AVX-512 loads like). Each block carries its
/// size in a header one alignment unit before the data, for the memory statistics.
template <>
struct DeviceMemory<cpu> {
    static constexpr std::size_t alignment = 64;
    static void* allocate(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
        auto* base = static_cast<unsigned char*>(std::aligned_alloc(alignment, rounded + alignment));
        if (!base) throw std::bad_alloc();
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
        std::free(base);
    }
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
