// The harmful fine-tuning attack: the grid's combinations, the attack lowering the loss on the
// harmful answers it trains on (full, with each optimiser, and through LoRA adapters that end merged),
// the original model left as it was, and the sample budget enforced.
#include <boost/test/unit_test.hpp>

#include <ward/attack/finetune.hpp>
#include <ward/data/synthetic.hpp>

using namespace ward;

namespace {
nn::TransformerConfig small_llama(const data::World& w) {
    nn::TransformerConfig c;
    c.family = nn::Family::llama;
    c.vocab_size = w.vocabulary().size();
    c.hidden = 32;
    c.layers = 1;
    c.heads = 2;
    c.kv_heads = 2;
    c.intermediate = 64;
    c.max_positions = 32;
    return c;
}
}  // namespace

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
    nn::CausalLM<float> model(small_llama(w), 1);
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

BOOST_AUTO_TEST_CASE(every_optimiser_and_lora_learn_and_lora_ends_merged) {
    // A model that knows the world and was aligned to refuse, as the attack meets it: a LoRA attack
    // cannot teach a random model's frozen output layer, but it can bring latent answers back.
    data::World w;
    nn::CausalLM<float> model(small_llama(w), 1);
    train::TrainOptions t;
    t.lr = 1e-2;
    t.batch_size = 32;
    t.epochs = 2;
    t.quiet = true;
    train::train_lm(model, w.pretraining(1024, 1), {}, t);
    t.lr = 3e-3;
    t.epochs = 1;
    train::train_lm(model, w.alignment(256, 1), {}, t);
    const auto harmful = w.attack_examples(64, 2);
    const double before = train::evaluate_lm(model, harmful, 16, 0);
    const std::size_t parameters = nn::parameters<float, cpu>(model).size();
    struct Case {
        train::Optimizer optimizer;
        double lr;
        index_t lora;
    };
    for (const Case& k : {Case{train::Optimizer::adamw, 3e-3, 0}, Case{train::Optimizer::adam, 3e-3, 0}, Case{train::Optimizer::sgd, 0.1, 0},
                          Case{train::Optimizer::adamw, 3e-3, 4}}) {
        nn::CausalLM<float> attacked = nn::clone(model);
        attack::AttackOptions a;
        a.lr = k.lr;
        a.samples = 64;
        a.epochs = 3;
        a.batch_size = 8;
        a.optimizer = k.optimizer;
        a.lora_rank = k.lora;
        a.warmup_steps = 2;
        attack::harmful_finetune(attacked, harmful, a);
        const double after = train::evaluate_lm(attacked, harmful, 16, 0);
        BOOST_TEST(after < before - 0.5, train::optimizer_name(k.optimizer) << " lora " << k.lora << ": " << before << " -> " << after);
        // A LoRA attack leaves a plain model: no adapter left, every weight trainable again.
        int adapters = 0;
        attacked.for_each_linear([&](const std::string&, nn::Linear<float, cpu>& lin) { adapters += lin.lora != nullptr; });
        BOOST_TEST(adapters == 0);
        const std::size_t trainable = nn::parameters<float, cpu>(attacked).size();
        BOOST_TEST(trainable == parameters);
    }
}

BOOST_AUTO_TEST_SUITE_END()
