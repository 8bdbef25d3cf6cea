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

using namespace ward;

namespace {

using ward_test::tiny_llama;

std::vector<train::Example> corpus() {
    // four fixed "sentences" over a 24-token vocabulary; the first 3 tokens are the prompt
    std::vector<std::vector<std::int64_t>> seqs = {{1, 5, 9, 13, 17, 21, 2}, {1, 6, 10, 14, 18, 22, 2},
                                                   {1, 7, 11, 15, 19, 23, 2}, {1, 8, 12, 16, 20, 3, 4, 2}};
    std::vector<train::Example> out;
    for (auto& s : seqs) {
        train::Example e{s, std::vector<std::uint8_t>(s.size(), 1)};
        e.loss_mask[0] = e.loss_mask[1] = e.loss_mask[2] = 0;
        out.push_back(e);
    }
    return out;
}

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

BOOST_AUTO_TEST_SUITE_END()
