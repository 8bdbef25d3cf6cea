// Checkpoints: a run killed after k steps and resumed from its checkpoint (weights, AdamW state,
// dropout generator, step) ends bit-identical to an uninterrupted run; bad checkpoints are refused
// with nothing changed.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include <ward/autograd.hpp>
#include <ward/optim.hpp>
#include <ward/tensor.hpp>
#include <ward/train/checkpoint.hpp>

#include "error_message.hpp"

using namespace ward;
using ag::Var;

namespace {

struct Run {
    Var<float> w1, b1, w2;
    optim::ParameterList<float> params;
    std::unique_ptr<optim::AdamW<float>> opt;
    Generator dropout_gen{99};
    Tensor<float> x;
    Tensor<std::int64_t> y;

    Run() {
        Generator g(5);
        w1 = Var<float>(normal<float>(g, {16, 8}, 0.0f, 0.3f), true);
        b1 = Var<float>(Tensor<float>::zeros({16}), true);
        w2 = Var<float>(normal<float>(g, {3, 16}, 0.0f, 0.3f), true);
        params = {w1.parameter("w1"), b1.parameter("b1"), w2.parameter("w2")};
        optim::AdamWOptions o;
        o.lr = 3e-2;
        opt = std::make_unique<optim::AdamW<float>>(params, o);
        x = normal<float>(g, {32, 8});
        std::vector<std::int64_t> labels;
        for (int i = 0; i < 32; ++i) labels.push_back(i % 3);
        y = Tensor<std::int64_t>::from_vector(labels, {32});
    }
    void step() {
        Var<float> h = ag::dropout(ag::linear(Var<float>(x), w1, b1, Activation::relu), 0.2, dropout_gen);
        ag::cross_entropy(ag::linear(h, w2), y).backward();
        opt->step();
        opt->zero_grad();
    }
};

std::filesystem::path scratch(const char* name) {
    auto dir = std::filesystem::temp_directory_path() / "ward_test_checkpoint";
    std::filesystem::create_directories(dir);
    return dir / name;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_checkpoint)

BOOST_AUTO_TEST_CASE(resume_is_bit_identical) {
    Run straight;
    for (int i = 0; i < 10; ++i) straight.step();

    auto path = scratch("resume.safetensors");
    {
        Run first;
        for (int i = 0; i < 4; ++i) first.step();
        train::save_checkpoint(path, first.params, *first.opt, {.step = 4, .generator = &first.dropout_gen, .metadata = {{"note", "k=4"}}});
    }  // the first process dies here
    Run resumed;  // fresh weights, fresh optimiser, fresh generator
    auto info = train::load_checkpoint(path, resumed.params, *resumed.opt, &resumed.dropout_gen);
    BOOST_TEST(info.step == 4);
    BOOST_TEST(info.metadata.at("note") == "k=4");
    for (int i = 4; i < 10; ++i) resumed.step();
    for (std::size_t k = 0; k < straight.params.size(); ++k)
        BOOST_TEST(resumed.params[k].value.to_vector() == straight.params[k].value.to_vector(), boost::test_tools::per_element());
    // the weights part is a plain weights file too
    io::SafetensorsFile f(path);
    BOOST_TEST(f.get<float>("w1").numel() == 128);
}

BOOST_AUTO_TEST_CASE(mismatched_checkpoints_change_nothing) {
    auto path = scratch("other.safetensors");
    Run a;
    a.step();
    train::save_checkpoint(path, a.params, *a.opt, {.step = 1});
    // a model with a differently shaped layer
    Run b;
    Var<float> wide(Tensor<float>::zeros({16, 9}), true);
    optim::ParameterList<float> wrong = {wide.parameter("w1"), b.b1.parameter("b1"), b.w2.parameter("w2")};
    auto before = b.w2.value().to_vector();
    BOOST_CHECK_THROW(train::load_checkpoint(path, wrong, *b.opt), shape_error);
    BOOST_TEST(b.w2.value().to_vector() == before, boost::test_tools::per_element());
    // a generator requested but not saved
    Generator g(1);
    BOOST_CHECK_THROW(train::load_checkpoint(path, b.params, *b.opt, &g), parse_error);
    // a truncated file
    auto cut = scratch("cut.safetensors");
    std::filesystem::copy_file(path, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
    BOOST_CHECK_THROW(train::load_checkpoint(cut, b.params, *b.opt), parse_error);
    BOOST_TEST(b.w2.value().to_vector() == before, boost::test_tools::per_element());

    // The last parameter stored as f64: refused before the first parameter or the optimiser is
    // overwritten (the file's w1 and state differ from b's).
    io::SafetensorsFile good(path);
    io::SafetensorsWriter f64;
    for (const auto& [k, v] : good.metadata()) f64.add_metadata(k, v);
    for (const auto& n : good.names())
        if (n == "w2") f64.add(n, good.get_as<double>(n));
        else f64.add(n, good.get<float>(n));
    auto mixed = scratch("mixed.safetensors");
    f64.save(mixed);
    const auto w1_before = b.w1.value().to_vector();
    BOOST_REQUIRE(w1_before != good.get<float>("w1").to_vector());
    const std::string msg = ward::testing::message_of<dtype_error>([&] { train::load_checkpoint(mixed, b.params, *b.opt); });
    BOOST_TEST(msg.find(mixed.string() + ": tensor 'w2' is stored as F64") != std::string::npos, msg);
    BOOST_TEST(b.w1.value().to_vector() == w1_before, boost::test_tools::per_element());
    BOOST_TEST(b.opt->step_count() == 0);
    BOOST_TEST(!b.opt->state("w1").buffers[0].defined());

    // A step count past int64's range.
    io::SafetensorsWriter far;
    for (const auto& [k, v] : good.metadata()) far.add_metadata(k, k == "ward.checkpoint.step" ? "18446744073709551615" : v);
    for (const auto& n : good.names()) far.add(n, good.get<float>(n));
    auto far_path = scratch("far.safetensors");
    far.save(far_path);
    BOOST_TEST(ward::testing::message_of<parse_error>([&] { train::load_checkpoint(far_path, b.params, *b.opt); })
                   .find("'ward.checkpoint.step' = 18446744073709551615 is out of range") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
