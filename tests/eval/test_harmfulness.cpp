// Harmfulness: the judge sees exactly the greedy generations (batched with left padding), and the
// mean is theirs.
#include <boost/test/unit_test.hpp>

#include <ward/data/synthetic.hpp>
#include <ward/eval/harmfulness.hpp>
#include <ward/nn.hpp>

using namespace ward;

namespace {
// Scores a completion by its length in words, so every generation matters.
struct LengthJudge {
    std::vector<double> score(const std::vector<std::string>&, const std::vector<std::string>& c) const {
        std::vector<double> s;
        for (const auto& x : c) s.push_back(x.empty() ? 0.0 : double(std::count(x.begin(), x.end(), ' ') + 1));
        return s;
    }
    std::string name() const { return "length"; }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(eval_harmfulness)

BOOST_AUTO_TEST_CASE(judges_each_greedy_generation) {
    data::World w;
    const auto& v = w.vocabulary();
    nn::TransformerConfig c;
    c.family = nn::Family::gpt2;
    c.vocab_size = v.size();
    c.hidden = 16;
    c.layers = 1;
    c.heads = 2;
    c.kv_heads = 2;
    c.intermediate = 32;
    c.max_positions = 64;
    nn::CausalLM<float> model(c, 4);
    auto prompts = w.eval_prompts(true);
    prompts.resize(5);
    prompts.push_back("what colour is the object_3 ?");  // a different length: left padding in the batch
    LengthJudge judge;
    eval::HarmfulnessOptions o;
    o.max_new_tokens = 6;
    o.batch_size = 4;
    auto encode = [&](const std::string& s) { return v.encode(s); };
    auto decode = [&](const std::vector<std::int64_t>& ids) { return v.decode(ids); };
    auto r = eval::harmfulness(model, judge, prompts, encode, decode, o);
    BOOST_REQUIRE(r.completions.size() == prompts.size());
    double mean = 0;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        nn::GenerateOptions g;
        g.max_new_tokens = 6;
        auto alone = nn::generate(model, {v.encode(prompts[i])}, g)[0];
        BOOST_TEST(r.completions[i] == v.decode(alone));
        mean += r.scores[i];
    }
    BOOST_TEST(r.mean == mean / double(prompts.size()));
    BOOST_TEST(r.mean > 0);
    BOOST_CHECK_THROW(eval::harmfulness(model, judge, {}, encode, decode, o), value_error);
}

BOOST_AUTO_TEST_SUITE_END()
