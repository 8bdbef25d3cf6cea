#pragma once
// How a multi-tensor kernel covers a list of tensors, decided on the host: every tensor is cut into
// chunks of `chunk` elements, each chunk one block; a launch holds at most `max_tensors` tensors
// and `max_blocks` blocks (what fits in one kernel-argument struct), so a list becomes a few
// launches, and a tensor whose chunks do not fit in one launch continues in the next. Free of CUDA
// calls, so the CPU tests check it.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ward/core/error.hpp"
#include "ward/core/shape.hpp"

namespace ward::backend::cuda {

struct ChunkBlock {
    int slot;            // the tensor's place in its launch's list
    std::int64_t chunk;  // which chunk of that tensor
};

/// One launch: the tensors it reads (indices into the caller's list, in slot order) and its blocks.
struct ChunkLaunch {
    std::vector<std::size_t> tensors;
    std::vector<ChunkBlock> blocks;
};

/// The launches covering tensors of the given element counts (empty tensors are skipped).
inline std::vector<ChunkLaunch> plan_chunk_launches(std::span<const index_t> sizes, index_t chunk, int max_tensors,
                                                    int max_blocks) {
    if (chunk <= 0 || max_tensors <= 0 || max_blocks <= 0)
        throw value_error("plan_chunk_launches: chunk, max_tensors and max_blocks must be positive");
    std::vector<ChunkLaunch> out;
    ChunkLaunch cur;
    auto flush = [&] {
        if (!cur.blocks.empty()) out.push_back(std::move(cur));
        cur = ChunkLaunch{};
    };
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        if (sizes[t] < 0) throw value_error("plan_chunk_launches: tensor " + std::to_string(t) + " has a negative size");
        const index_t chunks = (sizes[t] + chunk - 1) / chunk;
        for (index_t c = 0; c < chunks; ++c) {
            if (cur.tensors.empty() || cur.tensors.back() != t) {
                if (static_cast<int>(cur.tensors.size()) == max_tensors) flush();
                cur.tensors.push_back(t);
            }
            cur.blocks.push_back({static_cast<int>(cur.tensors.size()) - 1, c});
            if (static_cast<int>(cur.blocks.size()) == max_blocks) flush();
        }
    }
    flush();
    return out;
}

}  // namespace ward::backend::cuda
