#define BOOST_TEST_MODULE impair
#include <boost/test/unit_test.hpp>
