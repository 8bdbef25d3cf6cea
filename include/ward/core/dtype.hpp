#pragma once
// Element types: f32, f64 and bf16 (a storage type: arithmetic happens in f32).

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "ward/core/config.hpp"

namespace ward {

/// bfloat16: the upper 16 bits of an IEEE f32. Converts to float exactly; from float
/// with round-to-nearest-even (NaN stays NaN).
struct bf16 {
    std::uint16_t bits = 0;

    bf16() = default;
    WARD_HOST_DEVICE explicit bf16(float f) : bits(round(f)) {}
    WARD_HOST_DEVICE explicit operator float() const {
        std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
        float f;
        std::memcpy(&f, &u, sizeof f);
        return f;
    }
    static WARD_HOST_DEVICE bf16 from_bits(std::uint16_t b) {
        bf16 h;
        h.bits = b;
        return h;
    }
    friend WARD_HOST_DEVICE bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }

private:
    static WARD_HOST_DEVICE std::uint16_t round(float f) {
        std::uint32_t u;
        std::memcpy(&u, &f, sizeof u);
        if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
        u += 0x7fffu + ((u >> 16) & 1u);
        return static_cast<std::uint16_t>(u >> 16);
    }
};
static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);

/// Runtime tag of an element type (file formats, messages).
enum class dtype : std::uint8_t { f32, f64, bf16, i32, i64 };

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr dtype value = dtype::f32; };
template <> struct dtype_of<double> { static constexpr dtype value = dtype::f64; };
template <> struct dtype_of<bf16> { static constexpr dtype value = dtype::bf16; };
template <> struct dtype_of<std::int32_t> { static constexpr dtype value = dtype::i32; };
template <> struct dtype_of<std::int64_t> { static constexpr dtype value = dtype::i64; };
template <class T> inline constexpr dtype dtype_of_v = dtype_of<T>::value;

constexpr std::string_view dtype_name(dtype d) {
    switch (d) {
        case dtype::f32: return "f32";
        case dtype::f64: return "f64";
        case dtype::bf16: return "bf16";
        case dtype::i32: return "i32";
        case dtype::i64: return "i64";
    }
    return "?";
}

/// The type arithmetic is carried out in for a stored element type.
template <class T> struct compute_type { using type = T; };
template <> struct compute_type<bf16> { using type = float; };
template <class T> using compute_t = typename compute_type<T>::type;

/// Floating-point element types (what arithmetic, autograd and the heavy ops take).
template <class T>
concept FloatElement = std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16>;

/// Element types a Tensor may hold: the floating types and the integer types of ids and indices.
template <class T>
concept Element = FloatElement<T> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>;

/// Converts between element types (through float for bf16).
template <class To, class From>
WARD_HOST_DEVICE constexpr To element_cast(From x) {
    if constexpr (std::is_same_v<To, From>) return x;
    else if constexpr (std::is_same_v<To, bf16>) return bf16(static_cast<float>(x));
    else if constexpr (std::is_same_v<From, bf16>) return static_cast<To>(static_cast<float>(x));
    else return static_cast<To>(x);
}

}  // namespace ward
