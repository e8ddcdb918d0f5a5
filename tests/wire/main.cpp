// The wire_tests module: test cases live in the other files of this directory.
#define BOOST_TEST_MODULE wire
#include <boost/test/unit_test.hpp>
