#pragma once
// Adam / AdamW over a list of tensors in a few launches (PyTorch's fused multi-tensor Adam): each
// block updates one chunk of one tensor; the tensors' pointers and scalars travel in the kernel's
// argument struct (tensor/multi_tensor.hpp's AdamSlot), up to adam_max_tensors tensors and
// adam_max_blocks chunks per launch (multi_tensor_plan.cuh cuts the list).
//
// Per element, the arithmetic of optim::AdamRule::update in its order, each operation rounded on
// its own (__fmul_rn and friends: nvcc would otherwise fuse a * b + c into one FMA, which the CPU's
// expression loops do not), and each of its assignments rounded to T:
//   AdamW: p = T(p * decay)
//   Adam:  g = g + l2 * p
//   m = T(m + (1 - beta1) * (g - m)),  v = T(v * beta2 + ((1 - beta2) * g) * g)
//   AMSGrad: vmax = T(vmax < v ? v : vmax), and vmax replaces v below
//   p = T(p + (neg_step_size * m) / (sqrt(v) / sqrt(1 - beta2^t) + eps))
// T = float or bf16 (stored bf16, computed in f32). Pointers are device memory, each tensor dense.

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "ward/backend/cuda/check.cuh"
#include "ward/backend/cuda/kernel_element.cuh"
#include "ward/backend/cuda/multi_tensor_plan.cuh"
#include "ward/backend/cuda/stream.cuh"
#include "ward/core/dtype.hpp"
#include "ward/tensor/multi_tensor.hpp"

namespace ward::backend::cuda {

inline constexpr int adam_max_tensors = 24;
inline constexpr int adam_max_blocks = 320;
inline constexpr index_t adam_chunk = 65536;  // elements per block
inline constexpr int adam_threads = 512;

/// Kernel launches made by multi_tensor_adam so far (what the tests count).
inline std::atomic<std::uint64_t> multi_tensor_adam_launches{0};

/// What one launch reads: its tensors, and per block which tensor (slot) and which chunk of it.
template <class T>
struct AdamLaunchArgs {
    AdamSlot<T> tensors[adam_max_tensors];
    std::int32_t chunk_of_block[adam_max_blocks];
    std::uint8_t slot_of_block[adam_max_blocks];
};
// Kernel arguments are limited to 4 KB before CUDA 12.1 (and on older drivers).
static_assert(sizeof(AdamLaunchArgs<float>) + sizeof(AdamConstants<float>) <= 4000);
static_assert(sizeof(AdamLaunchArgs<bf16>) + sizeof(AdamConstants<float>) <= 4000);

namespace detail {

template <class T>
__device__ __forceinline__ float round_to(float x) {
    if constexpr (std::is_same_v<T, float>) return x;
    else return element_cast<float>(element_cast<T>(x));
}

template <class T, bool Amsgrad>
__device__ __forceinline__ void adam_element(const AdamSlot<T>& s, const AdamConstants<float>& k, index_t i) {
    float p = element_cast<float>(s.param[i]);
    float g = element_cast<float>(s.grad[i]);
    if (s.apply_decay) p = round_to<T>(__fmul_rn(p, s.decay));
    if (s.apply_l2) g = __fadd_rn(g, __fmul_rn(s.l2, p));
    float m = element_cast<float>(s.exp_avg[i]);
    float v = element_cast<float>(s.exp_avg_sq[i]);
    m = round_to<T>(__fadd_rn(m, __fmul_rn(k.one_minus_beta1, __fsub_rn(g, m))));
    v = round_to<T>(__fadd_rn(__fmul_rn(v, k.beta2), __fmul_rn(__fmul_rn(k.one_minus_beta2, g), g)));
    s.exp_avg[i] = element_cast<T>(m);
    s.exp_avg_sq[i] = element_cast<T>(v);
    float vh = v;
    if constexpr (Amsgrad) {
        float vmax = element_cast<float>(s.max_exp_avg_sq[i]);
        vmax = round_to<T>(vmax < v ? v : vmax);
        s.max_exp_avg_sq[i] = element_cast<T>(vmax);
        vh = vmax;
    }
    const float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vh), s.bias_correction2_sqrt), k.eps);
    p = __fadd_rn(p, __fdiv_rn(__fmul_rn(s.neg_step_size, m), den));
    s.param[i] = element_cast<T>(p);
}

/// Block b updates elements [chunk * adam_chunk, min(n, (chunk + 1) * adam_chunk)) of its tensor.
template <class T, bool Amsgrad>
__global__ void __launch_bounds__(adam_threads)
    multi_tensor_adam_kernel(const __grid_constant__ AdamLaunchArgs<T> args, const AdamConstants<float> k) {
    const AdamSlot<T>& s = args.tensors[args.slot_of_block[blockIdx.x]];
    const index_t start = index_t(args.chunk_of_block[blockIdx.x]) * adam_chunk;
    const index_t end = start + adam_chunk < s.n ? start + adam_chunk : s.n;
    for (index_t i = start + threadIdx.x; i < end; i += adam_threads) adam_element<T, Amsgrad>(s, k, i);
}

}  // namespace detail

/// One Adam/AdamW step of every slot, queued on the current stream.
template <class T>
void multi_tensor_adam(std::span<const AdamSlot<T>> slots, const AdamConstants<float>& k) {
    static_assert(KernelElement<T>, "ward: the CUDA multi-tensor Adam takes f32 or bf16");
    std::vector<index_t> sizes(slots.size());
    for (std::size_t t = 0; t < slots.size(); ++t) {
        const AdamSlot<T>& s = slots[t];
        if (s.n > 0 && (!s.param || !s.grad || !s.exp_avg || !s.exp_avg_sq || (k.amsgrad && !s.max_exp_avg_sq)))
            throw value_error("cuda multi_tensor_adam: tensor " + std::to_string(t) + " of the list has a null pointer");
        sizes[t] = s.n;
    }
    for (const ChunkLaunch& launch : plan_chunk_launches(sizes, adam_chunk, adam_max_tensors, adam_max_blocks)) {
        AdamLaunchArgs<T> args{};
        for (std::size_t j = 0; j < launch.tensors.size(); ++j) args.tensors[j] = slots[launch.tensors[j]];
        for (std::size_t b = 0; b < launch.blocks.size(); ++b) {
            args.slot_of_block[b] = static_cast<std::uint8_t>(launch.blocks[b].slot);
            args.chunk_of_block[b] = static_cast<std::int32_t>(launch.blocks[b].chunk);
        }
        const unsigned blocks = static_cast<unsigned>(launch.blocks.size());
        if (k.amsgrad) detail::multi_tensor_adam_kernel<T, true><<<blocks, adam_threads, 0, current_stream()>>>(args, k);
        else detail::multi_tensor_adam_kernel<T, false><<<blocks, adam_threads, 0, current_stream()>>>(args, k);
        check(cudaGetLastError(), "multi_tensor_adam kernel launch");
        ++multi_tensor_adam_launches;
    }
}

}  // namespace ward::backend::cuda
