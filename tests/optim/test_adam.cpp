// Adam and AdamW against closed forms (the first step is -lr * sign(g); with zero gradients AdamW
// only shrinks the weights by (1 - lr wd) per step), against the recurrences written out in double
// (bias correction, eps after the square root, L2 vs decoupled decay, AMSGrad), and against
// PyTorch's own trajectories (tests/optim/fixtures/torch_reference.safetensors).
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <ward/io/safetensors.hpp>
#include <ward/optim/adam.hpp>
#include <ward/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace ward;
using optim::Adam;
using optim::AdamW;
using optim::Parameter;
using optim::ParameterList;
using Floats = boost::mpl::list<float, double>;

// The CPU has no multi-tensor Adam kernel: its optimisers step each parameter with expressions.
static_assert(!has_multi_tensor_adam<float, cpu> && !has_multi_tensor_adam<bf16, cpu>);
static_assert(!optim::detail::updates_all<optim::AdamRule<true>, float, cpu, 3>);

namespace {

const std::filesystem::path torch_reference =
    std::filesystem::path(__FILE__).parent_path() / "fixtures" / "torch_reference.safetensors";

template <class T>
Parameter<T> make_param(const std::string& name, const std::vector<double>& values, const Shape& shape) {
    return {name, Tensor<T>::from_vector(std::vector<T>(values.begin(), values.end()), shape), Tensor<T>::zeros(shape)};
}
template <class T>
void set_grad(Parameter<T>& p, const std::vector<double>& g) {
    p.grad.assign(Tensor<T>::from_vector(std::vector<T>(g.begin(), g.end()), p.grad.shape()));
}
template <class T>
double max_rel_diff(const std::vector<T>& a, const std::vector<double>& b, double floor = 1e-3) {
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]) / (std::abs(b[i]) + floor));
    return worst;
}
template <class T>
constexpr double tolerance() { return std::is_same_v<T, float> ? 1e-5 : 1e-12; }

/// Adam's recurrence in double for one element sequence; decoupled selects AdamW.
struct ReferenceAdam {
    double lr, b1, b2, eps, wd;
    bool decoupled, amsgrad;
    std::vector<double> p, m, v, vmax;
    int t = 0;
    void step(const std::vector<double>& g) {
        ++t;
        for (std::size_t i = 0; i < p.size(); ++i) {
            double gi = g[i];
            if (decoupled) p[i] *= 1 - lr * wd;
            else gi += wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            vmax[i] = std::max(vmax[i], v[i]);
            double m_hat = m[i] / (1 - std::pow(b1, t));
            double v_hat = (amsgrad ? vmax[i] : v[i]) / (1 - std::pow(b2, t));
            p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
        }
    }
};

template <class Opt, class T>
void check_against_torch(const std::string& config) {
    io::SafetensorsFile ref(torch_reference);
    const std::string dt = std::is_same_v<T, float> ? "f32" : "f64";
    auto c = nlohmann::json::parse(ref.metadata().at("config." + config));
    typename Opt::options_type o;
    o.lr = c.at("lr").get<double>();
    o.beta1 = c.value("beta1", 0.9);
    o.beta2 = c.value("beta2", 0.999);
    o.eps = c.value("eps", 1e-8);
    o.weight_decay = c.value("weight_decay", o.weight_decay);
    o.amsgrad = c.value("amsgrad", false);
    const int steps = std::stoi(ref.metadata().at("steps"));
    ParameterList<T> params{{"p", ref.get<T>(config + "." + dt + ".param.0"), Tensor<T>::zeros(Shape{3, 4})}};
    Opt opt(params, o);
    // f32: PyTorch's vectorised kernels fuse some multiply-adds; a few ulps over six steps.
    const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
    for (int k = 0; k < steps; ++k) {
        params[0].grad.assign(ref.get<T>("grad." + dt + "." + std::to_string(k)));
        opt.step();
        auto want = ref.get<T>(config + "." + dt + ".param." + std::to_string(k + 1)).to_vector();
        double diff = max_rel_diff(params[0].value.to_vector(), std::vector<double>(want.begin(), want.end()));
        BOOST_TEST(diff <= tol, config << " " << dt << " step " << k + 1 << ": relative difference " << diff);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optim_adam)

BOOST_AUTO_TEST_CASE_TEMPLATE(first_step_is_minus_lr_times_sign_of_the_gradient, T, Floats) {
    const std::vector<double> p0 = {1.0, -1.0, 0.5, 2.0, 0.0}, g = {3.0, -0.001, 1e3, -7.5, 0.25};
    auto p = make_param<T>("w", p0, Shape{5});
    set_grad(p, g);
    Adam<T> opt(ParameterList<T>{p}, {.lr = 0.01});
    opt.step();
    auto got = p.value.to_vector();
    for (std::size_t i = 0; i < g.size(); ++i) {
        // m_hat = g, v_hat = g^2 exactly after one step: p1 = p0 - lr g / (|g| + eps).
        double want = p0[i] - 0.01 * g[i] / (std::abs(g[i]) + 1e-8);
        BOOST_TEST(std::abs(static_cast<double>(got[i]) - want) <= 1e-7, i << ": " << got[i] << " vs " << want);
        BOOST_TEST(std::abs(static_cast<double>(got[i]) - (p0[i] - 0.01 * (g[i] > 0 ? 1 : -1))) <= 1e-6);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(adam_adamw_and_amsgrad_follow_the_recurrences, T, Floats) {
    const std::vector<double> p0 = {0.5, -1.5, 2.0, 0.1, -0.2, 3.0};
    struct Case {
        double lr, b1, b2, eps, wd;
        bool decoupled, amsgrad;
    };
    for (Case c : {Case{1e-2, 0.9, 0.999, 1e-8, 0.0, false, false}, Case{3e-2, 0.8, 0.99, 1e-6, 0.1, false, false},
                   Case{1e-2, 0.9, 0.999, 1e-8, 0.05, true, false}, Case{2e-2, 0.9, 0.99, 1e-8, 0.0, false, true},
                   Case{2e-2, 0.85, 0.95, 1e-7, 0.2, true, true}}) {
        ReferenceAdam ref{c.lr, c.b1, c.b2, c.eps, c.wd, c.decoupled, c.amsgrad, p0, std::vector<double>(6),
                          std::vector<double>(6), std::vector<double>(6)};
        auto p = make_param<T>("w", p0, Shape{2, 3});
        ParameterList<T> params{p};
        auto run = [&](auto& opt) {
            for (int k = 0; k < 12; ++k) {
                std::vector<double> g(6);
                for (int i = 0; i < 6; ++i) g[i] = std::sin(1.7 * k + i) * (k == 4 ? 30.0 : 1.0);  // a spike for AMSGrad
                std::vector<double> rounded(6);
                for (int i = 0; i < 6; ++i) rounded[i] = static_cast<double>(static_cast<T>(g[i]));
                set_grad(params[0], g);
                opt.step();
                ref.step(rounded);
            }
        };
        if (c.decoupled) {
            AdamW<T> opt(params, {.lr = c.lr, .beta1 = c.b1, .beta2 = c.b2, .eps = c.eps, .weight_decay = c.wd, .amsgrad = c.amsgrad});
            run(opt);
        } else {
            Adam<T> opt(params, {.lr = c.lr, .beta1 = c.b1, .beta2 = c.b2, .eps = c.eps, .weight_decay = c.wd, .amsgrad = c.amsgrad});
            run(opt);
        }
        double diff = max_rel_diff(p.value.to_vector(), ref.p);
        BOOST_TEST(diff <= tolerance<T>(), "lr " << c.lr << " wd " << c.wd << " decoupled " << c.decoupled << " amsgrad "
                                                 << c.amsgrad << ": relative difference " << diff);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(with_zero_gradients_adamw_only_decays_and_adam_l2_moves_against_the_weights, T, Floats) {
    const std::vector<double> p0 = {2.0, -4.0, 0.5};
    auto pw = make_param<T>("w", p0, Shape{3});
    auto pa = make_param<T>("w", p0, Shape{3});
    AdamW<T> adamw(ParameterList<T>{pw}, {.lr = 0.1, .weight_decay = 0.5});
    Adam<T> adam(ParameterList<T>{pa}, {.lr = 0.1, .weight_decay = 0.5});
    adam.step();  // L2 decay enters the gradient as wd p: the first step is lr against sign(p)
    auto a = pa.value.to_vector();
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(static_cast<double>(a[i]) == p0[i] - 0.1 * (p0[i] > 0 ? 1 : -1), boost::test_tools::tolerance(1e-6));
    for (int k = 0; k < 3; ++k) adamw.step();  // m = v = 0: the Adam part of the step is exactly 0
    auto w = pw.value.to_vector();
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(static_cast<double>(w[i]) == p0[i] * std::pow(1 - 0.1 * 0.5, 3), boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(matches_pytorch_trajectories, T, Floats) {
    check_against_torch<Adam<T>, T>("adam");
    check_against_torch<Adam<T>, T>("adam_l2");
    check_against_torch<Adam<T>, T>("adam_amsgrad");
    check_against_torch<AdamW<T>, T>("adamw");
}

BOOST_AUTO_TEST_CASE(defaults_match_pytorch_and_bad_hyper_parameters_are_refused) {
    BOOST_TEST(optim::AdamOptions{}.weight_decay == 0.0);
    BOOST_TEST(optim::AdamWOptions{}.weight_decay == 1e-2);
    BOOST_TEST(optim::AdamOptions{}.lr == 1e-3);
    BOOST_TEST(optim::AdamOptions{}.eps == 1e-8);
    auto params = [] { return ParameterList<float>{make_param<float>("w", {1}, Shape{1})}; };
    BOOST_CHECK_THROW(Adam<float>(params(), {.beta1 = 1.0}), value_error);
    BOOST_CHECK_THROW(Adam<float>(params(), {.beta2 = -0.1}), value_error);
    BOOST_CHECK_THROW(AdamW<float>(params(), {.eps = -1.0}), value_error);
    BOOST_CHECK_THROW(AdamW<float>(params(), {.weight_decay = -1.0}), value_error);
}

BOOST_AUTO_TEST_CASE(a_step_is_three_fused_passes_and_adamw_decay_one_more) {
    auto p = make_param<float>("w", {1, 2}, Shape{2});
    set_grad(p, {0.5, -0.5});
    Adam<float> adam(ParameterList<float>{p}, {.weight_decay = 0.1});  // L2 folds into the moment passes
    adam.set_check_finite(false);
    adam.step();
    auto before = stats::elementwise_passes.load();
    adam.step();
    BOOST_TEST(stats::elementwise_passes.load() - before == 3u);  // m, v, p
    AdamW<float> adamw(ParameterList<float>{p}, {});
    adamw.set_check_finite(false);
    adamw.step();
    before = stats::elementwise_passes.load();
    adamw.step();
    BOOST_TEST(stats::elementwise_passes.load() - before == 4u);  // decay, m, v, p
}

BOOST_AUTO_TEST_CASE(state_buffers_are_created_at_the_first_step) {
    auto p = make_param<float>("w", {1, 2}, Shape{2});
    Adam<float> plain(ParameterList<float>{p}, {});
    BOOST_TEST(!plain.state("w").buffers[0].defined());
    set_grad(p, {0.5, -0.5});
    plain.step();
    BOOST_TEST(plain.state("w").step == 1);
    BOOST_TEST(plain.state("w").buffers[0].to_vector() == (std::vector<float>{0.05f, -0.05f}));
    BOOST_TEST(!plain.state("w").buffers[2].defined());  // max_exp_avg_sq only with AMSGrad
}

BOOST_AUTO_TEST_SUITE_END()
