// The one Boost.Test main shared by every test executable. It exits with 77 (CTest: skipped) when
// every case passed but one of them was skipped (tests/skip.hpp).
#define BOOST_TEST_MODULE ward
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <cstdio>

#include "skip.hpp"

int main(int argc, char* argv[]) {
    const int rc = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
    if (rc == 0 && !ward_test::skip_reason().empty()) {
        std::printf("skipped: %s\n", ward_test::skip_reason().c_str());
        return 77;
    }
    return rc;
}
