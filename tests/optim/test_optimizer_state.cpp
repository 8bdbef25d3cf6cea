// Saving and loading optimiser state: a run interrupted, saved, restored into a fresh optimiser
// (constructed with different hyper-parameters) and continued is bit-identical to an uninterrupted
// run, for SGD, Adam and AdamW (with AMSGrad), f32 and f64, two parameter groups and a schedule;
// the layout of the saved file; one checkpoint holding weights and state under a prefix; and
// every mismatch refused with the optimiser left as it was.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <ward/io/safetensors.hpp>
#include <ward/optim.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "error_message.hpp"

namespace fs = std::filesystem;
using namespace ward;
using namespace ward::optim;
using Floats = boost::mpl::list<float, double>;

static_assert(Optimizer<Sgd<float>> && Optimizer<Adam<double>> && Optimizer<AdamW<float>>);

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ward-optim-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

/// A small model: two groups (a matrix and a bias; a vector), values from a fixed seed.
template <class T>
std::vector<ParamGroup<T>> make_groups(std::vector<Parameter<T>>& all) {
    Generator gen(7);
    auto param = [&](const std::string& name, Shape s) {
        Parameter<T> p{name, Tensor<T>(normal<compute_t<T>>(gen, s)), Tensor<T>::zeros(s)};
        all.push_back(p);
        return p;
    };
    ParameterList<T> g0{param("layer.0.weight", Shape{4, 3}), param("layer.0.bias", Shape{3})};
    ParameterList<T> g1{param("head", Shape{5})};
    return {{g0, std::nullopt, std::nullopt}, {g1, 0.5 * 3e-2, 0.0}};
}

/// A gradient that depends on the parameter and the step (so any difference in state compounds).
template <class T>
void compute_grads(std::vector<Parameter<T>>& params, int step) {
    using V = compute_t<T>;
    for (std::size_t i = 0; i < params.size(); ++i) {
        Generator gen(100 + static_cast<std::uint64_t>(step), i);
        params[i].grad.assign(params[i].value * params[i].value * V(0.3) - params[i].value +
                              normal<V>(gen, params[i].value.shape(), V(0), V(0.1)));
    }
}

template <class T>
std::vector<std::vector<T>> values(const std::vector<Parameter<T>>& params) {
    std::vector<std::vector<T>> out;
    for (const auto& p : params) out.push_back(p.value.to_vector());
    return out;
}

/// Runs `total` steps straight, and `split` steps + save + restore into fresh parameters and a
/// fresh optimiser (built with other hyper-parameters) + the rest: the end states must be equal bit for bit.
template <class Opt, class T>
void resume_check(typename Opt::options_type options, typename Opt::options_type decoy) {
    const int total = 10, split = 4;
    WarmupCosine sched{.warmup_steps = 2, .total_steps = total, .min_ratio = 0.1};

    std::vector<Parameter<T>> straight_params;
    Opt straight(make_groups(straight_params), options);
    for (int k = 0; k < total; ++k) {
        compute_grads(straight_params, k);
        straight.set_lr_multiplier(sched(straight.step_count()));
        straight.step();
    }

    TempDir dir;
    {
        std::vector<Parameter<T>> first_params;
        Opt first(make_groups(first_params), options);
        for (int k = 0; k < split; ++k) {
            compute_grads(first_params, k);
            first.set_lr_multiplier(sched(first.step_count()));
            first.step();
        }
        io::SafetensorsWriter w;
        for (const auto& p : first_params) w.add("model." + p.name, p.value);
        first.write_state(w, "optim.");
        w.save(dir.path / "checkpoint.safetensors");
    }  // the first run is gone, as after a crash

    io::SafetensorsFile ckpt(dir.path / "checkpoint.safetensors");
    std::vector<Parameter<T>> resumed_params;
    auto groups = make_groups(resumed_params);
    for (auto& p : resumed_params) ckpt.read_into("model." + p.name, p.value);  // in place, as a model loader would
    groups[1].lr = 123.0;  // differs from the saved group lr: the file's value must win
    Opt resumed(groups, decoy);
    resumed.read_state(ckpt, "optim.");
    BOOST_TEST(resumed.step_count() == split);
    BOOST_TEST(resumed.lr(1) == 0.5 * 3e-2);
    for (int k = split; k < total; ++k) {
        compute_grads(resumed_params, k);
        resumed.set_lr_multiplier(sched(resumed.step_count()));
        resumed.step();
    }
    auto want = values(straight_params), got = values(resumed_params);
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST((got[i] == want[i]), "parameter " << straight_params[i].name << " differs after resuming");
    BOOST_TEST(resumed.step_count() == total);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optim_optimizer_state)

BOOST_AUTO_TEST_CASE_TEMPLATE(resumed_runs_are_bit_identical_to_uninterrupted_ones, T, Floats) {
    resume_check<Sgd<T>, T>({.lr = 3e-2, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true}, {.lr = 1.0, .momentum = 0.5});
    resume_check<Sgd<T>, T>({.lr = 3e-2, .momentum = 0.8, .dampening = 0.3}, {.lr = 1.0});
    resume_check<Adam<T>, T>({.lr = 3e-2, .beta1 = 0.8, .weight_decay = 1e-2}, {.lr = 1.0, .eps = 1e-3});
    resume_check<AdamW<T>, T>({.lr = 3e-2, .beta2 = 0.99, .weight_decay = 0.1, .amsgrad = true}, {});
}

BOOST_AUTO_TEST_CASE(saved_file_layout) {
    TempDir dir;
    ParameterList<float> params{{"w", Tensor<float>::ones(Shape{2}), Tensor<float>::full(Shape{2}, 0.5f)},
                                {"b", Tensor<float>::ones(Shape{1}), Tensor<float>::full(Shape{1}, -1.0f)}};
    AdamW<float> opt(params, {.lr = 0.1, .weight_decay = 0.25});
    opt.step();
    opt.step();
    opt.set_lr_multiplier(0.3);
    opt.save_state(dir.path / "state.safetensors");
    io::SafetensorsFile f(dir.path / "state.safetensors");
    BOOST_TEST(f.names() == (std::vector<std::string>{"state.b.exp_avg", "state.b.exp_avg_sq", "state.w.exp_avg", "state.w.exp_avg_sq"}));
    const auto& m = f.metadata();
    BOOST_TEST(m.at("type") == "adamw");
    BOOST_TEST(m.at("step_count") == "2");
    BOOST_TEST(m.at("lr_multiplier") == "0.3");
    BOOST_TEST(m.at("hyper.beta2") == "0.999");
    BOOST_TEST(m.at("hyper.amsgrad") == "0");
    BOOST_TEST(m.at("groups") == "1");
    BOOST_TEST(m.at("group.0.lr") == "0.1");
    BOOST_TEST(m.at("group.0.weight_decay") == "0.25");
    BOOST_TEST(m.at("group.0.params") == R"(["w","b"])");
    BOOST_TEST(m.at("state.w.step") == "2");
    // exp_avg after two steps of a constant gradient g: (1 - 0.9^2) g.
    auto ea = f.get<float>("state.w.exp_avg").to_vector();
    BOOST_TEST(static_cast<double>(ea[0]) == (1 - 0.81) * 0.5, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(f.get<float>("state.b.exp_avg_sq").to_vector()[0] == opt.state("b").buffers[1].to_vector()[0]);
}

BOOST_AUTO_TEST_CASE(sgd_without_momentum_saves_no_buffers_and_round_trips) {
    TempDir dir;
    ParameterList<double> params{{"w", Tensor<double>::ones(Shape{3}), Tensor<double>::full(Shape{3}, 0.5)}};
    Sgd<double> opt(params, {.lr = 0.1});
    opt.step();
    opt.save_state(dir.path / "s.safetensors");
    BOOST_TEST(io::SafetensorsFile(dir.path / "s.safetensors").size() == 0u);
    Sgd<double> fresh(params, {.lr = 0.7, .weight_decay = 0.2});
    fresh.load_state(dir.path / "s.safetensors");
    BOOST_TEST(fresh.options().lr == 0.1);
    BOOST_TEST(fresh.options().weight_decay == 0.0);
    BOOST_TEST(fresh.step_count() == 1);
    BOOST_TEST(fresh.state("w").step == 1);
}

BOOST_AUTO_TEST_CASE(mismatched_state_is_refused_and_leaves_the_optimizer_unchanged) {
    TempDir dir;
    auto make = [](const std::string& name, Shape s) {
        return ParameterList<float>{{name, Tensor<float>::ones(s), Tensor<float>::full(s, 0.5f)}};
    };
    Adam<float> saved(make("w", Shape{2}), {.lr = 0.1});
    saved.step();
    saved.save_state(dir.path / "adam.safetensors");

    // The optimiser that fails to load keeps its own state: it continues exactly like a twin.
    auto params = make("w", Shape{2});
    auto twin_params = make("w", Shape{2});
    Adam<float> target(params, {.lr = 0.05});
    Adam<float> twin(twin_params, {.lr = 0.05});
    target.step();
    twin.step();
    auto refuse = [&](const fs::path& p, auto expected_exception) {
        using E = decltype(expected_exception);
        BOOST_CHECK_THROW(target.load_state(p), E);
    };
    Sgd<float> sgd(make("w", Shape{2}), {.lr = 0.1, .momentum = 0.9});
    sgd.step();
    sgd.save_state(dir.path / "sgd.safetensors");
    refuse(dir.path / "sgd.safetensors", value_error{""});  // another optimiser's state

    Adam<float> renamed(make("v", Shape{2}), {});
    renamed.save_state(dir.path / "renamed.safetensors");
    refuse(dir.path / "renamed.safetensors", value_error{""});  // other parameter names

    Adam<float> reshaped(make("w", Shape{3}), {});
    reshaped.step();
    reshaped.save_state(dir.path / "reshaped.safetensors");
    refuse(dir.path / "reshaped.safetensors", shape_error{""});  // other shapes

    ParameterList<double> dparams{{"w", Tensor<double>::ones(Shape{2}), Tensor<double>::full(Shape{2}, 0.5)}};
    Adam<double> wide(dparams, {});
    wide.step();
    wide.save_state(dir.path / "f64.safetensors");
    refuse(dir.path / "f64.safetensors", dtype_error{""});  // f64 state into an f32 optimiser

    io::SafetensorsFile good(dir.path / "adam.safetensors");
    io::SafetensorsWriter partial;  // the tensors without the metadata
    for (const auto& n : good.names()) partial.add(n, good.get<float>(n));
    partial.save(dir.path / "no_metadata.safetensors");
    refuse(dir.path / "no_metadata.safetensors", parse_error{""});

    io::SafetensorsWriter no_moments;  // metadata says one step was taken, but the moments are missing
    for (const auto& [k, v] : good.metadata()) no_moments.add_metadata(k, v);
    no_moments.save(dir.path / "no_moments.safetensors");
    refuse(dir.path / "no_moments.safetensors", parse_error{""});

    io::SafetensorsWriter garbled;
    for (const auto& [k, v] : good.metadata()) garbled.add_metadata(k, k == "hyper.beta1" ? "zero point nine" : v);
    for (const auto& n : good.names()) garbled.add(n, good.get<float>(n));
    garbled.save(dir.path / "garbled.safetensors");
    refuse(dir.path / "garbled.safetensors", parse_error{""});

    BOOST_CHECK_THROW(target.load_state(dir.path / "absent.safetensors"), io_error);

    // Hyper-parameters the rule or the group refuses: the message names the file, as for the rest.
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{{"hyper.beta2", "1.5"}, {"group.0.lr", "-1"}}) {
        io::SafetensorsWriter out_of_range;
        for (const auto& [k, v] : good.metadata()) out_of_range.add_metadata(k, k == key ? value : v);
        for (const auto& n : good.names()) out_of_range.add(n, good.get<float>(n));
        const fs::path p = dir.path / "out_of_range.safetensors";
        out_of_range.save(p);
        const std::string msg = ward::testing::message_of<value_error>([&] { target.load_state(p); });
        BOOST_TEST(msg.find(p.string()) != std::string::npos, msg);
        BOOST_TEST(msg.find(key == "group.0.lr" ? "invalid lr" : "invalid beta2") != std::string::npos, msg);
    }

    for (int k = 0; k < 3; ++k) {
        target.step();
        twin.step();
    }
    BOOST_TEST(params[0].value.to_vector() == twin_params[0].value.to_vector());
    BOOST_TEST(target.step_count() == 4);
    BOOST_TEST(target.options().lr == 0.05);

    target.load_state(dir.path / "adam.safetensors");  // and a matching file loads
    BOOST_TEST(target.step_count() == 1);
    BOOST_TEST(target.options().lr == 0.1);
}

BOOST_AUTO_TEST_SUITE_END()
