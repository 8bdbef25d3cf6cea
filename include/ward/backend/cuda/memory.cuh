#pragma once
// Device memory for Tensor<T, cuda>: blocks from the caching allocator (block_cache.cuh) on the
// current stream, copies queued on that stream, host copies through pinned staging buffers.
// The memory statistics count what tensors hold (stats::device_bytes_*), as on the host.
// A block goes back to the free list of the stream it was allocated on: work queued on another
// stream that still reads a tensor must be waited for (an event, a stream sync) before the tensor
// is dropped, and cached blocks of a destroyed stream stay cached until trim_cache().

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include "ward/backend/cuda/block_cache.cuh"
#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/device.hpp"
#include "ward/core/stats.hpp"

namespace ward {

namespace backend::cuda {

/// cudaMalloc and cudaFree for the block cache: nullptr when the device is out of memory.
struct DriverMemory {
    static void* allocate(std::size_t bytes) {
        void* p = nullptr;
        cudaError_t status = cudaMalloc(&p, bytes);
        if (status == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();  // not sticky, but leave no trace for the next check
            return nullptr;
        }
        check(status, "cudaMalloc", __FILE__);
        return p;
    }
    static void release(void* p) { (void)cudaFree(p); }
};

/// The process's device block cache; never destroyed (tensors may outlive static destructors,
/// and cudaFree after the runtime has shut down fails).
inline BlockCache<DriverMemory>& block_cache() {
    static auto* cache = new BlockCache<DriverMemory>;
    return *cache;
}

inline std::uintptr_t stream_key(cudaStream_t s) { return reinterpret_cast<std::uintptr_t>(s); }

}  // namespace backend::cuda

template <>
struct DeviceMemory<cuda> {
    static void* allocate(std::size_t bytes) {
        if (bytes == 0) return nullptr;
        std::size_t served = 0;
        bool hit = false;
        void* p = nullptr;
        try {
            p = backend::cuda::block_cache().take(bytes, backend::cuda::stream_key(backend::cuda::current_stream()), &served, &hit);
        } catch (const std::bad_alloc&) {
            throw cuda_error("CUDA: cudaMalloc of " + std::to_string(bytes) + " bytes failed: out of device memory (" +
                                 std::to_string(stats::device_bytes_in_use.load()) + " bytes held by tensors)",
                             "cudaMalloc", int(cudaErrorMemoryAllocation));
        }
        ++(hit ? stats::device_cache_hits : stats::device_cache_misses);
        stats::note_device_allocation(static_cast<std::int64_t>(served));
        return p;
    }
    static void release(void* p) noexcept {
        std::size_t served = backend::cuda::block_cache().give(p);
        if (served) stats::note_device_release(static_cast<std::int64_t>(served));
    }
    /// Frees the blocks kept for reuse (waits for the device: cudaFree synchronises).
    static void trim_cache() { backend::cuda::block_cache().trim(); }
    static std::size_t cached_bytes() { return backend::cuda::block_cache().stats().bytes_cached; }

    static void copy(void* dst, const void* src, std::size_t bytes) {
        if (bytes)
            WARD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, backend::cuda::current_stream()));
    }
    /// Returns when `host` holds the data (after the work queued before it on the current stream).
    static void to_host(void* host, const void* dev, std::size_t bytes) {
        if (bytes) backend::cuda::StagingBuffers::for_this_thread().to_host(host, dev, bytes, backend::cuda::current_stream());
    }
    /// Returns once `host` may be reused; the copy completes in stream order.
    static void from_host(void* dev, const void* host, std::size_t bytes) {
        if (bytes) backend::cuda::StagingBuffers::for_this_thread().to_device(dev, host, bytes, backend::cuda::current_stream());
    }
};

}  // namespace ward
