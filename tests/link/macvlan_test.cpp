// The pure parts of link::macvlan (own-address mode): device names, the MAC derived from the
// address, the owner alias.
#include <boost/test/unit_test.hpp>

#include "synack/link/macvlan.hpp"

using namespace synack;
using link::macvlan;

BOOST_AUTO_TEST_SUITE(macvlan_names)

BOOST_AUTO_TEST_CASE(name_round_trips_and_fits_ifnamsiz) {
  BOOST_TEST(macvlan::name_for(123) == "synackm123");
  BOOST_TEST(macvlan::name_for(4194304).size() < 16u);  // PID_MAX_LIMIT: still fits IFNAMSIZ
  BOOST_TEST(macvlan::pid_from_name("synackm123").value_or(0) == 123);
  BOOST_TEST(!macvlan::pid_from_name("synackm").has_value());
  BOOST_TEST(!macvlan::pid_from_name("synackm12x").has_value());
  BOOST_TEST(!macvlan::pid_from_name("synackm0").has_value());
  BOOST_TEST(!macvlan::pid_from_name("synack123").has_value());  // the tun mode's names are not ours
  BOOST_TEST(!macvlan::pid_from_name("eth0").has_value());
}

BOOST_AUTO_TEST_CASE(mac_is_stable_local_unicast_and_per_address) {
  auto a = macvlan::mac_for(*wire::ip_addr::parse("10.111.0.50"));
  BOOST_TEST(a.to_string() == "02:53:0a:6f:00:32");
  BOOST_TEST((a == macvlan::mac_for(*wire::ip_addr::parse("10.111.0.50"))));
  BOOST_TEST((a.octets[0] & 0x02) != 0);  // locally administered
  BOOST_TEST((a.octets[0] & 0x01) == 0);  // unicast
  auto b = macvlan::mac_for(*wire::ip_addr::parse("fd00:111::50"));
  BOOST_TEST(b.to_string() == "02:56:00:00:00:50");
  BOOST_TEST((b != macvlan::mac_for(*wire::ip_addr::parse("0.0.0.80"))));  // families never collide
}

BOOST_AUTO_TEST_CASE(alias_names_the_owner) {
  BOOST_TEST(macvlan::alias_for(42, 777) == "synack pid=42 start=777");
  BOOST_TEST(macvlan::start_from_alias("synack pid=42 start=777", 42).value_or(0) == 777u);
  BOOST_TEST(!macvlan::start_from_alias("synack pid=42 start=777", 43).has_value());  // another pid's
  BOOST_TEST(!macvlan::start_from_alias("synack pid=42 start=777x", 42).has_value());
  BOOST_TEST(!macvlan::start_from_alias("", 42).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
