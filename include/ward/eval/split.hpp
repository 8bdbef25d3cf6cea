#pragma once
// Seeded train/test splits: stratified (each class is shuffled on its own, counter-based RNG keyed
// by the seed, and the same share of it goes to the test side, so both sides keep the class
// balance), or grouped (whole groups go to one side). The same seed gives the same split on every
// machine.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
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

/// Stratified by whole groups: of each class's distinct groups, round(test_fraction * G_c) go to
/// test (at least one, at most G_c - 1), so rows that share a group (texts about one item) never fall
/// on both sides, and both sides keep the classes' balance of groups. A group must hold one class.
inline Split grouped_split(const std::vector<int>& labels, const std::vector<int>& groups, double test_fraction, std::uint64_t seed) {
    if (!(test_fraction > 0 && test_fraction < 1))
        throw value_error("grouped_split: test_fraction " + std::to_string(test_fraction) + " outside (0, 1)");
    if (groups.size() != labels.size())
        throw value_error("grouped_split: " + std::to_string(groups.size()) + " groups for " + std::to_string(labels.size()) + " labels");
    std::map<int, int> label_of;  // group -> its class
    std::map<int, std::vector<int>> by_class;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        auto [it, fresh] = label_of.emplace(groups[i], labels[i]);
        if (fresh) by_class[labels[i]].push_back(groups[i]);
        else if (it->second != labels[i])
            throw value_error("grouped_split: group " + std::to_string(groups[i]) + " holds more than one class");
    }
    std::set<int> test_groups;
    std::uint64_t stream = 0;
    for (auto& [label, g] : by_class) {
        if (g.size() < 2) throw value_error("grouped_split: class " + std::to_string(label) + " has fewer than two groups");
        Generator gen(seed, 0x67727075 + stream++);  // one stream per class, in label order
        for (std::size_t i = g.size(); i > 1; --i) std::swap(g[i - 1], g[static_cast<std::size_t>(gen.uniform() * double(i)) % i]);
        const std::size_t n_test =
            std::clamp<std::size_t>(static_cast<std::size_t>(std::llround(test_fraction * double(g.size()))), 1, g.size() - 1);
        test_groups.insert(g.begin(), g.begin() + static_cast<std::ptrdiff_t>(n_test));
    }
    Split s;
    for (std::size_t i = 0; i < groups.size(); ++i) (test_groups.count(groups[i]) ? s.test : s.train).push_back(i);
    return s;
}

}  // namespace ward::eval
