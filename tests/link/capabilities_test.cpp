#include <boost/test/unit_test.hpp>

#include <fstream>
#include <string>

#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"

using namespace synack::link;

BOOST_AUTO_TEST_SUITE(capabilities)

// Cross-checks capget(2) against the effective set the kernel prints in /proc/self/status.
BOOST_AUTO_TEST_CASE(have_net_raw_and_admin_matches_capeff) {
  std::ifstream status("/proc/self/status");
  unsigned long long eff = 0;
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("CapEff:")) eff = std::stoull(line.substr(7), nullptr, 16);
  bool expected = ((eff >> 12) & 1) && ((eff >> 13) & 1);  // CAP_NET_ADMIN, CAP_NET_RAW
  BOOST_TEST(have_net_raw_and_admin() == expected);
  if (expected) {
    BOOST_CHECK_NO_THROW(require_net_raw_and_admin());
  } else {
    BOOST_CHECK_EXCEPTION(require_net_raw_and_admin(), setup_error,
                          [](const setup_error& e) { return e.code() == setup_errc::permission; });
  }
}

BOOST_AUTO_TEST_SUITE_END()
