#pragma once
// The one shim over oneDNN's C API (dnnl.h, not dnnl.hpp: nvcc 13 in C++20 crashes on the C++
// wrapper, and CUDA translation units may reach this header). It owns:
//   - the process-wide CPU engine and a per-thread stream on it;
//   - check(), which turns a failed status into ward::backend_error naming the call;
//   - MemoryDesc, built from dims + element strides (f32/bf16);
//   - the only `#if DNNL_VERSION_MAJOR >= 3` in the library: oneDNN 3.x turned memory descriptors
//     into opaque handles and fused "op desc init + primitive desc create" into one call per op;
//   - the primitive cache: a primitive is created once per compact POD key (op, shapes, strides,
//     dtype, post-ops) and reused. Creating one costs tens of microseconds, so a cache hit is the
//     whole difference between a fast and a slow small matmul;
//   - copy_strided (the layout-fallback copy) and the row helpers the CPU op files share.

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "ward/core/config.hpp"
#include "ward/core/dtype.hpp"
#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cpu::onednn {

// ---------------------------------------------------------------------------------------------
// Status checks.

inline const char* status_name(dnnl_status_t s) {
    switch (s) {
        case dnnl_success: return "success";
        case dnnl_out_of_memory: return "out of memory";
        case dnnl_invalid_arguments: return "invalid arguments";
        case dnnl_unimplemented: return "unimplemented";
        case dnnl_runtime_error: return "runtime error";
        case dnnl_not_required: return "not required";
        default: return "unknown status";
    }
}

/// Throws backend_error naming the oneDNN call when `s` is not dnnl_success.
inline void check(dnnl_status_t s, const char* call) {
    if (s != dnnl_success)
        throw backend_error(std::string("oneDNN: ") + call + " failed: " + status_name(s) + " (status " +
                            std::to_string(static_cast<int>(s)) + ")");
}

// ---------------------------------------------------------------------------------------------
// Engine and streams.

/// The process-wide CPU engine, created on first use (thread-safe). Deliberately never destroyed:
/// cached primitives and thread-local streams refer to it until the process ends.
inline dnnl_engine_t engine() {
    static dnnl_engine_t e = [] {
        dnnl_engine_t eng = nullptr;
        check(dnnl_engine_create(&eng, dnnl_cpu, 0), "dnnl_engine_create(cpu, 0)");
        return eng;
    }();
    return e;
}

namespace detail {
struct ThreadStream {
    dnnl_stream_t s = nullptr;
    ThreadStream() { check(dnnl_stream_create(&s, engine(), dnnl_stream_default_flags), "dnnl_stream_create"); }
    ~ThreadStream() {
        if (s) dnnl_stream_destroy(s);
    }
    ThreadStream(const ThreadStream&) = delete;
    ThreadStream& operator=(const ThreadStream&) = delete;
};
}  // namespace detail

/// The calling thread's stream on engine(). oneDNN streams are not meant to be driven by several
/// threads at once, so each thread gets its own (created lazily); primitives are shared.
inline dnnl_stream_t stream() {
    thread_local detail::ThreadStream ts;
    return ts.s;
}

// ---------------------------------------------------------------------------------------------
// Data types and memory descriptors.

template <class T>
constexpr dnnl_data_type_t data_type_of() {
    if constexpr (std::is_same_v<T, float>) return dnnl_f32;
    else if constexpr (std::is_same_v<T, bf16>) return dnnl_bf16;
    else static_assert(sizeof(T) == 0, "oneDNN takes f32 and bf16 here (f64 has its own paths)");
}

#if DNNL_VERSION_MAJOR >= 3
using md_handle = const_dnnl_memory_desc_t;
#else
using md_handle = const dnnl_memory_desc_t*;
#endif

/// An owned memory descriptor: dims plus strides in elements (a plain "blocked" layout).
class MemoryDesc {
public:
    MemoryDesc() = default;
    MemoryDesc(int ndims, const dnnl_dim_t* dims, const dnnl_dim_t* strides, dnnl_data_type_t dt) {
        dnnl_dims_t d{}, s{};
        for (int i = 0; i < ndims; ++i) {
            d[i] = dims[i];
            s[i] = strides[i];
        }
#if DNNL_VERSION_MAJOR >= 3
        check(dnnl_memory_desc_create_with_strides(&md_, ndims, d, dt, s), "dnnl_memory_desc_create_with_strides");
#else
        check(dnnl_memory_desc_init_by_strides(&md_, ndims, d, dt, s), "dnnl_memory_desc_init_by_strides");
        set_ = true;
#endif
    }
    MemoryDesc(const MemoryDesc&) = delete;
    MemoryDesc& operator=(const MemoryDesc&) = delete;
    MemoryDesc(MemoryDesc&& o) noexcept { swap(o); }
    MemoryDesc& operator=(MemoryDesc&& o) noexcept {
        swap(o);
        return *this;
    }
    ~MemoryDesc() {
#if DNNL_VERSION_MAJOR >= 3
        if (md_) dnnl_memory_desc_destroy(md_);
#endif
    }
    /// The handle oneDNN functions take; nullptr for an empty descriptor (e.g. "no bias").
    md_handle get() const {
#if DNNL_VERSION_MAJOR >= 3
        return md_;
#else
        return set_ ? &md_ : nullptr;
#endif
    }

private:
    void swap(MemoryDesc& o) noexcept {
        std::swap(md_, o.md_);
#if DNNL_VERSION_MAJOR < 3
        std::swap(set_, o.set_);
#endif
    }
#if DNNL_VERSION_MAJOR >= 3
    dnnl_memory_desc_t md_ = nullptr;
#else
    dnnl_memory_desc_t md_{};
    bool set_ = false;
#endif
};

/// A memory descriptor for a strided view (dims and element strides as they are).
template <class T>
MemoryDesc memory_desc(const StridedView<T>& v) {
    dnnl_dim_t d[max_rank], s[max_rank];
    for (int i = 0; i < v.shape.rank; ++i) {
        d[i] = v.shape[i];
        s[i] = v.strides[i];
    }
    return MemoryDesc(v.shape.rank, d, s, data_type_of<std::remove_const_t<T>>());
}

// ---------------------------------------------------------------------------------------------
// Primitive-descriptor creation: the 2.x / 3.x differences, one function per op. Each returns the
// status (dnnl_unimplemented is an answer, not an error: the callers fall back).

inline dnnl_status_t matmul_pd(dnnl_primitive_desc_t* pd, const MemoryDesc& src, const MemoryDesc& wei,
                               const MemoryDesc* bias, const MemoryDesc& dst, const_dnnl_primitive_attr_t attr) {
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_matmul_primitive_desc_create(pd, engine(), src.get(), wei.get(), bias ? bias->get() : nullptr,
                                             dst.get(), attr);
#else
    dnnl_matmul_desc_t d;
    dnnl_status_t s = dnnl_matmul_desc_init(&d, src.get(), wei.get(), bias ? bias->get() : nullptr, dst.get());
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &d, attr, engine(), nullptr);
#endif
}

/// Softmax (log = false) or log-softmax (log = true) along `axis`, forward inference.
inline dnnl_status_t softmax_pd(dnnl_primitive_desc_t* pd, bool log, const MemoryDesc& src, const MemoryDesc& dst,
                                int axis) {
    const dnnl_alg_kind_t alg = log ? dnnl_softmax_log : dnnl_softmax_accurate;
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_softmax_forward_primitive_desc_create(pd, engine(), dnnl_forward_inference, alg, src.get(),
                                                      dst.get(), axis, nullptr);
#else
    dnnl_softmax_v2_desc_t d;
    dnnl_status_t s = dnnl_softmax_v2_forward_desc_init(&d, dnnl_forward_inference, alg, src.get(), dst.get(), axis);
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &d, nullptr, engine(), nullptr);
#endif
}

/// Layer normalisation over the last axis. `training` asks for mean/variance outputs. oneDNN 2.x
/// has one data descriptor for src and dst: callers pass the same layout for both there.
inline dnnl_status_t layer_norm_pd(dnnl_primitive_desc_t* pd, bool training, const MemoryDesc& src,
                                   const MemoryDesc& dst, float eps, unsigned flags) {
    const dnnl_prop_kind_t prop = training ? dnnl_forward_training : dnnl_forward_inference;
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_layer_normalization_forward_primitive_desc_create(pd, engine(), prop, src.get(), dst.get(), nullptr,
                                                                  eps, flags, nullptr);
#else
    (void)dst;
    dnnl_layer_normalization_desc_t d;
    dnnl_status_t s = dnnl_layer_normalization_forward_desc_init(&d, prop, src.get(), nullptr, eps, flags);
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &d, nullptr, engine(), nullptr);
#endif
}

/// Appends an element-wise post-op (3.x dropped the leading scale argument).
inline void append_eltwise(dnnl_post_ops_t po, dnnl_alg_kind_t alg, float alpha, float beta) {
#if DNNL_VERSION_MAJOR >= 3
    check(dnnl_post_ops_append_eltwise(po, alg, alpha, beta), "dnnl_post_ops_append_eltwise");
#else
    check(dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, beta), "dnnl_post_ops_append_eltwise");
#endif
}

/// Primitive attributes holding at most one element-wise post-op (alg = dnnl_alg_kind_undef: none).
class Attr {
public:
    explicit Attr(dnnl_alg_kind_t eltwise = dnnl_alg_kind_undef, float alpha = 0.f, float beta = 0.f) {
        check(dnnl_primitive_attr_create(&attr_), "dnnl_primitive_attr_create");
        if (eltwise == dnnl_alg_kind_undef) return;
        dnnl_post_ops_t po = nullptr;
        check(dnnl_post_ops_create(&po), "dnnl_post_ops_create");
        try {
            append_eltwise(po, eltwise, alpha, beta);
            check(dnnl_primitive_attr_set_post_ops(attr_, po), "dnnl_primitive_attr_set_post_ops");
        } catch (...) {
            dnnl_post_ops_destroy(po);
            dnnl_primitive_attr_destroy(attr_);
            throw;
        }
        dnnl_post_ops_destroy(po);
    }
    ~Attr() { dnnl_primitive_attr_destroy(attr_); }
    Attr(const Attr&) = delete;
    Attr& operator=(const Attr&) = delete;
    const_dnnl_primitive_attr_t get() const { return attr_; }

private:
    dnnl_primitive_attr_t attr_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Primitive cache.

/// A compact cache key: a fixed array of 64-bit words (op tag, dtype, flags, dims, strides, ...),
/// compared with memcmp and hashed without allocating.
struct Key {
    static constexpr int capacity = 72;
    std::array<std::int64_t, capacity> w;
    int n = 0;

    void push(std::int64_t x) {
        if (n == capacity) throw backend_error("oneDNN primitive cache: key longer than " + std::to_string(capacity));
        w[static_cast<std::size_t>(n++)] = x;
    }
    void push_double(double x) {
        std::int64_t b;
        std::memcpy(&b, &x, sizeof b);
        push(b);
    }
    friend bool operator==(const Key& a, const Key& b) {
        return a.n == b.n && std::memcmp(a.w.data(), b.w.data(), sizeof(std::int64_t) * static_cast<std::size_t>(a.n)) == 0;
    }
};

struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
        std::uint64_t h = 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(k.n);
        for (int i = 0; i < k.n; ++i) {
            h ^= static_cast<std::uint64_t>(k.w[static_cast<std::size_t>(i)]);
            h *= 0xff51afd7ed558ccdull;
            h ^= h >> 32;
        }
        return static_cast<std::size_t>(h);
    }
};

/// Ops known to the cache (the first key word).
enum class Op : std::int64_t { matmul = 1, softmax = 2, layer_norm = 3, gelu = 4 };

/// A cached primitive with one reusable memory object per execution argument, so a cache hit
/// only swaps data pointers. `usable() == false` caches a negative answer (oneDNN has no
/// implementation for that key), so callers do not retry creation on every call.
class Primitive {
public:
    static constexpr int max_args = 8;

    Primitive() = default;
    Primitive(const Primitive&) = delete;
    Primitive& operator=(const Primitive&) = delete;
    ~Primitive() {
        for (int i = 0; i < nargs_; ++i)
            if (mem_[i]) dnnl_memory_destroy(mem_[i]);
        if (prim_) dnnl_primitive_destroy(prim_);
    }

    /// Takes ownership of `pd` (destroyed here); `args` are the DNNL_ARG_* ids execute() will bind.
    static std::shared_ptr<Primitive> create(dnnl_primitive_desc_t pd, std::initializer_list<int> args) {
        auto p = std::make_shared<Primitive>();
        struct PdGuard {
            dnnl_primitive_desc_t pd;
            ~PdGuard() { dnnl_primitive_desc_destroy(pd); }
        } guard{pd};
        const char* impl = nullptr;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            p->impl_ = impl;
        check(dnnl_primitive_create(&p->prim_, pd), "dnnl_primitive_create");
        for (int a : args) {
            if (p->nargs_ == max_args) throw backend_error("oneDNN primitive: too many arguments");
            md_handle md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a);
            p->arg_[p->nargs_] = a;
            check(dnnl_memory_create(&p->mem_[p->nargs_], md, engine(), nullptr), "dnnl_memory_create");
            ++p->nargs_;
        }
        return p;
    }

    bool usable() const { return prim_ != nullptr; }
    /// oneDNN picked its reference (naive-loop) implementation.
    bool is_reference() const { return impl_.rfind("ref", 0) == 0; }
    const std::string& impl() const { return impl_; }

    /// Op-specific plan bits the creator stores with the primitive (e.g. which operands to pack).
    unsigned plan = 0;

    /// Runs the primitive on the calling thread's stream; handles[i] binds to the i-th argument id.
    void execute(void* const* handles) const {
        dnnl_exec_arg_t args[max_args];
        if (!busy_.test_and_set(std::memory_order_acquire)) {
            // Fast path: reuse this primitive's memory objects (one user at a time).
            struct Release {
                std::atomic_flag& f;
                ~Release() { f.clear(std::memory_order_release); }
            } release{busy_};
            for (int i = 0; i < nargs_; ++i) {
                check(dnnl_memory_set_data_handle(mem_[i], handles[i]), "dnnl_memory_set_data_handle");
                args[i] = {arg_[i], mem_[i]};
            }
            run(args);
            return;
        }
        // Another thread holds the memory objects: use temporary ones.
        dnnl_memory_t tmp[max_args] = {};
        struct Destroy {
            dnnl_memory_t* m;
            int n;
            ~Destroy() {
                for (int i = 0; i < n; ++i)
                    if (m[i]) dnnl_memory_destroy(m[i]);
            }
        } destroy{tmp, nargs_};
        const_dnnl_primitive_desc_t pd = nullptr;
        check(dnnl_primitive_get_primitive_desc(prim_, &pd), "dnnl_primitive_get_primitive_desc");
        for (int i = 0; i < nargs_; ++i) {
            md_handle md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg_[i]);
            check(dnnl_memory_create(&tmp[i], md, engine(), handles[i]), "dnnl_memory_create");
            args[i] = {arg_[i], tmp[i]};
        }
        run(args);
    }

    std::atomic<std::uint64_t> last_use{0};

private:
    void run(const dnnl_exec_arg_t* args) const {
        dnnl_stream_t s = stream();
        check(dnnl_primitive_execute(prim_, s, nargs_, args), "dnnl_primitive_execute");
        check(dnnl_stream_wait(s), "dnnl_stream_wait");
    }

    dnnl_primitive_t prim_ = nullptr;
    std::string impl_;
    int nargs_ = 0;
    int arg_[max_args] = {};
    dnnl_memory_t mem_[max_args] = {};
    mutable std::atomic_flag busy_;  // clear on construction (C++20)
};

/// Counters readable by tests and benchmarks.
struct CacheStats {
    std::uint64_t created = 0;         ///< primitives created (cache misses that built one)
    std::uint64_t hits = 0;            ///< lookups answered from the cache
    std::uint64_t unimplemented = 0;   ///< keys for which oneDNN had no implementation (cached too)
    std::uint64_t evicted = 0;         ///< entries dropped to respect the capacity
    std::uint64_t layout_copies = 0;   ///< operands copied because oneDNN could not take their layout
    std::uint64_t loop_fallbacks = 0;  ///< calls served by ward's own loops instead of oneDNN
    std::size_t size = 0;              ///< entries now in the cache
};

class PrimitiveCache {
public:
    static PrimitiveCache& instance() {
        // Leaked on purpose: primitives must not outlive the engine, and no static destructor
        // order can be trusted at exit.
        static PrimitiveCache* c = new PrimitiveCache();
        return *c;
    }

    /// The primitive for `key`, built with `make()` (returning shared_ptr<Primitive>; an empty
    /// Primitive for "unimplemented") on a miss.
    template <class Make>
    std::shared_ptr<Primitive> get(const Key& key, Make&& make) {
        const std::uint64_t t = tick_.fetch_add(1, std::memory_order_relaxed);
        {
            std::shared_lock lock(mutex_);
            auto it = map_.find(key);
            if (it != map_.end()) {
                hits_.fetch_add(1, std::memory_order_relaxed);
                it->second->last_use.store(t, std::memory_order_relaxed);
                return it->second;
            }
        }
        std::shared_ptr<Primitive> p = make();  // slow: outside the lock
        if (p->usable()) created_.fetch_add(1, std::memory_order_relaxed);
        else unimplemented_.fetch_add(1, std::memory_order_relaxed);
        p->last_use.store(t, std::memory_order_relaxed);
        std::unique_lock lock(mutex_);
        auto [it, inserted] = map_.try_emplace(key, p);
        if (!inserted) return it->second;  // another thread built it first
        if (map_.size() > capacity_) evict_one(it->first);
        return p;
    }

    CacheStats stats() const {
        CacheStats s;
        s.created = created_.load(std::memory_order_relaxed);
        s.hits = hits_.load(std::memory_order_relaxed);
        s.unimplemented = unimplemented_.load(std::memory_order_relaxed);
        s.evicted = evicted_.load(std::memory_order_relaxed);
        s.layout_copies = copies_.load(std::memory_order_relaxed);
        s.loop_fallbacks = loops_.load(std::memory_order_relaxed);
        std::shared_lock lock(mutex_);
        s.size = map_.size();
        return s;
    }
    /// Drops every entry (primitives still in use elsewhere live until released).
    void clear() {
        std::unique_lock lock(mutex_);
        map_.clear();
    }
    void set_capacity(std::size_t n) {
        std::unique_lock lock(mutex_);
        capacity_ = n < 1 ? 1 : n;
        while (map_.size() > capacity_) evict_one(Key{});
    }
    void count_copy(std::uint64_t n = 1) { copies_.fetch_add(n, std::memory_order_relaxed); }
    void count_loop() { loops_.fetch_add(1, std::memory_order_relaxed); }

private:
    PrimitiveCache() = default;

    // Least recently used entry other than `keep` (a linear scan: only on insertion when full,
    // which already paid for a primitive creation).
    void evict_one(const Key& keep) {
        auto victim = map_.end();
        std::uint64_t oldest = UINT64_MAX;
        for (auto it = map_.begin(); it != map_.end(); ++it) {
            if (it->first == keep) continue;
            std::uint64_t u = it->second->last_use.load(std::memory_order_relaxed);
            if (u < oldest) {
                oldest = u;
                victim = it;
            }
        }
        if (victim != map_.end()) {
            map_.erase(victim);
            evicted_.fetch_add(1, std::memory_order_relaxed);
        }
    }

    mutable std::shared_mutex mutex_;
    std::unordered_map<Key, std::shared_ptr<Primitive>, KeyHash> map_;
    std::size_t capacity_ = 4096;
    std::atomic<std::uint64_t> tick_{0}, created_{0}, hits_{0}, unimplemented_{0}, evicted_{0}, copies_{0}, loops_{0};
};

inline CacheStats cache_stats() { return PrimitiveCache::instance().stats(); }
inline void clear_cache() { PrimitiveCache::instance().clear(); }
inline void set_cache_capacity(std::size_t n) { PrimitiveCache::instance().set_capacity(n); }

}  // namespace ward::backend::cpu::onednn

namespace ward::backend::cpu::detail {

/// Offset of row q of a (..., D) view (rows enumerated in row-major order of the leading dims).
template <class V>
inline index_t row_offset(const V& v, index_t q) {
    index_t off = 0;
    for (int i = v.shape.rank - 2; i >= 0; --i) {
        off += (q % v.shape[i]) * v.strides[i];
        q /= v.shape[i];
    }
    return off;
}

/// Runs body(q) for every row q, in parallel when the work is large enough to pay for threads.
template <class F>
inline void for_each_row(index_t rows, index_t row_len, F&& body) {
    if (rows > 1 && rows * row_len >= (index_t{1} << 15)) {
#pragma omp parallel for schedule(static)
        for (index_t q = 0; q < rows; ++q) body(q);
    } else {
        for (index_t q = 0; q < rows; ++q) body(q);
    }
}

/// dst[i...] = element_cast<To>(src[i...]) for two views of the same shape (any strides; the
/// innermost axis is a memcpy where both are unit-stride and the types match). Parallel over
/// outer rows for large copies. This is the layout-fallback copy and concat's workhorse.
template <class To, class From>
void copy_strided(StridedView<const From> src, StridedView<To> dst) {
    const int r = src.shape.rank;
    if (src.numel() == 0) return;
    if (r == 0) {
        *dst.data = element_cast<To>(*src.data);
        return;
    }
    const index_t inner = src.shape[r - 1];
    const index_t ss = src.strides[r - 1], ds = dst.strides[r - 1];
    const index_t rows = src.numel() / inner;
    auto row = [&](index_t q) {
        index_t so = 0, doff = 0;
        for (int i = r - 2; i >= 0; --i) {
            const index_t idx = q % src.shape[i];
            q /= src.shape[i];
            so += idx * src.strides[i];
            doff += idx * dst.strides[i];
        }
        const From* s = src.data + so;
        To* d = dst.data + doff;
        if constexpr (std::is_same_v<To, From>) {
            if (ss == 1 && ds == 1) {
                std::memcpy(d, s, sizeof(To) * static_cast<std::size_t>(inner));
                return;
            }
        }
        for (index_t j = 0; j < inner; ++j) d[j * ds] = element_cast<To>(s[j * ss]);
    };
    if (rows > 1 && src.numel() >= (index_t{1} << 16)) {
#pragma omp parallel for schedule(static)
        for (index_t q = 0; q < rows; ++q) row(q);
    } else {
        for (index_t q = 0; q < rows; ++q) row(q);
    }
}

}  // namespace ward::backend::cpu::detail
