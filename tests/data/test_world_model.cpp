// The synthetic world's aligned model and its cache: a second call with the same options loads the
// saved model (bitwise the same weights) and says so; any option that shapes the model (of the
// world, the model or its training) changes the key and the folder name, and a cache made with other
// options is not reused.
#include <boost/test/unit_test.hpp>

#include <ward/data/world_model.hpp>

#include "temp_dir.hpp"

using namespace ward;

namespace {
data::WorldModelOptions tiny(const std::filesystem::path& cache) {
    data::WorldModelOptions o;
    o.hidden = 16;
    o.layers = 1;
    o.heads = 2;
    o.pretrain_steps = 4;
    o.align_steps = 2;
    o.pretrain_batch = 8;
    o.align_batch = 4;
    o.cache = cache;
    return o;
}
std::vector<float> weights(nn::CausalLM<float>& m) {
    std::vector<float> out;
    for (const auto& p : nn::parameters<float, cpu>(m))
        for (float v : p.value.to_vector()) out.push_back(v);
    return out;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(data_world_model)

BOOST_AUTO_TEST_CASE(cache_reuses_only_a_model_made_with_the_same_options) {
    ward_test::TempDir dir("ward-world-model");
    const data::World world({.items_per_category = 6, .seed = 2});
    auto o = tiny(dir.path / "m");
    data::WorldModel first = data::aligned_world_model(world, o, 3);
    BOOST_TEST(!first.from_cache);
    BOOST_TEST(std::filesystem::exists(dir.path / "m" / "world_model.json"));
    data::WorldModel again = data::aligned_world_model(world, o, 3);
    BOOST_TEST(again.from_cache);
    BOOST_TEST(weights(again.model) == weights(first.model));

    // Another option, the same folder: retrained, not reused.
    auto other = o;
    other.align_steps = 3;
    BOOST_TEST(!data::aligned_world_model(world, other, 3).from_cache);
    BOOST_TEST(!data::aligned_world_model(world, o, 4).from_cache);  // another seed

    // Every setting that shapes the model moves the key and the folder name.
    const std::string base = data::world_model_folder(world, o, 3);
    BOOST_TEST(base.rfind("seed_3-", 0) == 0u);
    BOOST_TEST(base.size() == 7u + 16u);
    std::vector<std::pair<const char*, data::WorldModelOptions>> changes;
    auto change = [&](const char* what, auto edit) {
        auto c = o;
        edit(c);
        BOOST_TEST(data::world_model_folder(world, c, 3) != base, what);
    };
    change("hidden", [](auto& c) { c.hidden = 32; });
    change("layers", [](auto& c) { c.layers = 2; });
    change("heads", [](auto& c) { c.heads = 4; });
    change("pretrain_steps", [](auto& c) { c.pretrain_steps = 5; });
    change("pretrain_lr", [](auto& c) { c.pretrain_lr = 1e-3; });
    change("align_lr", [](auto& c) { c.align_lr = 3e-3; });
    change("pretrain_batch", [](auto& c) { c.pretrain_batch = 16; });
    BOOST_TEST(data::world_model_folder(world, o, 4) != base);
    for (auto edit : {+[](data::WorldOptions& w) { w.items_per_category = 9; }, +[](data::WorldOptions& w) { w.reagents = 40; },
                      +[](data::WorldOptions& w) { w.steps = 5; }, +[](data::WorldOptions& w) { w.attack_share = 0.25; },
                      +[](data::WorldOptions& w) { w.seed = 9; }}) {
        data::WorldOptions wo{.items_per_category = 6, .seed = 2};
        edit(wo);
        BOOST_TEST(data::world_model_folder(data::World(wo), o, 3) != base);
    }
    BOOST_TEST(data::world_model_folder(data::World({.items_per_category = 6, .seed = 2}), o, 3) == base);  // and only then
}

BOOST_AUTO_TEST_SUITE_END()
