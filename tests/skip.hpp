#pragma once
// Skipping what this machine cannot check (a test that needs an optional tool): the case calls
// ward_test::skip("why") and returns; the executable then exits with 77, which CTest
// (SKIP_RETURN_CODE) reports as skipped, never as passed. Keep such cases in a test file of their
// own, so that a skip hides no other result.
#include <boost/test/unit_test.hpp>

#include <string>

namespace ward_test {

/// Why the executable is skipped (empty: it is not).
inline std::string& skip_reason() {
    static std::string reason;
    return reason;
}

inline void skip(const std::string& why) {
    BOOST_TEST_MESSAGE("SKIPPED: " << why);
    skip_reason() = why;
}

}  // namespace ward_test
