#pragma once
// Streams, events and host<->device copies. Each host thread has a current stream (CUDA's
// per-thread default stream unless a StreamGuard names another); kernels, copies and the block
// cache use it. Copies from pageable host memory go through pinned staging buffers, two per
// thread, so one chunk crosses the bus while the CPU fills or drains the other.

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "ward/backend/cuda/check.cuh"

namespace ward::backend::cuda {

namespace detail {
inline cudaStream_t& current_stream_slot() {
    thread_local cudaStream_t stream = cudaStreamPerThread;
    return stream;
}
}  // namespace detail

/// The stream this thread's work goes to.
inline cudaStream_t current_stream() { return detail::current_stream_slot(); }

/// Makes `stream` this thread's current stream until the guard goes out of scope.
class StreamGuard {
public:
    explicit StreamGuard(cudaStream_t stream) : previous_(detail::current_stream_slot()) {
        detail::current_stream_slot() = stream;
    }
    ~StreamGuard() { detail::current_stream_slot() = previous_; }
    StreamGuard(const StreamGuard&) = delete;
    StreamGuard& operator=(const StreamGuard&) = delete;

private:
    cudaStream_t previous_;
};

/// An owned stream that does not synchronise with the legacy default stream.
class Stream {
public:
    Stream() { WARD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
    ~Stream() { (void)cudaStreamDestroy(stream_); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return stream_; }
    void synchronize() const { WARD_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

private:
    cudaStream_t stream_ = nullptr;
};

/// Waits for everything queued on this thread's current stream.
inline void synchronize() { WARD_CUDA_CHECK(cudaStreamSynchronize(current_stream())); }

/// A CUDA event with timing, for measuring kernels on the GPU's clock.
class Event {
public:
    Event() { WARD_CUDA_CHECK(cudaEventCreate(&event_)); }
    ~Event() { (void)cudaEventDestroy(event_); }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    void record(cudaStream_t stream = current_stream()) { WARD_CUDA_CHECK(cudaEventRecord(event_, stream)); }
    void synchronize() const { WARD_CUDA_CHECK(cudaEventSynchronize(event_)); }
    cudaEvent_t get() const { return event_; }
    /// Milliseconds from `start` to `stop` (both recorded; waits for stop).
    static float elapsed_ms(const Event& start, const Event& stop) {
        stop.synchronize();
        float ms = 0;
        WARD_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, stop.event_));
        return ms;
    }

private:
    cudaEvent_t event_ = nullptr;
};

/// Page-locked host memory: the DMA engines read and write it directly.
class PinnedBuffer {
public:
    explicit PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
        if (bytes) WARD_CUDA_CHECK(cudaMallocHost(&data_, bytes));
    }
    ~PinnedBuffer() {
        if (data_) (void)cudaFreeHost(data_);
    }
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    void* data() const { return data_; }
    std::size_t size() const { return bytes_; }

private:
    void* data_ = nullptr;
    std::size_t bytes_;
};

/// Two pinned chunks and the events that say when the copy using each has finished.
class StagingBuffers {
public:
    static constexpr std::size_t chunk_bytes = std::size_t(4) << 20;

    static StagingBuffers& for_this_thread() {
        thread_local StagingBuffers staging;
        return staging;
    }

    /// Copies host -> device on `stream`; returns once `host` may be reused (the last chunks may
    /// still be in flight from the staging buffers).
    void to_device(void* dev, const void* host, std::size_t bytes, cudaStream_t stream) {
        auto* d = static_cast<unsigned char*>(dev);
        const auto* h = static_cast<const unsigned char*>(host);
        for (std::size_t off = 0, k = 0; off < bytes; off += chunk_bytes, k ^= 1) {
            const std::size_t n = std::min(chunk_bytes, bytes - off);
            done_[k].synchronize();  // the previous copy out of this chunk has finished
            std::memcpy(buffer_[k].data(), h + off, n);
            WARD_CUDA_CHECK(cudaMemcpyAsync(d + off, buffer_[k].data(), n, cudaMemcpyHostToDevice, stream));
            done_[k].record(stream);
        }
    }

    /// Copies device -> host on `stream`, after the work queued before it; returns when `host` holds the data.
    void to_host(void* host, const void* dev, std::size_t bytes, cudaStream_t stream) {
        auto* h = static_cast<unsigned char*>(host);
        const auto* d = static_cast<const unsigned char*>(dev);
        const std::size_t chunks = (bytes + chunk_bytes - 1) / chunk_bytes;
        auto issue = [&](std::size_t c) {
            const std::size_t off = c * chunk_bytes, n = std::min(chunk_bytes, bytes - off);
            WARD_CUDA_CHECK(cudaMemcpyAsync(buffer_[c & 1].data(), d + off, n, cudaMemcpyDeviceToHost, stream));
            done_[c & 1].record(stream);
        };
        if (chunks) issue(0);
        for (std::size_t c = 0; c < chunks; ++c) {
            if (c + 1 < chunks) issue(c + 1);  // the next chunk crosses the bus while this one is drained
            done_[c & 1].synchronize();
            const std::size_t off = c * chunk_bytes;
            std::memcpy(h + off, buffer_[c & 1].data(), std::min(chunk_bytes, bytes - off));
        }
    }

private:
    PinnedBuffer buffer_[2]{PinnedBuffer(chunk_bytes), PinnedBuffer(chunk_bytes)};
    Event done_[2];
};

}  // namespace ward::backend::cuda
