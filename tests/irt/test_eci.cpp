// The Epoch Capabilities Index: exact at its two reference models, linear between and beyond them (by
// hand), its inverse, and the errors that name what is wrong.
#include <boost/test/unit_test.hpp>

#include <ward/irt/eci.hpp>

#include "error_message.hpp"

using namespace ward::irt;
using ward::testing::message_of;

namespace {

/// Four models on one benchmark; the capabilities are handed in, as a fit would.
Dataset four_models() {
    DatasetBuilder b;
    for (const char* m : {"low", "claude-3-5-sonnet-20241022", "mid", "gpt-5-2025-08-07_high"}) b.add(m, "x", 0.5);
    return b.build();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_eci)

BOOST_AUTO_TEST_CASE(references_are_exact_and_the_map_is_linear) {
    const Dataset d = four_models();
    // Awkward values on purpose: (C_b - C_a) is not a power of two, so only an exact formula gives 150.
    const std::vector<double> c{0.3, 1.969227492, 2.305784977, 2.642342462};
    const EciScale s = eci_scale(d, c);
    BOOST_TEST(s(c[1]) == 130.0);
    BOOST_TEST(s(c[3]) == 150.0);
    // By hand: "mid" sits halfway between the references, "low" 1.669227492 below the first of them.
    const double per = 20.0 / (2.642342462 - 1.969227492);
    BOOST_TEST(std::abs(s.per_capability() - per) < 1e-12);
    BOOST_TEST(std::abs(s(2.305784977) - 140.0) < 1e-9);
    BOOST_TEST(std::abs(s(0.3) - (130.0 - 1.669227492 * per)) < 1e-9);
    BOOST_TEST(std::abs(s.capability(s(0.3)) - 0.3) < 1e-12);
    BOOST_TEST(s.capability(130.0) == c[1]);
    BOOST_TEST(s.capability(150.0) == c[3]);
    BOOST_TEST(std::isnan(s(no_value)));
    BOOST_TEST(std::isnan(s.capability(no_value)));
    // Intervals map end to end, in order; widths scale by per_capability().
    const auto ends = s(std::vector<double>{2.0, 2.5});
    BOOST_TEST(std::abs((ends[1] - ends[0]) - 0.5 * per) < 1e-9);
}

BOOST_AUTO_TEST_CASE(other_references) {
    const Dataset d = four_models();
    const std::vector<double> c{0.3, 1.0, 2.0, 3.0};
    const EciScale s = eci_scale(d, c, {.model_a = "low", .eci_a = 0.0, .model_b = "mid", .eci_b = 100.0});
    BOOST_TEST(s(0.3) == 0.0);
    BOOST_TEST(s(2.0) == 100.0);
    BOOST_TEST(std::abs(s(3.0) - 100.0 * 2.7 / 1.7) < 1e-9);
}

BOOST_AUTO_TEST_CASE(bad_references_are_named) {
    const Dataset d = four_models();
    const std::vector<double> c{0.3, 1.0, 2.0, 3.0};
    BOOST_TEST(message_of<ward::value_error>([&] { eci_scale(d, c, {.model_a = "gpt-4"}); }) ==
               "irt::eci_scale: reference model 'gpt-4' (EciReference::model_a) is not in the data");
    BOOST_TEST(message_of<ward::value_error>([&] {
                   eci_scale(d, c, {.model_a = "mid", .eci_a = 130, .model_b = "low", .eci_b = 150});
               }) == "irt::eci_scale: 'mid' (ECI 130) is more capable than 'low' (ECI 150) in this fit: "
                     "the map would reverse the order");
    const std::vector<double> tied{0.3, 2.0, 2.0, 2.0};
    BOOST_TEST(message_of<ward::value_error>([&] { eci_scale(d, tied); }).find("have the same capability") != std::string::npos);
    BOOST_TEST(message_of<ward::value_error>([&] { eci_scale(d, c, {.model_a = "mid", .model_b = "mid"}); }) ==
               "irt::eci_scale: the two reference models are both 'mid'");
    BOOST_TEST(message_of<ward::shape_error>([&] { eci_scale(d, {1.0}); }) ==
               "irt::eci_scale: one capability per model expected, got 1 for 4 models");
}

BOOST_AUTO_TEST_SUITE_END()
