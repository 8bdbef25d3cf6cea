#pragma once
// The Epoch Capabilities Index (ECI), the scale Epoch AI publishes capabilities on: a linear map of the
// stitching model's capability C, fixed by two reference models, by default Claude 3.5 Sonnet (Oct 2024)
// at 130 and GPT-5 (high) at 150. Any C maps through it (a capability, an interval's ends, a forecast);
// a difference in C (a slope per year, an interval's width) scales by per_capability(). The map is
// exact at the references: they get their values to the last bit.

#include <ward/core/error.hpp>
#include <ward/irt/dataset.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace ward::irt {

/// The two models that fix the scale, and their ECI values.
struct EciReference {
    std::string model_a = "claude-3-5-sonnet-20241022";
    double eci_a = 130.0;
    std::string model_b = "gpt-5-2025-08-07_high";
    double eci_b = 150.0;
};

/// ECI = eci_a + (eci_b - eci_a) (C - C_a) / (C_b - C_a), with C_a, C_b the references' capabilities.
struct EciScale {
    EciReference reference;
    double capability_a = 0.0, capability_b = 1.0;

    /// ECI of capability c (NaN stays NaN: std::lerp would return eci_b). std::lerp is exact at t = 0 and 1.
    double operator()(double c) const {
        if (std::isnan(c)) return c;
        return std::lerp(reference.eci_a, reference.eci_b, (c - capability_a) / (capability_b - capability_a));
    }
    std::vector<double> operator()(const std::vector<double>& c) const {
        std::vector<double> out;
        out.reserve(c.size());
        for (double v : c) out.push_back((*this)(v));
        return out;
    }
    /// The capability with the given ECI (the inverse map).
    double capability(double eci) const {
        if (std::isnan(eci)) return eci;
        return std::lerp(capability_a, capability_b, (eci - reference.eci_a) / (reference.eci_b - reference.eci_a));
    }
    /// ECI points per unit of C: what a slope or an interval's width is multiplied by.
    double per_capability() const { return (reference.eci_b - reference.eci_a) / (capability_b - capability_a); }
};

/// The scale for `capability` (one per model of `d`, e.g. FitResult::capability). Throws value_error
/// when a reference model is not in the data, or when the two references cannot fix an increasing map.
inline EciScale eci_scale(const Dataset& d, const std::vector<double>& capability, const EciReference& ref = {}) {
    if (static_cast<index_t>(capability.size()) != d.num_models())
        throw shape_error("irt::eci_scale: one capability per model expected, got " + std::to_string(capability.size()) +
                          " for " + std::to_string(d.num_models()) + " models");
    auto find = [&](const std::string& name, const char* field) {
        const index_t m = d.model_index(name);
        if (m < 0)
            throw value_error("irt::eci_scale: reference model '" + name + "' (EciReference::" + field +
                              ") is not in the data");
        const double c = capability[static_cast<std::size_t>(m)];
        if (!std::isfinite(c))
            throw value_error("irt::eci_scale: reference model '" + name + "' has no finite capability");
        return c;
    };
    if (ref.model_a == ref.model_b) throw value_error("irt::eci_scale: the two reference models are both '" + ref.model_a + "'");
    if (!(std::isfinite(ref.eci_a) && std::isfinite(ref.eci_b) && ref.eci_a != ref.eci_b))
        throw value_error("irt::eci_scale: the reference values must be finite and differ");
    auto str = [](double v) {
        std::ostringstream os;
        os << v;
        return os.str();
    };
    EciScale s;
    s.reference = ref;
    s.capability_a = find(ref.model_a, "model_a");
    s.capability_b = find(ref.model_b, "model_b");
    if (s.capability_a == s.capability_b)
        throw value_error("irt::eci_scale: '" + ref.model_a + "' and '" + ref.model_b + "' have the same capability (" +
                          str(s.capability_a) + "); they cannot fix a scale");
    if ((s.capability_b - s.capability_a) * (ref.eci_b - ref.eci_a) < 0)
        throw value_error("irt::eci_scale: '" + ref.model_a + "' (ECI " + str(ref.eci_a) + ") is more capable than '" +
                          ref.model_b + "' (ECI " + str(ref.eci_b) + ") in this fit: the map would reverse the order");
    return s;
}

}  // namespace ward::irt
