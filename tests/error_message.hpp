#pragma once
// The error-path helper the tests share: what an expected exception says.

#include <boost/test/unit_test.hpp>

#include <exception>
#include <string>

namespace ward::testing {

/// The message of the E that f throws; a test error (and "") when f throws another type or nothing.
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        BOOST_ERROR("threw an exception of another type: " << e.what());
        return {};
    }
    BOOST_ERROR("threw nothing");
    return {};
}

}  // namespace ward::testing
