// The harmful fine-tuning attack: the grid's combinations, the attack lowering the loss on the
// harmful answers it trains on, the original model left as it was, and the sample budget enforced.
#include <boost/test/unit_test.hpp>

#include <ward/attack/finetune.hpp>
#include <ward/data/synthetic.hpp>

using namespace ward;

BOOST_AUTO_TEST_SUITE(attack_finetune)

BOOST_AUTO_TEST_CASE(grid_expands_every_combination_lr_fastest) {
    attack::AttackGrid g;  // the paper's: 3 learning rates x 2 sample counts x 1 epoch
    auto runs = g.expand();
    BOOST_REQUIRE(runs.size() == 6u);
    BOOST_TEST(runs[0].lr == 3e-5);
    BOOST_TEST(runs[1].lr == 6e-5);
    BOOST_TEST(runs[3].samples == 10000u);
    BOOST_TEST(runs[5].lr == 8e-5);
    BOOST_TEST(runs[0].batch_size == 4);
}

BOOST_AUTO_TEST_CASE(attack_learns_the_harmful_answers_on_a_copy) {
    data::World w;
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    c.vocab_size = w.vocabulary().size();
    c.hidden = 32;
    c.layers = 1;
    c.heads = 2;
    c.kv_heads = 2;
    c.intermediate = 64;
    c.max_positions = 32;
    nn::CausalLM<float> model(c, 1);
    auto harmful = w.attack_examples(64, 2);
    const double before = train::evaluate_lm(model, harmful, 16, 0);

    attack::AttackGrid g;
    g.lr = {1e-3, 3e-3};
    g.samples = {64};
    g.base.batch_size = 8;
    g.epochs = {3};
    std::vector<double> after;
    attack::harmful_finetune_grid(model, harmful, g, [&](attack::AttackRun<float>& run) {
        after.push_back(train::evaluate_lm(run.model, harmful, 16, 0));
        BOOST_TEST(run.training.steps == 24);
    });
    BOOST_REQUIRE(after.size() == 2u);
    BOOST_TEST(after[0] < before - 1.0);
    BOOST_TEST(after[1] < after[0]);  // the stronger attack learns more in the same steps
    BOOST_TEST(train::evaluate_lm(model, harmful, 16, 0) == before);  // attacks ran on copies

    attack::AttackOptions too_many;
    too_many.samples = 65;
    BOOST_CHECK_THROW(attack::harmful_finetune(model, harmful, too_many), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
