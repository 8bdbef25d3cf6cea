// Shapes, strides and broadcasting against hand-worked cases and NumPy's rules.
#include <boost/test/unit_test.hpp>

#include <ward/core/shape.hpp>

#include <cstdint>
#include <limits>

#include "error_message.hpp"

using namespace ward;

BOOST_AUTO_TEST_SUITE(core_shape)

BOOST_AUTO_TEST_CASE(contiguous_strides_are_row_major) {
    Strides s = contiguous_strides(Shape{2, 3, 4});
    BOOST_TEST(s == (Strides{12, 4, 1}));
    BOOST_TEST(is_contiguous(Shape{2, 3, 4}, s));
    BOOST_TEST(!is_contiguous(Shape{2, 3, 4}, Strides{12, 1, 3}));
    // size-1 axes may carry any stride
    BOOST_TEST(is_contiguous(Shape{2, 1, 4}, Strides{4, 99, 1}));
}

BOOST_AUTO_TEST_CASE(broadcasting_follows_numpy) {
    BOOST_TEST(broadcast_shapes(Shape{3, 1, 5}, Shape{4, 1}) == (Shape{3, 4, 5}));
    BOOST_TEST(broadcast_shapes(Shape{}, Shape{2, 2}) == (Shape{2, 2}));
    BOOST_TEST(broadcast_strides(Shape{4, 1}, Strides{1, 1}, Shape{3, 4, 5}) == (Strides{0, 1, 0}));
}

BOOST_AUTO_TEST_CASE(mismatch_names_both_shapes) {
    try {
        broadcast_shapes(Shape{2, 3}, Shape{4});
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find("(2, 3)") != std::string::npos);
        BOOST_TEST(msg.find("(4,)") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(axis_normalisation_and_errors) {
    Shape s{2, 3, 4};
    BOOST_TEST(s.axis(-1) == 2);
    BOOST_TEST(s.axis(0) == 0);
    BOOST_CHECK_THROW(s.axis(3), index_error);
    BOOST_CHECK_THROW(s.axis(-4), index_error);
    BOOST_CHECK_THROW((Shape{1, 2, 3, 4, 5, 6, 7}), shape_error);
}

BOOST_AUTO_TEST_CASE(element_counts_that_overflow_are_refused) {
    using ward::testing::message_of;
    const index_t big = index_t(1) << 40;  // big * big = 2^80 > 2^63 - 1
    BOOST_TEST((Shape{big, 1 << 22}).numel() == index_t(1) << 62);
    std::string msg = message_of<shape_error>([&] { (void)Shape{big, big}.numel(); });
    BOOST_TEST(msg.find("(1099511627776, 1099511627776)") != std::string::npos, msg);
    // An empty extent does not excuse the others: the strides of (0, 2^40, 2^40) would overflow.
    BOOST_CHECK_THROW((void)(Shape{big, big, 0}).numel(), shape_error);
    BOOST_CHECK_THROW(contiguous_strides(Shape{0, big, big}), shape_error);
    BOOST_TEST((Shape{3, 0, 5}).numel() == 0);
    BOOST_TEST(contiguous_strides(Shape{2, 0, 5}) == (Strides{0, 5, 1}));
    const index_t max = std::numeric_limits<index_t>::max();
    BOOST_TEST((Shape{max, 1}).numel() == max);
    BOOST_CHECK_THROW((void)(Shape{max, 2}).numel(), shape_error);
}

BOOST_AUTO_TEST_SUITE_END()
