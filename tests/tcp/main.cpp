#define BOOST_TEST_MODULE tcp
#include <boost/test/unit_test.hpp>
