// The tools_tests module: the pure parts of the synack tool (histogram, ladder, JSON summaries).
#define BOOST_TEST_MODULE tools
#include <boost/test/unit_test.hpp>
