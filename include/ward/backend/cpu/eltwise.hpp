#pragma once
// GELU (tanh form) and its gradient over dense f32 arrays through oneDNN's eltwise primitives,
// which oneDNN generates for the widest vectors the machine has at run time; ward's own loops are
// built for the compile flags (SSE2 without -march), where tanh is the costliest element-wise work
// of a GPT-2 step.
//
//   x, y, dy, dx are (n) contiguous
//   forward:  y  = gelu_tanh(x) = x / 2 (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
//   backward: dx = dy gelu_tanh'(x)
//
// Each returns false where oneDNN has no implementation; the caller then uses its own loop.

#include <cstdint>

#include "ward/backend/cpu/onednn.hpp"
#include "ward/core/config.hpp"

namespace ward::backend::cpu {

namespace onednn {
/// GELU (tanh) eltwise primitive descriptors: forward, or backward from the source (with the
/// forward descriptor as its hint).
inline dnnl_status_t gelu_forward_pd(dnnl_primitive_desc_t* pd, const MemoryDesc& md) {
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_eltwise_forward_primitive_desc_create(pd, engine(), dnnl_forward_training, dnnl_eltwise_gelu_tanh,
                                                      md.get(), md.get(), 0.f, 0.f, nullptr);
#else
    dnnl_eltwise_desc_t d;
    dnnl_status_t s = dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, dnnl_eltwise_gelu_tanh, md.get(), 0.f, 0.f);
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &d, nullptr, engine(), nullptr);
#endif
}
inline dnnl_status_t gelu_backward_pd(dnnl_primitive_desc_t* pd, const MemoryDesc& md, const_dnnl_primitive_desc_t hint) {
#if DNNL_VERSION_MAJOR >= 3
    return dnnl_eltwise_backward_primitive_desc_create(pd, engine(), dnnl_eltwise_gelu_tanh, md.get(), md.get(), md.get(),
                                                       0.f, 0.f, hint, nullptr);
#else
    dnnl_eltwise_desc_t d;
    dnnl_status_t s = dnnl_eltwise_backward_desc_init(&d, dnnl_eltwise_gelu_tanh, md.get(), md.get(), 0.f, 0.f);
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &d, nullptr, engine(), hint);
#endif
}
}  // namespace onednn

namespace detail {
/// The cached GELU primitive over n elements (backward: from the source).
inline std::shared_ptr<onednn::Primitive> gelu_primitive(index_t n, bool backward) {
    onednn::Key key;
    key.push(static_cast<std::int64_t>(onednn::Op::gelu) | (std::int64_t{backward} << 16));
    key.push(n);
    return onednn::PrimitiveCache::instance().get(key, [&] {
        const dnnl_dim_t dims[1] = {n}, strides[1] = {1};
        onednn::MemoryDesc md(1, dims, strides, dnnl_f32);
        dnnl_primitive_desc_t fwd = nullptr;
        dnnl_status_t st = onednn::gelu_forward_pd(&fwd, md);
        if (st == dnnl_unimplemented) return std::make_shared<onednn::Primitive>();
        onednn::check(st, "GELU forward primitive descriptor creation");
        if (!backward) return onednn::Primitive::create(fwd, {DNNL_ARG_SRC, DNNL_ARG_DST});
        struct Guard {
            dnnl_primitive_desc_t pd;
            ~Guard() { dnnl_primitive_desc_destroy(pd); }
        } hint{fwd};
        dnnl_primitive_desc_t bwd = nullptr;
        st = onednn::gelu_backward_pd(&bwd, md, fwd);
        if (st == dnnl_unimplemented) return std::make_shared<onednn::Primitive>();
        onednn::check(st, "GELU backward primitive descriptor creation");
        return onednn::Primitive::create(bwd, {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC});
    });
}
}  // namespace detail

/// y = gelu_tanh(x) over n elements.
inline bool gelu_tanh_forward(const float* x, float* y, index_t n) {
    if (n == 0) return true;
    auto prim = detail::gelu_primitive(n, false);
    if (!prim->usable()) return false;
    void* h[2] = {const_cast<float*>(x), y};
    prim->execute(h);
    return true;
}

/// dx = dy * gelu_tanh'(x) over n elements.
inline bool gelu_tanh_backward(const float* x, const float* dy, float* dx, index_t n) {
    if (n == 0) return true;
    auto prim = detail::gelu_primitive(n, true);
    if (!prim->usable()) return false;
    void* h[3] = {const_cast<float*>(x), const_cast<float*>(dy), dx};
    prim->execute(h);
    return true;
}

}  // namespace ward::backend::cpu
