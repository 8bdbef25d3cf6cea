#pragma once
// What a benchmark table reader must hand back when it accepts a file: a Dataset whose invariants
// hold, with metadata that is known and usable or marked unknown.

#include <cmath>
#include <string>

#include <ward/irt/dataset.hpp>

#include "fuzz_support.hpp"

namespace ward::fuzz {

inline void check_dataset(const irt::Dataset& d) {
    try {
        d.validate();
    } catch (const ward::error& e) {
        fail(std::string("a reader returned an invalid dataset: ") + e.what());
    }
    for (std::size_t m = 0; m < d.models.size(); ++m) {
        if (!std::isnan(d.release[m]) && !std::isfinite(d.release[m])) fail("release date of '" + d.models[m] + "' is infinite");
        if (!std::isnan(d.compute[m]) && !(std::isfinite(d.compute[m]) && d.compute[m] > 0))
            fail("training compute of '" + d.models[m] + "' is " + std::to_string(d.compute[m]));
    }
}

}  // namespace ward::fuzz
