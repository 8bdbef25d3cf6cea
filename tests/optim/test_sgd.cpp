// SGD against closed forms and recurrences written out in double, and against PyTorch's own
// trajectories (tests/optim/fixtures/torch_reference.safetensors, from make_torch_reference.py):
// plain, momentum with dampening and weight decay, Nesterov; parameter groups; in-place updates
// through strided views; refusing NaN gradients; hyper-parameter validation.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <ward/io/safetensors.hpp>
#include <ward/optim/sgd.hpp>
#include <ward/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

using namespace ward;
using optim::Parameter;
using optim::ParameterList;
using optim::Sgd;
using optim::SgdOptions;
using Floats = boost::mpl::list<float, double>;

namespace {

const std::filesystem::path torch_reference =
    std::filesystem::path(__FILE__).parent_path() / "fixtures" / "torch_reference.safetensors";

template <class T>
Parameter<T> make_param(const std::string& name, const std::vector<T>& values, const Shape& shape) {
    return {name, Tensor<T>::from_vector(values, shape), Tensor<T>::zeros(shape)};
}

/// max |a - b| / (|b| + floor), elementwise.
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<double>& b, double floor = 1e-3) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / (std::abs(b[i]) + floor));
    return worst;
}
template <class T>
std::vector<double> as_double(const std::vector<T>& v) {
    return std::vector<double>(v.begin(), v.end());
}

SgdOptions options_from_json(const nlohmann::json& c) {
    SgdOptions o;
    o.lr = c.at("lr").get<double>();
    o.momentum = c.value("momentum", 0.0);
    o.dampening = c.value("dampening", 0.0);
    o.weight_decay = c.value("weight_decay", 0.0);
    o.nesterov = c.value("nesterov", false);
    return o;
}

/// Replays PyTorch's gradients through ward's SGD and compares every step with PyTorch's parameters.
template <class T>
void check_against_torch(const std::string& config) {
    io::SafetensorsFile ref(torch_reference);
    const std::string dt = std::is_same_v<T, float> ? "f32" : "f64";
    const auto options = options_from_json(nlohmann::json::parse(ref.metadata().at("config." + config)));
    const int steps = std::stoi(ref.metadata().at("steps"));
    ParameterList<T> params{{"p", ref.get<T>(config + "." + dt + ".param.0"), Tensor<T>::zeros(Shape{3, 4})}};
    Sgd<T> opt(params, options);
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
    for (int k = 0; k < steps; ++k) {
        params[0].grad.assign(ref.get<T>("grad." + dt + "." + std::to_string(k)));
        opt.step();
        auto want = as_double(ref.get<T>(config + "." + dt + ".param." + std::to_string(k + 1)).to_vector());
        double diff = max_rel_diff(params[0].value.to_vector(), want);
        BOOST_TEST(diff <= tol, config << " " << dt << " step " << k + 1 << ": relative difference " << diff);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optim_sgd)

BOOST_AUTO_TEST_CASE_TEMPLATE(plain_sgd_with_constant_gradient_is_linear_in_steps, T, Floats) {
    ParameterList<T> params{make_param<T>("w", {1.0, -2.0, 0.5}, Shape{3})};
    params[0].grad.assign(Tensor<T>::from_vector({0.25, -1.0, 2.0}, Shape{3}));
    Sgd<T> opt(params, {.lr = 0.1});
    for (int k = 0; k < 5; ++k) opt.step();
    auto p = params[0].value.to_vector();
    const double g[] = {0.25, -1.0, 2.0}, p0[] = {1.0, -2.0, 0.5};
    for (int i = 0; i < 3; ++i) BOOST_TEST(static_cast<double>(p[i]) == p0[i] - 5 * 0.1 * g[i], boost::test_tools::tolerance(1e-6));
    BOOST_TEST(opt.step_count() == 5);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(momentum_dampening_and_weight_decay_follow_the_recurrence, T, Floats) {
    // The recurrence written out in double: d = g + wd p; buf = d (first) or mu buf + (1 - damp) d; p -= lr buf.
    const double lr = 0.05, mu = 0.9, damp = 0.2, wd = 0.1;
    std::vector<double> p = {1.0, -0.5, 2.0, 0.0}, buf(4);
    ParameterList<T> params{make_param<T>("w", std::vector<T>(p.begin(), p.end()), Shape{2, 2})};
    Sgd<T> opt(params, {.lr = lr, .momentum = mu, .dampening = damp, .weight_decay = wd});
    for (int k = 0; k < 8; ++k) {
        std::vector<double> g = {std::sin(k + 1.0), std::cos(k * 0.5), -0.3 * k, 1.0 / (k + 1)};
        params[0].grad.assign(Tensor<T>::from_vector(std::vector<T>(g.begin(), g.end()), Shape{2, 2}));
        opt.step();
        for (int i = 0; i < 4; ++i) {
            double gi = static_cast<double>(static_cast<T>(g[i]));
            double d = gi + wd * p[i];
            buf[i] = k == 0 ? d : mu * buf[i] + (1 - damp) * d;
            p[i] -= lr * buf[i];
        }
    }
    BOOST_TEST(max_rel_diff(params[0].value.to_vector(), p) <= (std::is_same_v<T, float> ? 1e-5 : 1e-13));
    BOOST_TEST(max_rel_diff(opt.state("w").buffers[0].to_vector(), buf) <= (std::is_same_v<T, float> ? 1e-5 : 1e-13));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(nesterov_follows_the_recurrence, T, Floats) {
    const double lr = 0.1, mu = 0.8;
    std::vector<double> p = {0.3, -1.2, 4.0}, buf(3);
    ParameterList<T> params{make_param<T>("w", std::vector<T>(p.begin(), p.end()), Shape{3})};
    Sgd<T> opt(params, {.lr = lr, .momentum = mu, .nesterov = true});
    for (int k = 0; k < 6; ++k) {
        std::vector<double> g = {0.5 - k * 0.25, 1.0, -2.0 + k};
        params[0].grad.assign(Tensor<T>::from_vector(std::vector<T>(g.begin(), g.end()), Shape{3}));
        opt.step();
        for (int i = 0; i < 3; ++i) {
            buf[i] = k == 0 ? g[i] : mu * buf[i] + g[i];
            p[i] -= lr * (g[i] + mu * buf[i]);
        }
    }
    BOOST_TEST(max_rel_diff(params[0].value.to_vector(), p) <= (std::is_same_v<T, float> ? 1e-5 : 1e-13));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(matches_pytorch_trajectories, T, Floats) {
    check_against_torch<T>("sgd_plain");
    check_against_torch<T>("sgd_momentum");
    check_against_torch<T>("sgd_nesterov");
}

BOOST_AUTO_TEST_CASE(parameter_groups_take_their_own_lr_and_weight_decay) {
    ParameterList<double> a{make_param<double>("a", {1.0, 1.0}, Shape{2})};
    ParameterList<double> b{make_param<double>("b", {1.0, 1.0}, Shape{2})};
    ParameterList<double> c{make_param<double>("c", {1.0, 1.0}, Shape{2})};
    for (auto* list : {&a, &b, &c}) (*list)[0].grad.fill(0.5);
    Sgd<double> opt({{a, 0.1, std::nullopt}, {b, 0.01, 0.5}, {c, std::nullopt, std::nullopt}}, {.lr = 0.2, .weight_decay = 0.0});
    opt.step();
    BOOST_TEST(a[0].value.to_vector() == (std::vector<double>{1.0 - 0.1 * 0.5, 1.0 - 0.1 * 0.5}));
    BOOST_TEST(b[0].value.to_vector() == (std::vector<double>{1.0 - 0.01 * (0.5 + 0.5 * 1.0), 1.0 - 0.01 * (0.5 + 0.5 * 1.0)}));
    BOOST_TEST(c[0].value.to_vector() == (std::vector<double>{1.0 - 0.2 * 0.5, 1.0 - 0.2 * 0.5}));
    BOOST_TEST(opt.lr(1) == 0.01);
    opt.set_lr(1, 0.0);
    opt.set_lr_multiplier(0.5);
    BOOST_TEST(opt.effective_lr(0) == 0.05);
    auto before = b[0].value.to_vector();
    opt.step();
    BOOST_TEST(b[0].value.to_vector() == before);  // lr 0: no change at all
    BOOST_TEST(a[0].value.to_vector()[0] == 1.0 - 0.1 * 0.5 - 0.05 * 0.5);
    BOOST_TEST(opt.parameters().size() == 3u);
}

BOOST_AUTO_TEST_CASE(updates_the_callers_storage_in_place_through_strided_views) {
    // The parameter is a transposed view of a (3, 2) buffer, as a fused weight's slice would be.
    auto storage = Tensor<float>::from_vector({1, 2, 3, 4, 5, 6}, Shape{3, 2});
    Parameter<float> p{"w", storage.transpose(), Tensor<float>::full(Shape{2, 3}, 1.0f)};
    p.grad.at({1, 2}) = 10.0f;
    const float* data_before = p.value.data();
    auto grad_alias = p.grad;  // autograd's handle to the gradient
    Sgd<float> opt(ParameterList<float>{p}, {.lr = 0.5, .momentum = 0.9});
    opt.step();
    BOOST_TEST(opt.groups()[0].params[0].value.data() == data_before);
    // storage (3, 2) row-major; element (r, c) of the view is storage (c, r).
    BOOST_TEST(storage.to_vector() == (std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 6.0f - 5.0f}));
    // The momentum buffer is a copy of the first gradient, not an alias of it.
    grad_alias.fill(0.0f);
    opt.zero_grad();
    BOOST_TEST(opt.state("w").buffers[0].to_vector() == (std::vector<float>{1, 1, 1, 1, 1, 10}));
    BOOST_TEST(p.grad.to_vector() == std::vector<float>(6, 0.0f));
}

BOOST_AUTO_TEST_CASE(each_update_is_one_fused_pass_per_tensor_written) {
    ParameterList<float> params{make_param<float>("w", {1, 2, 3}, Shape{3})};
    params[0].grad.fill(0.5f);
    Sgd<float> plain(params, {.lr = 0.1, .weight_decay = 0.01});
    plain.set_check_finite(false);
    auto before = stats::elementwise_passes.load();
    plain.step();
    BOOST_TEST(stats::elementwise_passes.load() - before == 1u);  // p = p - lr (g + wd p)
    Sgd<float> momentum(params, {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    momentum.step();  // creates the buffer
    before = stats::elementwise_passes.load();
    auto reductions = stats::reduction_passes.load();
    momentum.step();
    BOOST_TEST(stats::elementwise_passes.load() - before == 2u);  // buf, then p
    BOOST_TEST(stats::reduction_passes.load() - reductions == 1u);  // the finite-gradient check
}

BOOST_AUTO_TEST_CASE(non_finite_gradient_is_refused_before_anything_changes) {
    ParameterList<float> params{make_param<float>("first", {1, 2}, Shape{2}), make_param<float>("second", {3, 4}, Shape{2})};
    params[0].grad.fill(0.5f);
    params[1].grad.at({1}) = std::numeric_limits<float>::quiet_NaN();
    Sgd<float> opt(params, {.lr = 0.1, .momentum = 0.9});
    try {
        opt.step();
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("'second'") != std::string::npos, e.what());
    }
    BOOST_TEST(params[0].value.to_vector() == (std::vector<float>{1, 2}));
    BOOST_TEST(params[1].value.to_vector() == (std::vector<float>{3, 4}));
    BOOST_TEST(opt.step_count() == 0);
    BOOST_TEST(opt.state("first").step == 0);
    params[1].grad.at({1}) = std::numeric_limits<float>::infinity();
    BOOST_CHECK_THROW(opt.step(), value_error);
}

BOOST_AUTO_TEST_CASE(invalid_configurations_are_value_errors) {
    auto params = [] { return ParameterList<float>{make_param<float>("w", {1}, Shape{1})}; };
    BOOST_CHECK_THROW(Sgd<float>(params(), {.lr = -1.0}), value_error);
    BOOST_CHECK_THROW(Sgd<float>(params(), {.lr = 0.1, .momentum = -0.5}), value_error);
    BOOST_CHECK_THROW(Sgd<float>(params(), {.lr = 0.1, .nesterov = true}), value_error);
    BOOST_CHECK_THROW(Sgd<float>(params(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}), value_error);
    BOOST_CHECK_THROW(Sgd<float>(params(), {.lr = std::numeric_limits<double>::quiet_NaN()}), value_error);
    auto twice = params();
    twice.push_back(twice[0]);
    BOOST_CHECK_THROW(Sgd<float>(twice, {}), value_error);
    BOOST_CHECK_THROW(Sgd<float>(ParameterList<float>{make_param<float>("", {1}, Shape{1})}, {}), value_error);
    ParameterList<float> mismatched{{"w", Tensor<float>::zeros(Shape{2}), Tensor<float>::zeros(Shape{3})}};
    BOOST_CHECK_THROW(Sgd<float>(mismatched, {}), shape_error);
    Sgd<float> opt(params(), {.lr = 0.1});
    BOOST_CHECK_THROW(opt.set_lr_multiplier(-1.0), value_error);
    BOOST_CHECK_THROW(opt.set_lr(0, std::numeric_limits<double>::infinity()), value_error);
    BOOST_CHECK_THROW(opt.state("nope"), index_error);
}

BOOST_AUTO_TEST_SUITE_END()
