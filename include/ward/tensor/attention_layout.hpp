#pragma once
// What a fused attention kernel is handed, on any device: where each head's rows are and the shape
// of the call. Device-neutral so that the front end (tensor/fused.hpp) and every backend share it.


#include "ward/core/config.hpp"

namespace ward {

/// A (rows, hd) operand of element type E: head (b, h) starts at base + b * batch + h * head, row t
/// at + t * row.
template <class E>
struct BasicHeadRows {
    const E* base;
    index_t batch, head, row;
    WARD_HOST_DEVICE const E* at(index_t b, index_t h, index_t t) const { return base + b * batch + h * head + t * row; }
};
using HeadRows = BasicHeadRows<float>;

/// q (B, H, T, hd), k and v (B, Hkv, S, hd); query head h reads key/value head h / (H / Hkv).
struct AttentionShape {
    index_t B = 0, H = 0, Hkv = 0, T = 0, S = 0, hd = 0;
    index_t offset = 0;          // query i sits at key position offset + i
    float scale = 1.f;
    const float* pad = nullptr;  // (B, S): 0 for a padding key, or null (f32 for every element type)
    WARD_HOST_DEVICE index_t group() const { return H / Hkv; }
    /// Keys a query block [i0, i1) can see: [0, visible(i1)).
    WARD_HOST_DEVICE index_t visible(index_t i1) const { return offset + i1 < S ? offset + i1 : S; }
};

}  // namespace ward
