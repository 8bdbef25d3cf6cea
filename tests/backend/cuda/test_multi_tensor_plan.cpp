// How the multi-tensor kernels (multi-tensor Adam) cut a list of tensors into launches, checked
// on the host: every element of every tensor is covered by exactly one block, no launch holds more
// tensors or blocks than its argument struct, empty tensors take no block, and a tensor whose
// chunks overflow a launch continues in the next.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "ward/backend/cuda/multi_tensor_plan.cuh"

using ward::index_t;
using ward::backend::cuda::ChunkLaunch;
using ward::backend::cuda::plan_chunk_launches;

namespace {

/// Checks the plan covers each tensor's chunks 0 .. ceil(n / chunk) - 1 exactly once, in order.
void check_cover(const std::vector<index_t>& sizes, index_t chunk, int max_tensors, int max_blocks) {
    const std::vector<ChunkLaunch> plan = plan_chunk_launches(sizes, chunk, max_tensors, max_blocks);
    std::map<std::size_t, std::vector<std::int64_t>> seen;
    for (const ChunkLaunch& l : plan) {
        BOOST_TEST(!l.blocks.empty());
        BOOST_TEST(static_cast<int>(l.tensors.size()) <= max_tensors);
        BOOST_TEST(static_cast<int>(l.blocks.size()) <= max_blocks);
        for (const auto& b : l.blocks) {
            BOOST_TEST_REQUIRE((b.slot >= 0 && b.slot < static_cast<int>(l.tensors.size())));
            seen[l.tensors[static_cast<std::size_t>(b.slot)]].push_back(b.chunk);
        }
    }
    for (std::size_t t = 0; t < sizes.size(); ++t) {
        const index_t chunks = (sizes[t] + chunk - 1) / chunk;
        std::vector<std::int64_t> want;
        for (index_t c = 0; c < chunks; ++c) want.push_back(c);
        BOOST_TEST(seen[t] == want, "tensor " << t << " of " << sizes[t] << " elements");
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(backend_cuda_multi_tensor_plan)

BOOST_AUTO_TEST_CASE(one_small_list_is_one_launch) {
    const std::vector<index_t> sizes{1, 7, 15, 65536, 65537};
    const auto plan = plan_chunk_launches(sizes, 65536, 24, 320);
    BOOST_TEST(plan.size() == 1u);
    BOOST_TEST(plan[0].tensors == (std::vector<std::size_t>{0, 1, 2, 3, 4}));
    BOOST_TEST(plan[0].blocks.size() == 6u);  // 1 + 1 + 1 + 1 + 2
    check_cover(sizes, 65536, 24, 320);
}

BOOST_AUTO_TEST_CASE(tensor_and_block_limits_split_the_list) {
    // 30 tensors with room for 24 per launch: two launches.
    std::vector<index_t> many(30, 5);
    BOOST_TEST(plan_chunk_launches(many, 8, 24, 320).size() == 2u);
    check_cover(many, 8, 24, 320);
    // One tensor of 10 chunks with room for 4 blocks per launch: 4 + 4 + 2, the tensor in each.
    const std::vector<index_t> one{10 * 16 - 3};
    const auto plan = plan_chunk_launches(one, 16, 24, 4);
    BOOST_TEST(plan.size() == 3u);
    BOOST_TEST(plan[2].blocks.size() == 2u);
    BOOST_TEST(plan[2].blocks[0].chunk == 8);
    check_cover(one, 16, 24, 4);
    // Odd mixtures, limits of 1.
    const std::vector<index_t> mixed{3, 0, 17, 1, 0, 0, 64, 65, 2};
    for (int mt : {1, 2, 3, 24})
        for (int mb : {1, 2, 5, 320}) check_cover(mixed, 16, mt, mb);
}

BOOST_AUTO_TEST_CASE(empty_lists_and_tensors_take_no_launch) {
    BOOST_TEST(plan_chunk_launches(std::vector<index_t>{}, 16, 24, 320).empty());
    BOOST_TEST(plan_chunk_launches(std::vector<index_t>{0, 0}, 16, 24, 320).empty());
    BOOST_CHECK_THROW(plan_chunk_launches(std::vector<index_t>{-1}, 16, 24, 320), ward::value_error);
    BOOST_CHECK_THROW(plan_chunk_launches(std::vector<index_t>{1}, 0, 24, 320), ward::value_error);
}

BOOST_AUTO_TEST_SUITE_END()
