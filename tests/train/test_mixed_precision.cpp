// Mixed precision (optim/master_weights.hpp through train/loop.hpp): a bf16 model trained through
// f32 master weights follows the f32 model on the Hugging Face fixtures (GPT-2 and Llama), within
// 1e-2 relative after 20 steps; its weights are always its master weights rounded; updates below
// bf16's resolution, which pure bf16 training loses, the master weights keep; a killed run resumes
// bit-identically; a checkpoint without master weights is refused by name.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <ward/io.hpp>
#include <ward/nn.hpp>
#include <ward/train/lm_trainer.hpp>

#include "tiny_llama.hpp"

using namespace ward;
namespace fs = std::filesystem;

namespace {

const fs::path fixtures = fs::path(__FILE__).parent_path().parent_path() / "nn" / "fixtures";

/// The fixture's sample text, tokenised by its own tokenizer, cut into overlapping windows.
std::vector<train::Example> windows_of_sample(const fs::path& dir, std::size_t width) {
    std::ifstream in(dir / "sample.txt", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    const auto tok = io::Tokenizer::from_dir(dir);
    const auto ids = tok.encode(text.str(), io::AddSpecialTokens::yes);
    BOOST_REQUIRE(ids.size() > width);
    std::vector<train::Example> out;
    for (std::size_t start = 0; start + width <= ids.size(); start += width / 2) {
        train::Example e;
        e.ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(start), ids.begin() + static_cast<std::ptrdiff_t>(start + width));
        e.loss_mask.assign(width, 1);
        out.push_back(std::move(e));
    }
    return out;
}

fs::path scratch(const char* name) {
    auto dir = fs::temp_directory_path() / "ward_test_mixed_precision";
    fs::create_directories(dir);
    auto p = dir / name;
    fs::remove(p);
    return p;
}

/// Every weight of a model, as floats, in parameter order.
template <class T>
std::vector<float> weights_of(nn::CausalLM<T> model) {  // a copy of the handles: parameters() walks it
    std::vector<float> out;
    for (const auto& p : nn::parameters<T, cpu>(model))
        for (T x : p.value.to_vector()) out.push_back(static_cast<float>(x));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_mixed_precision)

BOOST_AUTO_TEST_CASE(bf16_with_master_weights_follows_f32_on_the_fixtures) {
    for (const char* fixture : {"lm_example", "lm_llama_sentencepiece"}) {
        BOOST_TEST_CONTEXT(fixture) {
            const fs::path dir = fixtures / fixture;
            const auto data = windows_of_sample(dir, 12);
            train::TrainOptions opt;
            opt.lr = 3e-3;
            opt.batch_size = 2;
            opt.epochs = 100;
            opt.max_steps = 20;
            opt.clip_norm = 1.0;
            opt.quiet = true;

            auto f32 = nn::load_causal_lm<float>(dir);
            const double f32_before = train::evaluate_lm(f32, data, 4, 0);
            train::train_lm(f32, data, {}, opt);
            const double f32_after = train::evaluate_lm(f32, data, 4, 0);

            auto mixed = nn::load_causal_lm<bf16>(dir);
            const double mixed_before = train::evaluate_lm(mixed, data, 4, 0);
            train::train_lm(mixed, data, {}, opt);
            const double mixed_after = train::evaluate_lm(mixed, data, 4, 0);

            BOOST_TEST_MESSAGE(fixture << ": f32 " << f32_before << " -> " << f32_after << ", bf16 with f32 master weights "
                                       << mixed_before << " -> " << mixed_after);
            BOOST_TEST(f32_after < 0.8 * f32_before);  // 20 steps learn something: the comparison means something
            BOOST_TEST(std::abs(mixed_after - f32_after) <= 1e-2 * f32_after);
        }
    }
}

BOOST_AUTO_TEST_CASE(to_dtype_rounds_each_weight_to_the_nearest_bf16) {
    const nn::CausalLM<float> model(ward_test::tiny_llama(), 4);
    const nn::CausalLM<bf16> half = nn::to_dtype<bf16>(model);
    const std::vector<float> w = weights_of(model), h = weights_of(half);
    BOOST_REQUIRE(w.size() == h.size());
    std::size_t inexact = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        BOOST_TEST(h[i] == static_cast<float>(bf16(w[i])));
        inexact += h[i] != w[i];
    }
    BOOST_TEST(inexact > w.size() / 2);  // random f32 weights are rarely bf16 already
    BOOST_TEST(weights_of(nn::to_dtype<float>(half)) == h, boost::test_tools::per_element());
    nn::CausalLM<float> adapted = nn::clone(model);
    adapted.blocks[0].attn.q.attach_lora(2, 4.0, 0.0, 1);
    BOOST_CHECK_EXCEPTION(nn::to_dtype<bf16>(adapted), value_error, [](const value_error& e) {
        return std::string(e.what()) == "to_dtype: the model has LoRA adapters; convert the base model, then attach them";
    });
}

BOOST_AUTO_TEST_CASE(master_weights_keep_updates_that_bf16_rounds_away) {
    const auto data = ward_test::tiny_corpus();
    auto step_once = [&](bool master, nn::CausalLM<bf16>& model) {
        train::TrainOptions opt;
        opt.lr = 1e-5;  // Adam moves every weight by about lr: far below half a bf16 step of most weights
        opt.batch_size = 4;
        opt.max_steps = 1;
        opt.master_weights = master;
        opt.quiet = true;
        train::train_lm(model, data, {}, opt);
    };
    nn::CausalLM<bf16> start = nn::to_dtype<bf16>(nn::CausalLM<float>(ward_test::tiny_llama(), 5));
    const std::vector<float> w0 = weights_of(start);
    auto changed = [&](const std::vector<float>& w) {
        std::size_t n = 0;
        for (std::size_t i = 0; i < w.size(); ++i) n += w[i] != w0[i];
        return double(n) / double(w.size());
    };

    nn::CausalLM<bf16> pure = nn::clone(start);
    step_once(false, pure);
    BOOST_TEST(changed(weights_of(pure)) < 0.2, "pure bf16 changed " << changed(weights_of(pure)));

    // Through the master weights the same step moves every f32 weight that had a gradient, and the
    // bf16 weights are exactly the f32 ones rounded.
    nn::CausalLM<bf16> model = nn::clone(start);
    auto params = nn::parameters<bf16, cpu>(model);
    optim::MasterWeights<optim::AdamRule<true>> opt(params, {.lr = 1e-5, .weight_decay = 0});
    auto batch = train::make_batch(data, {0, 1, 2, 3}, 0, 64);
    ag::cross_entropy(model.forward(batch.inputs).logits, batch.targets).backward();
    opt.step();
    std::size_t moved = 0, with_grad = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto m = opt.master()[i].value.to_vector();
        const auto g = params[i].grad.to_vector();
        const auto w = params[i].value.to_vector();
        const auto before = nn::parameters<bf16, cpu>(start)[i].value.to_vector();
        for (std::size_t j = 0; j < m.size(); ++j) {
            BOOST_TEST(w[j].bits == bf16(m[j]).bits);
            if (static_cast<float>(g[j]) != 0) {
                ++with_grad;
                moved += m[j] != static_cast<float>(before[j]);
            }
        }
    }
    BOOST_TEST(with_grad > 0u);
    BOOST_TEST(moved == with_grad);
}

BOOST_AUTO_TEST_CASE(killed_mixed_precision_run_resumes_bit_identically) {
    const auto data = ward_test::tiny_corpus();
    train::TrainOptions opt;
    opt.lr = 5e-3;
    opt.epochs = 6;
    opt.batch_size = 2;
    opt.quiet = true;
    const auto fresh = [] { return nn::to_dtype<bf16>(nn::CausalLM<float>(ward_test::tiny_llama(), 13)); };
    nn::CausalLM<bf16> straight = fresh();
    const auto straight_losses = train::train_lm(straight, data, {}, opt).step_losses;

    opt.checkpoint = scratch("run.safetensors");
    opt.checkpoint_every = 1;
    opt.max_steps = 5;  // the process "dies" after 5 of 12 steps
    nn::CausalLM<bf16> first = fresh();
    train::train_lm(first, data, {}, opt);
    opt.max_steps = -1;
    nn::CausalLM<bf16> resumed = nn::to_dtype<bf16>(nn::CausalLM<float>(ward_test::tiny_llama(), 99));
    const auto res = train::train_lm(resumed, data, {}, opt);
    BOOST_TEST(res.resumed_from == 5);
    BOOST_TEST(res.step_losses == straight_losses, boost::test_tools::per_element());
    BOOST_TEST(weights_of(resumed) == weights_of(straight), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(checkpoint_without_master_weights_is_refused) {
    const auto data = ward_test::tiny_corpus();
    train::TrainOptions opt;
    opt.max_steps = 2;
    opt.quiet = true;
    opt.checkpoint = scratch("pure.safetensors");
    opt.master_weights = false;
    nn::CausalLM<bf16> model = nn::to_dtype<bf16>(nn::CausalLM<float>(ward_test::tiny_llama(), 3));
    train::train_lm(model, data, {}, opt);
    const auto saved = weights_of(model);
    opt.master_weights = true;
    opt.max_steps = 4;
    BOOST_CHECK_EXCEPTION(train::train_lm(model, data, {}, opt), parse_error, [](const parse_error& e) {
        return std::string(e.what()).find("missing tensor 'optim.master.") != std::string::npos;
    });
    BOOST_TEST(weights_of(model) == saved, boost::test_tools::per_element());  // nothing was changed
}

BOOST_AUTO_TEST_SUITE_END()
