#pragma once
// A seeded, stratified train/test split: each class is shuffled on its own (counter-based RNG keyed
// by the seed) and the same share of it goes to the test side, so both sides keep the class balance
// and the same seed gives the same split on every machine.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ward/core/error.hpp"
#include "ward/core/rng.hpp"

namespace ward::eval {

struct Split {
    std::vector<std::size_t> train, test;  // indices into the labels, ascending
};

/// round(test_fraction * n_c) of each class c go to test, at least one and at most n_c - 1 when the
/// class has two or more members (a class of one stays in train).
inline Split stratified_split(const std::vector<int>& labels, double test_fraction, std::uint64_t seed) {
    if (!(test_fraction > 0 && test_fraction < 1))
        throw value_error("stratified_split: test_fraction " + std::to_string(test_fraction) + " outside (0, 1)");
    std::map<int, std::vector<std::size_t>> by_class;
    for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
    Split s;
    std::uint64_t stream = 0;
    for (auto& [label, idx] : by_class) {
        Generator gen(seed, 0x5117 + stream++);  // one stream per class, in label order
        for (std::size_t i = idx.size(); i > 1; --i)
            std::swap(idx[i - 1], idx[static_cast<std::size_t>(gen.uniform() * double(i)) % i]);
        std::size_t n_test = 0;
        if (idx.size() >= 2)
            n_test = std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(test_fraction * double(idx.size()))), 1,
                                             idx.size() - 1);
        s.test.insert(s.test.end(), idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_test));
        s.train.insert(s.train.end(), idx.begin() + static_cast<std::ptrdiff_t>(n_test), idx.end());
    }
    std::sort(s.train.begin(), s.train.end());
    std::sort(s.test.begin(), s.test.end());
    return s;
}

}  // namespace ward::eval
