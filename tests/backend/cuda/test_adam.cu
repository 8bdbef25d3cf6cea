// AdamW, Adam (L2) and AMSGrad on the GPU, where BasicOptimizer hands every parameter to
// Backend<cuda>'s multi-tensor kernel in one call, against the CPU optimiser (the per-parameter
// expression path) on the same data: several steps over 31 parameters of odd sizes (more tensors
// than one launch holds, and one tensor of more chunks than one launch holds), two groups with their
// own lr and weight decay, and a group added later (so step counts differ per parameter). The kernel
// rounds every operation as the CPU's loops do (no fused multiply-add), so values, moments and
// maxima must be bit-identical, f32 and bf16. Also: one step is the planned number of launches and no
// element-wise pass; a strided parameter and overlapping parameters take the per-tensor path and
// still agree (to f32 rounding: the GPU's expression kernels fuse multiply-adds). Skipped (exit 77) where no GPU exists.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <ward/cuda.cuh>
#include <ward/optim/adam.hpp>

#include "compare.hpp"
#include "require_gpu.hpp"

using namespace ward;
using optim::Parameter;
using optim::ParameterList;

namespace {

using ward_test::on_host;

static_assert(has_multi_tensor_adam<float, cuda> && has_multi_tensor_adam<bf16, cuda>);
static_assert(!has_multi_tensor_adam<double, cuda> && !has_multi_tensor_adam<float, cpu>);

template <class T>
std::vector<T> random_values(Generator& g, index_t n, float scale) {
    std::vector<float> v = Tensor<float>(normal<float>(g, Shape{n})).to_vector();
    std::vector<T> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = element_cast<T>(v[i] * scale);
    return out;
}

/// Elements whose bits differ (NaN included).
template <class T>
std::size_t bit_mismatches(const std::vector<T>& a, const std::vector<T>& b) {
    if (a.size() != b.size()) return std::max(a.size(), b.size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < a.size(); ++i) bad += std::memcmp(&a[i], &b[i], sizeof(T)) != 0;
    return bad;
}

/// The same parameters on the CPU and the GPU (same names, values and, each step, gradients).
template <class T>
struct Twin {
    ParameterList<T> cpu;
    ParameterList<T, cuda> gpu;
    void add(const std::string& name, const std::vector<T>& values, const Shape& s) {
        Tensor<T> v = Tensor<T>::from_vector(values, s);
        cpu.push_back({name, v, Tensor<T>::zeros(s)});
        gpu.push_back({name, v.template to<cuda>(), Tensor<T, cuda>::zeros(s)});
    }
    void set_grads(Generator& g) {
        for (std::size_t i = 0; i < cpu.size(); ++i) {
            Tensor<T> grad = Tensor<T>::from_vector(random_values<T>(g, cpu[i].value.numel(), 0.1f), cpu[i].value.shape());
            cpu[i].grad.assign(grad);
            gpu[i].grad.assign(grad.template to<cuda>());
        }
    }
};

const index_t big = 320 * 65536 + 3;  // more chunks than one launch holds

template <class T>
ParameterList<T> sized(Twin<T>& twin, Generator& g, const std::vector<index_t>& sizes, const std::string& prefix) {
    for (std::size_t i = 0; i < sizes.size(); ++i)
        twin.add(prefix + std::to_string(i), random_values<T>(g, sizes[i], 1.0f), Shape{sizes[i]});
    return twin.cpu;
}

/// Runs `steps` steps of Opt on both devices and compares every value and state buffer bit for bit.
template <bool Decoupled, class T>
void compare_runs(const typename optim::AdamRule<Decoupled>::options_type& o, const std::string& what, bool with_big) {
    using CpuOpt = optim::BasicOptimizer<optim::AdamRule<Decoupled>, T, cpu>;
    using GpuOpt = optim::BasicOptimizer<optim::AdamRule<Decoupled>, T, cuda>;
    Generator g(21);
    Twin<T> first, second;
    std::vector<index_t> sizes;
    for (int i = 0; i < 29; ++i) sizes.push_back(1 + (i * 977) % 5003);  // 29 odd sizes, > 24 tensors
    sizes.push_back(65537);
    if (with_big) sizes.push_back(big);
    sized(first, g, sizes, "a.");
    sized(second, g, {3, 129, 70001}, "b.");
    using CG = typename CpuOpt::group_type;
    using GG = typename GpuOpt::group_type;
    CpuOpt copt(std::vector<CG>{CG{first.cpu, std::nullopt, std::nullopt}}, o);
    GpuOpt gopt(std::vector<GG>{GG{first.gpu, std::nullopt, std::nullopt}}, o);
    for (int step = 0; step < 5; ++step) {
        if (step == 2) {  // a second group, with its own lr and weight decay, two steps behind
            copt.add_param_group(CG{second.cpu, o.lr * 3, 0.05});
            gopt.add_param_group(GG{second.gpu, o.lr * 3, 0.05});
        }
        first.set_grads(g);
        if (step >= 2) second.set_grads(g);
        if (step == 3) {
            copt.set_lr_multiplier(0.5);
            gopt.set_lr_multiplier(0.5);
        }
        copt.step();
        gopt.step();
    }
    for (Twin<T>* tw : {&first, &second})
        for (std::size_t i = 0; i < tw->cpu.size(); ++i) {
            const std::string& name = tw->cpu[i].name;
            BOOST_TEST(bit_mismatches(on_host(tw->gpu[i].value), on_host(tw->cpu[i].value)) == 0u, what << " value " << name);
            const auto& cs = copt.state(name);
            const auto& gs = gopt.state(name);
            BOOST_TEST(cs.step == gs.step);
            for (std::size_t b = 0; b < 3; ++b) {
                BOOST_TEST_REQUIRE(cs.buffers[b].defined() == gs.buffers[b].defined());
                if (cs.buffers[b].defined())
                    BOOST_TEST(bit_mismatches(on_host(gs.buffers[b]), on_host(cs.buffers[b])) == 0u,
                               what << " buffer " << b << " of " << name);
            }
        }
}

}  // namespace

using ward_test::RequireGpu;
BOOST_TEST_GLOBAL_FIXTURE(RequireGpu);

BOOST_AUTO_TEST_SUITE(backend_cuda_adam)

BOOST_AUTO_TEST_CASE(adamw_adam_and_amsgrad_match_the_cpu_bit_for_bit) {
    compare_runs<true, float>({.lr = 1e-2, .weight_decay = 0.1}, "adamw f32", true);
    compare_runs<true, float>({.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}, "adamw amsgrad f32", false);
    compare_runs<false, float>({.lr = 1e-2, .weight_decay = 0.1}, "adam l2 f32", false);
    compare_runs<false, float>({.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .amsgrad = true},
                                     "adam amsgrad f32", false);
    compare_runs<true, float>({.lr = 1e-3, .weight_decay = 0.0}, "adamw no decay f32", false);
}

BOOST_AUTO_TEST_CASE(bf16_parameters_match_the_cpu_bit_for_bit) {
    compare_runs<true, bf16>({.lr = 1e-2, .weight_decay = 0.1}, "adamw bf16", false);
    compare_runs<false, bf16>({.lr = 1e-2, .weight_decay = 0.1, .amsgrad = true}, "adam amsgrad bf16", false);
}

BOOST_AUTO_TEST_CASE(a_step_is_the_planned_launches_and_no_elementwise_pass) {
    Generator g(22);
    Twin<float> tw;
    std::vector<index_t> sizes;
    for (int i = 0; i < 30; ++i) sizes.push_back(7 + 131 * i);
    sized(tw, g, sizes, "w.");
    optim::AdamW<float, cuda> opt(tw.gpu, {.lr = 1e-3});
    opt.set_check_finite(false);
    tw.set_grads(g);
    opt.step();  // creates the moments
    const auto launches = backend::cuda::multi_tensor_adam_launches.load();
    const auto passes = stats::elementwise_passes.load();
    opt.step();
    const auto planned = backend::cuda::plan_chunk_launches(sizes, backend::cuda::adam_chunk, backend::cuda::adam_max_tensors,
                                                            backend::cuda::adam_max_blocks);
    BOOST_TEST(planned.size() == 2u);  // 30 tensors, 24 per launch
    BOOST_TEST(backend::cuda::multi_tensor_adam_launches.load() - launches == planned.size());
    BOOST_TEST(stats::elementwise_passes.load() - passes == 0u);
}

BOOST_AUTO_TEST_CASE(strided_and_overlapping_parameters_take_the_per_tensor_path) {
    Generator g(23);
    // A transposed parameter next to dense ones.
    Twin<float> tw;
    tw.add("dense", random_values<float>(g, 35, 1.0f), Shape{5, 7});
    Tensor<float> base = Tensor<float>::from_vector(random_values<float>(g, 12, 1.0f), Shape{3, 4});
    tw.cpu.push_back({"t", base.transpose(), Tensor<float>::zeros(Shape{4, 3})});
    tw.gpu.push_back({"t", base.to<cuda>().transpose(), Tensor<float, cuda>::zeros(Shape{4, 3})});
    optim::AdamW<float> copt(tw.cpu, {.lr = 1e-2});
    optim::AdamW<float, cuda> gopt(tw.gpu, {.lr = 1e-2});
    for (int s = 0; s < 3; ++s) {
        tw.set_grads(g);
        copt.step();
        gopt.step();
    }
    // The dense one went through the kernel: bit for bit. The strided one through the GPU's
    // expression kernels, where nvcc fuses v * beta2 + ... into an FMA: a few f32 roundings apart.
    BOOST_TEST(bit_mismatches(on_host(tw.gpu[0].value), on_host(tw.cpu[0].value)) == 0u);
    BOOST_TEST(ward_test::max_rel_diff(on_host(tw.gpu[1].value), on_host(tw.cpu[1].value)) <= 1e-5);

    // Two parameters over the same memory: updated one after the other, as on the CPU.
    Tensor<float> shared = Tensor<float>::from_vector(random_values<float>(g, 9, 1.0f), Shape{9});
    Tensor<float, cuda> shared_d = shared.to<cuda>();
    ParameterList<float> cp{{"x", shared.slice(0, 0, 6), Tensor<float>::zeros(Shape{6})},
                            {"y", shared.slice(0, 3, 9), Tensor<float>::zeros(Shape{6})}};
    ParameterList<float, cuda> gp{{"x", shared_d.slice(0, 0, 6), Tensor<float, cuda>::zeros(Shape{6})},
                                  {"y", shared_d.slice(0, 3, 9), Tensor<float, cuda>::zeros(Shape{6})}};
    optim::Adam<float> ca(cp, {.lr = 1e-2, .weight_decay = 0.1});
    optim::Adam<float, cuda> ga(gp, {.lr = 1e-2, .weight_decay = 0.1});
    for (int s = 0; s < 3; ++s) {
        for (std::size_t i = 0; i < 2; ++i) {
            Tensor<float> grad = Tensor<float>::from_vector(random_values<float>(g, 6, 0.1f), Shape{6});
            cp[i].grad.assign(grad);
            gp[i].grad.assign(grad.to<cuda>());
        }
        ca.step();
        ga.step();
    }
    BOOST_TEST(ward_test::max_rel_diff(on_host(shared_d), on_host(shared)) <= 1e-5);  // the expression path, as above
}

BOOST_AUTO_TEST_SUITE_END()
