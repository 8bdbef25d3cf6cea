// The attack search: configurations drawn within the space and the budget, the same for the same
// seed (so every defence meets the same attacks), others for another seed, and a space that cannot
// be searched refused.
#include <boost/test/unit_test.hpp>

#include <set>

#include <ward/attack/search.hpp>

using namespace ward;

BOOST_AUTO_TEST_SUITE(attack_search)

BOOST_AUTO_TEST_CASE(draws_stay_in_the_space_and_the_budget) {
    attack::AttackSpace space;
    const auto attacks = attack::sample_attacks(space, {.budget = 20000, .max_draws = 64, .seed = 3});
    BOOST_REQUIRE(attacks.size() >= 5u);
    std::size_t spent = 0;
    std::set<train::Optimizer> optimizers;
    std::set<index_t> ranks;
    double lr_lo = 1, lr_hi = 0;
    for (const auto& a : attacks) {
        BOOST_TEST((a.lr >= space.lr_min && a.lr <= space.lr_max));
        BOOST_TEST(std::count(space.epochs.begin(), space.epochs.end(), a.epochs) == 1);
        BOOST_TEST(std::count(space.samples.begin(), space.samples.end(), a.samples) == 1);
        BOOST_TEST(std::count(space.batch_size.begin(), space.batch_size.end(), a.batch_size) == 1);
        BOOST_TEST((a.warmup_steps == 0 || a.warmup_steps == std::lround(0.1 * double(attack::attack_steps(a)))));
        spent += attack::attack_cost(a);
        optimizers.insert(a.optimizer);
        ranks.insert(a.lora_rank);
        lr_lo = std::min(lr_lo, a.lr);
        lr_hi = std::max(lr_hi, a.lr);
    }
    BOOST_TEST(spent <= 20000u);
    BOOST_TEST(spent > 20000u - 4000u);  // the budget is used: what is left is less than the costliest draw
    BOOST_TEST(optimizers.size() == 3u);  // the draws reach every part of the space
    BOOST_TEST(ranks.size() == 2u);
    BOOST_TEST(lr_hi / lr_lo > 10);
    BOOST_TEST(attack::attack_cost(attacks[0]) == attacks[0].samples * std::size_t(attacks[0].epochs));
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_every_defence_the_same_attacks) {
    const attack::AttackSpace space;
    const auto a = attack::sample_attacks(space, {.budget = 6000, .max_draws = 64, .seed = 11});
    const auto b = attack::sample_attacks(space, {.budget = 6000, .max_draws = 64, .seed = 11});
    const auto c = attack::sample_attacks(space, {.budget = 6000, .max_draws = 64, .seed = 12});
    BOOST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) BOOST_TEST(attack::describe(a[i]) == attack::describe(b[i]));
    BOOST_TEST((a.size() != c.size() || attack::describe(a[0]) != attack::describe(c[0])));
    BOOST_TEST(attack::sample_attacks(space, {.budget = 0, .max_draws = 64, .seed = 11}).empty());
}

BOOST_AUTO_TEST_CASE(describe_names_every_choice) {
    attack::AttackOptions a;
    a.lr = 3e-4;
    a.epochs = 2;
    a.samples = 400;
    a.batch_size = 8;
    a.optimizer = train::Optimizer::sgd;
    a.lora_rank = 8;
    a.warmup_steps = 10;
    BOOST_TEST(attack::describe(a) == "lr 3e-04 x2 ep 400 ex b8 sgd lora8 wu10");
}

BOOST_AUTO_TEST_CASE(a_space_that_cannot_be_searched_is_refused) {
    attack::AttackSpace bad;
    bad.lr_min = 0;
    BOOST_CHECK_THROW(attack::sample_attacks(bad, {}), value_error);
    attack::AttackSpace empty;
    empty.optimizers.clear();
    BOOST_CHECK_THROW(attack::sample_attacks(empty, {}), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
