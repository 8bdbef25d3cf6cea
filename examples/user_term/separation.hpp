#pragma once
// A defence term written outside the library, in a header of its own: it satisfies
// ward::defence::DefenceTerm, so it composes with the built-in terms (repnoise() + 0.1 * separation()).
//
// separation: mean over layers of cos^2 between the mean harmful and the mean harmless hidden state
// (over the positions where the two sequences differ). Minimising it makes the harmful answers'
// representations orthogonal, on average, to the refusals'.

#include <string>
#include <vector>

#include <ward/autograd.hpp>
#include <ward/defence/term.hpp>

namespace my_lab {

struct Separation : ward::defence::TermBase {  // the base brings +, - and * in by argument-dependent lookup
    template <ward::FloatElement T, ward::Device D>
    ward::ag::Var<T, D> operator()(ward::defence::Context<T, D>& ctx) const {
        using namespace ward;
        const auto& harmful = ctx.harmful().hidden;
        const auto& harmless = ctx.harmless().hidden;
        const Tensor<T, D>& mask = ctx.batch().differs;  // (B, T)
        const index_t B = mask.size(0), Tn = mask.size(1);
        const double count = double(ward::sum(mask).item());
        ag::Var<T, D> m(mask.reshape({B, Tn, 1}));
        ag::Var<T, D> total;
        for (std::size_t l = 0; l < harmful.size(); ++l) {
            // (B, T, C) -> (C): the mean over the masked positions of each side.
            auto mean_of = [&](const ag::Var<T, D>& h) { return ag::sum(ag::sum(h * m, 0), 0) / count; };
            ag::Var<T, D> a = mean_of(harmful[l]), b = mean_of(harmless[l]);
            ag::Var<T, D> cos = ag::sum(a * b) / ag::sqrt(ag::sum(a * a) * ag::sum(b * b) + 1e-12);
            total = total.defined() ? total + cos * cos : cos * cos;
        }
        return total / double(harmful.size());
    }
    std::string name() const { return "separation"; }
};

inline Separation separation() { return {}; }

}  // namespace my_lab
