// Global-norm clipping against PyTorch's clip_grad_norm_ (a committed fixture) and closed forms:
// the norm returned, the scaled gradients, no change below the threshold, and NaN/inf refused.
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>

#include <ward/io/safetensors.hpp>
#include <ward/optim/adam.hpp>
#include <ward/optim/clip.hpp>
#include <ward/tensor.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

using namespace ward;
using optim::clip_grad_norm;
using optim::ParameterList;
using Floats = boost::mpl::list<float, double>;
namespace tt = boost::test_tools;

namespace {
const std::filesystem::path torch_reference =
    std::filesystem::path(__FILE__).parent_path() / "fixtures" / "torch_reference.safetensors";

template <class T>
ParameterList<T> two_params(const std::vector<T>& ga, const std::vector<T>& gb) {
    return {{"a", Tensor<T>::zeros(Shape{3}), Tensor<T>::from_vector(ga, Shape{3})},
            {"b", Tensor<T>::zeros(Shape{2, 2}), Tensor<T>::from_vector(gb, Shape{2, 2})}};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(optim_clip)

BOOST_AUTO_TEST_CASE(matches_pytorch_clip_grad_norm) {
    io::SafetensorsFile ref(torch_reference);
    ParameterList<float> params{{"a", Tensor<float>::zeros(Shape{3}), ref.get<float>("clip.grad.a")},
                                {"b", Tensor<float>::zeros(Shape{2, 2}), ref.get<float>("clip.grad.b")}};
    double norm = clip_grad_norm(params, std::stod(ref.metadata().at("clip.max_norm")));
    BOOST_TEST(norm == std::stod(ref.metadata().at("clip.total_norm")), tt::tolerance(1e-6));
    for (const char* n : {"a", "b"}) {
        auto want = ref.get<float>(std::string("clip.clipped.") + n).to_vector();
        auto got = params[n[0] == 'a' ? 0 : 1].grad.to_vector();
        for (std::size_t i = 0; i < want.size(); ++i) BOOST_TEST(got[i] == want[i], tt::tolerance(1e-6f));
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(clips_to_max_norm_and_returns_the_norm_before, T, Floats) {
    // Norm sqrt(9 + 16 + 0 + 144 + 0 + 0 + 0) = 13.
    auto params = two_params<T>({3, 4, 0}, {12, 0, 0, 0});
    double norm = clip_grad_norm(params, 1.0);
    BOOST_TEST(norm == 13.0, tt::tolerance(1e-12));
    const double scale = 1.0 / (13.0 + 1e-6);
    auto a = params[0].grad.to_vector(), b = params[1].grad.to_vector();
    BOOST_TEST(static_cast<double>(a[0]) == 3 * scale, tt::tolerance(1e-6));
    BOOST_TEST(static_cast<double>(a[1]) == 4 * scale, tt::tolerance(1e-6));
    BOOST_TEST(static_cast<double>(b[0]) == 12 * scale, tt::tolerance(1e-6));
    BOOST_TEST(optim::global_grad_norm(params) == 1.0, tt::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(below_the_threshold_nothing_changes, T, Floats) {
    auto params = two_params<T>({0.1f, -0.2f, 0.3f}, {0.01f, 0.02f, -0.03f, 0.04f});
    auto before_a = params[0].grad.to_vector(), before_b = params[1].grad.to_vector();
    double norm = clip_grad_norm(params, 1.0);
    double want = 0;
    for (T x : before_a) want += static_cast<double>(x) * static_cast<double>(x);
    for (T x : before_b) want += static_cast<double>(x) * static_cast<double>(x);
    BOOST_TEST(norm == std::sqrt(want), tt::tolerance(1e-14));
    BOOST_TEST(params[0].grad.to_vector() == before_a);  // bit for bit
    BOOST_TEST(params[1].grad.to_vector() == before_b);
}

BOOST_AUTO_TEST_CASE(non_finite_gradients_throw_and_name_the_parameter) {
    auto params = two_params<float>({1, 2, 3}, {1, std::numeric_limits<float>::quiet_NaN(), 0, 0});
    try {
        clip_grad_norm(params, 1.0);
        BOOST_FAIL("expected value_error");
    } catch (const value_error& e) {
        BOOST_TEST(std::string(e.what()).find("'b'") != std::string::npos, e.what());
    }
    BOOST_TEST(params[0].grad.to_vector() == (std::vector<float>{1, 2, 3}));  // untouched
    auto inf = two_params<float>({std::numeric_limits<float>::infinity(), 0, 0}, {0, 0, 0, 0});
    BOOST_CHECK_THROW(clip_grad_norm(inf, 1.0), value_error);
    // f32 gradients whose squares overflow f32 are fine: the sum is taken in double.
    auto big = two_params<float>({3e30f, 4e30f, 0}, {0, 0, 0, 0});
    BOOST_TEST(clip_grad_norm(big, 1.0) == 5e30, tt::tolerance(1e-6));
    auto huge = two_params<double>({1e200, 0, 0}, {0, 0, 0, 0});
    BOOST_CHECK_THROW(clip_grad_norm(huge, 1.0), value_error);
    BOOST_CHECK_THROW(clip_grad_norm(params, 0.0), value_error);
    BOOST_CHECK_THROW(clip_grad_norm(params, -1.0), value_error);
}

BOOST_AUTO_TEST_CASE(works_on_an_optimizers_parameters_and_on_empty_lists) {
    BOOST_TEST(clip_grad_norm(ParameterList<float>{}, 1.0) == 0.0);
    auto params = two_params<float>({0, 6, 0}, {0, 0, 8, 0});
    optim::Adam<float> opt(params, {});
    BOOST_TEST(clip_grad_norm(opt.parameters(), 5.0) == 10.0, tt::tolerance(1e-12));
    BOOST_TEST(static_cast<double>(params[0].grad.to_vector()[1]) == 6 * 5.0 / (10 + 1e-6), tt::tolerance(1e-6));
}

BOOST_AUTO_TEST_SUITE_END()
