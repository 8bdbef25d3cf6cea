// The detection rules on hand-made frontiers, every value worked out by hand: the paper's joined
// segments at a fixed breakpoint, each of its criteria failing on its own, the scan's first hit, and
// the F-test rule beside it.
#include <boost/test/unit_test.hpp>

#include <ward/irt/detection.hpp>

#include "error_message.hpp"

using namespace ward::irt;

namespace {

const std::vector<double> xs{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

/// y = s1 x up to `at`, then a line of slope s2 from there.
std::vector<double> hinge(double at, double s1, double s2) {
    std::vector<double> y;
    for (double x : xs) y.push_back(x <= at ? s1 * x : s1 * at + s2 * (x - at));
    return y;
}

PaperRule scan(double from, double to, int candidates) {
    PaperRule r;
    r.scan_from = from;
    r.scan_to = to;
    r.candidates = candidates;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(irt_detection)

BOOST_AUTO_TEST_CASE(a_tripling_is_found_where_it_is) {
    const auto y = hinge(5, 1, 3);
    const Detection d = scan_for_acceleration(xs, y, scan(5, 9, 5));  // candidates 5, 6, 7, 8, 9
    BOOST_TEST(d.detected);
    BOOST_TEST(d.fit.breakpoint == 5.0);
    BOOST_TEST(std::abs(d.fit.slope_before - 1.0) < 1e-12);
    BOOST_TEST(std::abs(d.fit.intercept_before) < 1e-12);
    BOOST_TEST(std::abs(d.fit.slope_after - 3.0) < 1e-12);
    BOOST_TEST(std::abs(d.fit.ratio - 3.0) < 1e-12);
    BOOST_TEST(std::abs(d.fit.r2 - 1.0) < 1e-12);
    BOOST_TEST(d.fit.points_before == 6);
    BOOST_TEST(d.fit.points_after == 4);
    BOOST_TEST(d.admissible == 1);  // the first candidate already counts
}

BOOST_AUTO_TEST_CASE(each_criterion_fails_on_its_own) {
    // Ratio 1.9 < 2 with a perfect fit at 5; at 6 the left line bends up (slope > 1), so the ratio is
    // smaller still; from 7 on fewer than 3 points follow.
    const auto slow = hinge(5, 1, 1.9);
    const SegmentFit at5 = fit_segments_at(xs, slow, 5);
    BOOST_TEST(std::abs(at5.ratio - 1.9) < 1e-12);
    BOOST_TEST(std::abs(at5.r2 - 1.0) < 1e-12);
    BOOST_TEST(!meets(at5, PaperRule{}));
    const Detection none = scan_for_acceleration(xs, slow, scan(5, 9, 5));
    BOOST_TEST(!none.detected);
    BOOST_TEST(none.admissible == 2);

    // A fivefold break at 7 leaves two points after it: not enough, wherever the scan starts from 7 on.
    const auto late = hinge(7, 1, 5);
    const Detection too_few = scan_for_acceleration(xs, late, scan(7, 9, 5));
    BOOST_TEST(!too_few.detected);
    BOOST_TEST(too_few.admissible == 0);
    // At 6.5 three points follow: (7, 7), (8, 12), (9, 17), slope 5; the joined line runs from (6.5, 6.5)
    // and misses each of them by 2, so SSE = 12 against SST = 573 - 10 * 5.7^2 = 248.1.
    const Detection found = scan_for_acceleration(xs, late, scan(6.5, 6.5, 1));
    BOOST_TEST(found.detected);
    BOOST_TEST(found.fit.points_after == 3);
    BOOST_TEST(std::abs(found.fit.ratio - 5.0) < 1e-12);
    BOOST_TEST(std::abs(found.fit.r2 - (1.0 - 12.0 / 248.1)) < 1e-12);

    // Steep but noisy: at 5, slope 6/35 before (intercept 4/7) and 4/5 after, a ratio of 14/3; the joined
    // line leaves SSE 1296/49 against SST 122/5, so R^2 = -251/2989 < 0.6.
    const std::vector<double> noisy{0, 2, 0, 2, 0, 2, 0, 4, 0, 4};
    const SegmentFit rough = fit_segments_at(xs, noisy, 5);
    BOOST_TEST(std::abs(rough.slope_before - 6.0 / 35) < 1e-12);
    BOOST_TEST(std::abs(rough.intercept_before - 4.0 / 7) < 1e-12);
    BOOST_TEST(std::abs(rough.slope_after - 0.8) < 1e-12);
    BOOST_TEST(std::abs(rough.ratio - 14.0 / 3) < 1e-12);
    BOOST_TEST(std::abs(rough.r2 + 251.0 / 2989) < 1e-12);
    BOOST_TEST(!scan_for_acceleration(xs, noisy, scan(5, 5, 1)).detected);

    // Falling faster: a ratio of 3 and a perfect fit, but the slope before is negative.
    const auto falling = hinge(5, -1, -3);
    BOOST_TEST(std::abs(fit_segments_at(xs, falling, 5).ratio - 3.0) < 1e-12);
    BOOST_TEST(!scan_for_acceleration(xs, falling, scan(5, 9, 5)).detected);
}

BOOST_AUTO_TEST_CASE(the_scan_reports_the_first_hit) {
    // Scanned from 1, the tripling at 5 is called already at tau = 1: left slope 1 through (0, 0), (1, 1);
    // the eight points after have OLS slope 92/42 = 46/21 (ratio 46/21 > 2), and the joined line from
    // (1, 1) leaves SSE 11140/147 against SST 605/2: R^2 = 13331/17787 > 0.6.
    const auto y = hinge(5, 1, 3);
    const Detection d = scan_for_acceleration(xs, y, scan(1, 9, 9));  // candidates 1, 2, ..., 9
    BOOST_TEST(d.detected);
    BOOST_TEST(d.fit.breakpoint == 1.0);
    BOOST_TEST(std::abs(d.fit.ratio - 46.0 / 21) < 1e-12);
    BOOST_TEST(std::abs(d.fit.r2 - 13331.0 / 17787) < 1e-12);
    BOOST_TEST(d.fit.points_after == 8);
    // Closer to the break the fit improves: at 4, slope 3 after and the line misses (5..9) by 2 each.
    const SegmentFit at4 = fit_segments_at(xs, y, 4);
    BOOST_TEST(std::abs(at4.slope_after - 3.0) < 1e-12);
    BOOST_TEST(std::abs(at4.r2 - 113.0 / 121) < 1e-12);
    // Too few points or nothing to scan: no detection, no error.
    BOOST_TEST(!scan_for_acceleration({0, 1, 2}, {0, 1, 5}).detected);
    BOOST_TEST(!scan_for_acceleration(xs, y, scan(9.5, 9, 50)).detected);
    BOOST_TEST(ward::testing::message_of<ward::shape_error>([&] { scan_for_acceleration({0, 1}, {0}); }) ==
               "scan_for_acceleration: x and y differ in length");
}

BOOST_AUTO_TEST_CASE(both_rules_on_the_least_squares_fit) {
    // The least-squares hinge (breakpoint.hpp) finds 5 exactly; x = 5 counts after the break there.
    const auto y = hinge(5, 1, 3);
    const BreakpointFit f = fit_breakpoint(xs, y);
    BOOST_TEST(std::abs(f.breakpoint - 5.0) < 1e-12);
    BOOST_TEST(std::abs(f.ratio - 3.0) < 1e-9);
    BOOST_TEST(f.points_after == 5);
    BOOST_TEST(meets(f, PaperRule{}));
    PaperRule strict;
    strict.min_points_after = 6;
    BOOST_TEST(!meets(f, strict));
    // A perfect two-segment fit against a line that misses: the F statistic is (near) infinite, p ~ 0.
    BOOST_TEST(f.sse < 1e-20);
    BOOST_TEST(f.p_value < 1e-12);
    BOOST_TEST(detects(f, FTestRule{}));
    FTestRule tight;
    tight.min_ratio = 3.5;
    BOOST_TEST(!detects(f, tight));
}

BOOST_AUTO_TEST_SUITE_END()
