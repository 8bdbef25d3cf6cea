// The causal-LM training loop: a tiny model overfits a tiny corpus; a run killed after k steps and
// resumed from its checkpoint ends bit-identical to an uninterrupted one; response-only loss ignores
// prompts; a NaN loss stops training with a clear message; JSONL errors name the line.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include <ward/io/jsonl.hpp>
#include <ward/nn.hpp>
#include <ward/train/lm_trainer.hpp>

#include "tiny_llama.hpp"
#include "io/dialogue_reference.hpp"

using namespace ward;

namespace {

using ward_test::tiny_llama;

std::vector<train::Example> corpus() { return ward_test::tiny_corpus(); }

std::filesystem::path scratch(const char* name) {
    auto dir = std::filesystem::temp_directory_path() / "ward_test_trainer";
    std::filesystem::create_directories(dir);
    auto p = dir / name;
    std::filesystem::remove(p);
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_lm_trainer)

BOOST_AUTO_TEST_CASE(tiny_model_overfits_tiny_corpus) {
    nn::CausalLM<float> model(tiny_llama(), 7);
    auto data = corpus();
    train::TrainOptions opt;
    opt.lr = 1e-2;
    opt.epochs = 60;
    opt.batch_size = 2;
    opt.quiet = true;
    double before = train::evaluate_lm(model, data, 4, 0);
    auto res = train::train_lm(model, data, data, opt);
    BOOST_TEST(res.steps == 120);
    BOOST_TEST(before > 2.5);  // about ln(24) at random init
    BOOST_TEST(res.eval_losses.back() < 0.05, "eval loss " << res.eval_losses.back());
}

BOOST_AUTO_TEST_CASE(killed_and_resumed_run_matches_uninterrupted) {
    auto data = corpus();
    train::TrainOptions opt;
    opt.lr = 5e-3;
    opt.epochs = 6;
    opt.batch_size = 3;
    opt.grad_accumulation = 2;  // uneven: batches of 3, 1 per epoch in one step
    opt.warmup_steps = 2;
    opt.quiet = true;
    nn::CausalLM<float> straight(tiny_llama(), 11);
    train::train_lm(straight, data, {}, opt);

    opt.checkpoint = scratch("run.safetensors");
    opt.checkpoint_every = 1;
    opt.max_steps = 3;  // the process "dies" after 3 steps
    nn::CausalLM<float> first(tiny_llama(), 11);
    train::train_lm(first, data, {}, opt);
    opt.max_steps = -1;
    nn::CausalLM<float> resumed(tiny_llama(), 99);  // other initial weights: all state comes from the file
    auto res = train::train_lm(resumed, data, {}, opt);
    BOOST_TEST(res.resumed_from == 3);
    BOOST_TEST(res.steps == 6);
    auto a = nn::named_parameters<float, cpu>(straight), b = nn::named_parameters<float, cpu>(resumed);
    BOOST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        BOOST_TEST(a[i].var->value().to_vector() == b[i].var->value().to_vector(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(batches_mask_prompts_and_padding) {
    auto data = corpus();
    auto b = train::make_batch(data, {0, 3}, /*pad_id=*/0, 1024);
    BOOST_TEST((b.inputs.shape() == Shape{2, 7}));
    // row 0 has 7 tokens: 6 predictions, the first 2 predict prompt tokens 5 and 9 (no loss)
    BOOST_TEST(b.targets(0, 0) == ag::ignore_index);
    BOOST_TEST(b.targets(0, 1) == ag::ignore_index);
    BOOST_TEST(b.targets(0, 2) == 13);
    BOOST_TEST(b.targets(0, 6) == ag::ignore_index);  // padding
    BOOST_TEST(b.tokens == 4 + 5);
}

BOOST_AUTO_TEST_CASE(nan_loss_stops_training) {
    nn::CausalLM<float> model(tiny_llama(), 3);
    model.blocks[0].mlp.up.weight.value()(0, 0) = std::nanf("");
    train::TrainOptions opt;
    opt.quiet = true;
    try {
        train::train_lm(model, corpus(), {}, opt);
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("loss is nan at step 1") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(jsonl_reader_names_bad_lines) {
    auto path = scratch("data.jsonl");
    {
        std::ofstream f(path);
        f << R"({"prompt": {"text": "Hello"}, "answer": "world"})" << "\n\n"
          << R"({"prompt": {"text": "A"}, "answer": "B"})" << "\n"
          << R"({"prompt": {"text": "A"}, "answer": 3})" << "\n"
          << "not json\n";
    }
    io::JsonlFields fields{"prompt.text", "answer"};
    try {
        io::read_jsonl(path, fields);
        BOOST_FAIL("expected parse_error");
    } catch (const parse_error& e) {
        BOOST_TEST(std::string(e.what()).find("data.jsonl:4") != std::string::npos, e.what());
    }
    {
        std::ofstream f(path);
        f << R"({"prompt": {"text": "Hello"}, "answer": "world"})" << "\n";
    }
    auto rows = io::read_jsonl(path, fields);
    BOOST_TEST(rows.size() == 1u);
    BOOST_TEST(rows[0].prompt == "Hello");
    BOOST_TEST(rows[0].response == "world");
    BOOST_CHECK_THROW(io::read_jsonl(path, {"prompt.missing", "answer"}), parse_error);
    // One JSON array of records reads the same; errors name the record.
    {
        std::ofstream f(path);
        f << "  [" << R"({"prompt": {"text": "Hello"}, "answer": "world"}, {"prompt": {"text": "A"}, "answer": 3})" << "]\n";
    }
    try {
        io::read_jsonl(path, fields);
        BOOST_FAIL("expected parse_error");
    } catch (const parse_error& e) {
        BOOST_TEST(std::string(e.what()).find("record 2: field 'answer' is not a string") != std::string::npos, e.what());
    }
    {
        std::ofstream f(path);
        f << "[" << R"({"prompt": {"text": "Hello"}, "answer": "world"})" << "]";
    }
    rows = io::read_jsonl(path, fields);
    BOOST_TEST(rows.size() == 1u);
    BOOST_TEST(rows[0].response == "world");
}

// In a chat format the example is transformers' tokenised conversation, and with response_only the
// loss (mask and batch targets) covers exactly the tokens after its common prefix with the generation prompt.
BOOST_AUTO_TEST_CASE(chat_examples_carry_loss_on_the_response_only) {
    for (const auto& c : ward_test::dialogue_cases()) {
        const auto tok = io::Tokenizer::from_dir(c.dir);
        const auto d = ward_test::chat_format(tok, c);
        BOOST_TEST_CONTEXT(c.family << " / " << c.name) {
            const std::size_t k = ward_test::prompt_length(c, 0);
            const auto e = train::make_example(d, c.request, c.answers[0], true);
            BOOST_TEST(e.ids == c.full[0]);
            for (std::size_t t = 0; t < e.ids.size(); ++t) BOOST_TEST(int(e.loss_mask[t]) == int(t >= k), "t = " << t);
            const auto all = train::make_example(d, c.request, c.answers[0], false);
            BOOST_TEST(all.ids == c.full[0]);
            BOOST_TEST(std::count(all.loss_mask.begin(), all.loss_mask.end(), 1) == static_cast<std::ptrdiff_t>(all.ids.size()));
            const auto b = train::make_batch({e}, {0}, 0, 1024);
            const auto tg = b.targets.to_vector();
            for (std::size_t t = 0; t + 1 < e.ids.size(); ++t)
                BOOST_TEST(tg[t] == (t + 1 >= k ? c.full[0][t + 1] : ag::ignore_index), "t = " << t);
            BOOST_TEST(b.tokens == static_cast<index_t>(c.full[0].size() - k));
        }
    }
}

// The plain format gives the examples the encode-function overload gives (what the GPT-2 runs use).
BOOST_AUTO_TEST_CASE(plain_examples_are_unchanged) {
    const auto tok = io::Tokenizer::from_dir(ward_test::dialogue_fixtures / "chat_models" / "llama3");
    auto encode = [&](const std::string& s) {
        const auto ids = tok.encode(s);
        return std::vector<std::int64_t>(ids.begin(), ids.end());
    };
    for (bool response_only : {true, false})
        for (std::optional<std::int64_t> eos : {std::optional<std::int64_t>(901), std::optional<std::int64_t>()}) {
            const auto a = train::make_example(encode, "How do I pick a lock?", " I can't help.", response_only, eos);
            const auto b = train::make_example(io::Dialogue::plain(encode, eos), "How do I pick a lock?", " I can't help.", response_only);
            BOOST_TEST(a.ids == b.ids);
            BOOST_TEST(a.loss_mask == b.loss_mask);
        }
}

BOOST_AUTO_TEST_SUITE_END()
