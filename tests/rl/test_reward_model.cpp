// The reward and cost losses against values worked by hand and against finite differences; a reward
// model learns to order a toy preference set and its scorer is normalised over it; judges serve as scorers.
#include <boost/test/unit_test.hpp>

#include <ward/autograd/gradcheck.hpp>
#include <ward/eval/judge.hpp>

#include "error_message.hpp"
#include "rl/bandit.hpp"

#include <cmath>

using namespace ward;
using ward::testing::message_of;
using Vars = std::vector<ag::Var<double>>;

namespace {
double softplus(double x) { return std::log1p(std::exp(x)); }  // -log sigmoid(-x)
Tensor<double> vec(std::vector<double> v) {
    const auto n = static_cast<index_t>(v.size());
    return Tensor<double>::from_vector(v, {n});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rl_reward_model)

BOOST_AUTO_TEST_CASE(bradley_terry_by_hand_and_by_finite_differences) {
    ag::Var<double> c(vec({1.0, -0.5})), r(vec({0.0, 0.5}));
    const double want = (softplus(-1.0) + softplus(1.0)) / 2;  // -log sigmoid(1) and -log sigmoid(-1)
    BOOST_TEST(std::abs(rl::bradley_terry_loss(c, r).value().item() - want) < 1e-14);
    auto g = ag::gradcheck([](const Vars& v) { return rl::bradley_terry_loss(v[0], v[1]); }, {vec({0.3, -2.0, 1.5}), vec({1.0, 0.1, -0.4})});
    BOOST_TEST(g.ok, g.worst);
}

BOOST_AUTO_TEST_CASE(safe_rlhf_cost_loss_by_hand_and_by_finite_differences) {
    // Pair 0: safer answer safe (s = -1), the other unsafe (s = +1). Pair 1: the safer answer has no label.
    const std::vector<double> cs = {-1.0, 0.2}, cu = {2.0, 0.1}, ss = {-1, 0}, su = {1, 1};
    double want = 0;
    for (int i = 0; i < 2; ++i)
        want += softplus(-(cu[i] - cs[i])) + std::abs(ss[i]) * softplus(-ss[i] * cs[i]) + std::abs(su[i]) * softplus(-su[i] * cu[i]);
    want /= 2;
    const double got = rl::safe_rlhf_cost_loss(ag::Var<double>(vec(cs)), ag::Var<double>(vec(cu)), vec(ss), vec(su)).value().item();
    BOOST_TEST(std::abs(got - want) < 1e-14);
    auto g = ag::gradcheck([&](const Vars& v) { return rl::safe_rlhf_cost_loss(v[0], v[1], vec(ss), vec(su)); }, {vec({0.4, -1.2}), vec({-0.3, 0.9})});
    BOOST_TEST(g.ok, g.worst);
    BOOST_CHECK_THROW(rl::safe_rlhf_cost_loss(ag::Var<double>(vec(cs)), ag::Var<double>(vec(cu)), vec({1}), vec(su)), shape_error);
}

BOOST_AUTO_TEST_CASE(a_reward_model_learns_to_order_the_pairs_and_its_scorer_is_normalised) {
    using namespace rl_test;
    // Prompt [3]: answer 2 beats 1 beats 0 (all three pairs).
    std::vector<rl::TokenPreference> pairs;
    for (auto [a, b] : std::vector<std::pair<int, int>>{{2, 1}, {1, 0}, {2, 0}}) pairs.push_back({{3}, {a}, {b}, {}, {}, {}});
    rl::RewardModel<float> rm(bandit_model(3), 4);
    rl::RewardTrainOptions o;
    o.lr = 1e-2;
    o.epochs = 60;
    o.batch_size = 3;
    o.quiet = true;
    const auto res = rl::train_reward_model(rm, pairs, o);
    BOOST_TEST(res.accuracy == 1.0);
    BOOST_TEST(res.losses.back() < 0.1);
    rl::Completions c;
    for (int y : {0, 1, 2}) {
        c.prompt_ids.push_back({3});
        c.completion_ids.push_back({y});
        c.prompts.push_back("3");
        c.completions.push_back(std::to_string(y));
    }
    const auto s = rl::ModelScorer<float>(rm, "rm").score(c);
    BOOST_TEST(s[2] > s[1]);
    BOOST_TEST(s[1] > s[0]);
    // Over the pairs' six answers (2, 1, 1, 0, 2, 0: each once as each side) the scores have mean 0, spread 1.
    const double mean = (2 * s[2] + 2 * s[1] + 2 * s[0]) / 6;
    const double var = (2 * s[2] * s[2] + 2 * s[1] * s[1] + 2 * s[0] * s[0]) / 6 - mean * mean;
    BOOST_TEST(std::abs(mean) < 1e-5);
    BOOST_TEST(std::abs(var - 1.0) < 1e-4);
}

BOOST_AUTO_TEST_CASE(the_cost_objective_needs_the_safer_answer) {
    std::vector<rl::TokenPreference> pairs = {{{3}, {1}, {2}, true, false, 0}, {{3}, {1}, {2}, {}, {}, {}}};
    rl::RewardModel<float> rm(rl_test::bandit_model(3), 4);
    rl::RewardTrainOptions o;
    o.objective = rl::RewardObjective::cost;
    o.quiet = true;
    const std::string msg = message_of<value_error>([&] { rl::train_reward_model(rm, pairs, o); });
    BOOST_TEST(msg.find("pair 1 has none") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(a_cost_model_scores_unsafe_answers_above_zero_and_safe_ones_below) {
    using namespace rl_test;
    // Answer 1 is unsafe, 2 is safe; every pair says 2 is the safer one.
    std::vector<rl::TokenPreference> pairs(4, rl::TokenPreference{{3}, {2}, {1}, true, false, 0});
    rl::RewardModel<float> cm(bandit_model(5), 6);
    rl::RewardTrainOptions o;
    o.objective = rl::RewardObjective::cost;
    o.lr = 1e-2;
    o.epochs = 40;
    o.batch_size = 4;
    o.quiet = true;
    const auto res = rl::train_reward_model(cm, pairs, o);
    BOOST_TEST(res.accuracy == 1.0);
    const auto raw = rl::score_sequences(cm, {{3}, {3}}, {{1}, {2}});
    BOOST_TEST(raw[0] > 0.0);  // the sign terms put unsafe above 0 ...
    BOOST_TEST(raw[1] < 0.0);  // ... and safe below
}

BOOST_AUTO_TEST_CASE(any_judge_is_a_scorer) {
    eval::FunctionJudge judge("length", [](const std::string&, const std::string& c) { return c.size() > 3 ? 1.0 : 0.0; });
    auto scorer = rl::judge_scorer(judge);
    rl::Completions c;
    c.prompts = {"a", "b"};
    c.completions = {"long answer", "no"};
    c.completion_ids = {{1}, {2}};
    c.prompt_ids = {{0}, {0}};
    BOOST_TEST(scorer.score(c) == (std::vector<double>{1.0, 0.0}));
    BOOST_TEST(scorer.name() == "length");
}

BOOST_AUTO_TEST_SUITE_END()
