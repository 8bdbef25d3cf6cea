#pragma once
// Finite-difference gradient checks in f64: for f(inputs) -> Var, compares the tape's gradient of
// sum(f * r) (r a fixed random projection, so non-scalar outputs are covered) with central
// differences, element by element.

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ward/autograd/elementwise.hpp"
#include "ward/autograd/reduce.hpp"
#include "ward/autograd/var.hpp"
#include "ward/core/rng.hpp"
#include "ward/tensor.hpp"  // gradcheck runs on the CPU in f64
#include "ward/tensor/expr.hpp"

namespace ward::ag {

struct GradcheckResult {
    bool ok = true;
    double max_abs_error = 0;  // worst |analytic - numeric|
    double max_rel_error = 0;  // worst |analytic - numeric| / max(1, |numeric|)
    std::string worst;         // where the worst error was: input and flat index
};

struct GradcheckOptions {
    double eps = 1e-6;
    double atol = 1e-5;
    double rtol = 1e-4;
    std::uint64_t seed = 7;
};

using GradFunction = std::function<Var<double>(const std::vector<Var<double>>&)>;

inline GradcheckResult gradcheck(const GradFunction& f, const std::vector<Tensor<double>>& inputs,
                                 GradcheckOptions opt = {}) {
    auto make_inputs = [&](bool grad) {
        std::vector<Var<double>> vars;
        for (const auto& t : inputs) vars.emplace_back(t, grad);
        return vars;
    };
    // Analytic: backward of sum(f * r).
    std::vector<Var<double>> vars = make_inputs(true);
    Var<double> out = f(vars);
    Generator gen(opt.seed);
    Tensor<double> r = normal<double>(gen, out.shape());
    Var<double> projected = sum(out * Var<double>(r));
    projected.backward();
    auto objective = [&]() {
        NoGrad ng;
        return sum(f(make_inputs(false)).value() * r).item();
    };
    GradcheckResult res;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        Tensor<double> x = inputs[k];  // perturbed in place, restored after each element
        Tensor<double> analytic = vars[k].grad().defined() ? vars[k].grad() : Tensor<double>::zeros(x.shape());
        std::vector<double> flat_analytic = analytic.to_vector();
        Tensor<double> xc = x.contiguous();
        if (xc.storage() != x.storage())
            throw value_error("gradcheck: inputs must be contiguous tensors (input " + std::to_string(k) + ")");
        double* p = xc.data();
        for (index_t i = 0; i < xc.numel(); ++i) {
            const double saved = p[i];
            p[i] = saved + opt.eps;
            const double up = objective();
            p[i] = saved - opt.eps;
            const double down = objective();
            p[i] = saved;
            const double numeric = (up - down) / (2 * opt.eps);
            const double a = flat_analytic[static_cast<std::size_t>(i)];
            const double err = std::abs(a - numeric);
            const double rel = err / std::max(1.0, std::abs(numeric));
            if (!(err <= opt.atol + opt.rtol * std::abs(numeric))) res.ok = false;
            if (!(err <= res.max_abs_error)) {
                res.max_abs_error = err;
                res.worst = "input " + std::to_string(k) + " element " + std::to_string(i) + ": analytic " +
                            std::to_string(a) + ", numeric " + std::to_string(numeric);
            }
            res.max_rel_error = std::max(res.max_rel_error, rel);
        }
    }
    return res;
}

}  // namespace ward::ag
