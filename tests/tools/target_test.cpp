// Target and --listen parsing of the tools (src/tools/common.*): HOST, HOST:PORT, bare IPv6
// literals, [IPv6]:PORT, names through getaddrinfo with -4/-6, and each error. Only "localhost" is
// resolved (from /etc/hosts); nothing is sent anywhere.
#include <ostream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "common.hpp"
#include "synack/link/error.hpp"

// How Boost.Test prints an address in a failed check.
namespace synack::wire {
inline std::ostream& boost_test_print_type(std::ostream& os, const ip_addr& a) { return os << a.to_string(); }
}  // namespace synack::wire

using namespace synack;
using tools::family_preference;

namespace {

wire::ip_addr ip(const char* text) { return *wire::ip_addr::parse(text); }

// The setup_error's message for TEXT (empty when it did not throw).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const link::setup_error& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(targets)

BOOST_AUTO_TEST_CASE(ipv4_literal_without_and_with_port) {
  auto hp = tools::resolve_host("10.111.0.2");
  BOOST_TEST(hp.addr.is_v4());
  BOOST_TEST(hp.addr.to_string() == "10.111.0.2");
  BOOST_TEST(!hp.port.has_value());
  BOOST_TEST(hp.literal);
  BOOST_TEST(hp.name == "10.111.0.2");
  BOOST_TEST(hp.resolved.size() == 1U);

  hp = tools::resolve_host("10.111.0.2:8080");
  BOOST_TEST(hp.addr.to_string() == "10.111.0.2");
  BOOST_TEST(hp.port.value() == 8080);
  BOOST_TEST(hp.addr.to_string(*hp.port) == "10.111.0.2:8080");
}

BOOST_AUTO_TEST_CASE(bare_ipv6_literal_is_never_split) {
  auto hp = tools::resolve_host("fd00::2");
  BOOST_TEST(hp.addr.is_v6());
  BOOST_TEST(hp.addr == ip("fd00::2"));
  BOOST_TEST(!hp.port.has_value());
  BOOST_TEST(hp.literal);
  // "fd00::8080" is the address fd00::8080, not fd00: port 8080.
  hp = tools::resolve_host("fd00::8080");
  BOOST_TEST(hp.addr == ip("fd00::8080"));
  BOOST_TEST(!hp.port.has_value());
  hp = tools::resolve_host("fd00:5a:1::2");
  BOOST_TEST(hp.addr.to_string() == "fd00:5a:1::2");
  hp = tools::resolve_host("::1");
  BOOST_TEST(hp.addr.v6().is_loopback());
}

BOOST_AUTO_TEST_CASE(bracketed_ipv6_with_and_without_port) {
  auto hp = tools::resolve_host("[fd00::2]:8080");
  BOOST_TEST(hp.addr == ip("fd00::2"));
  BOOST_TEST(hp.port.value() == 8080);
  BOOST_TEST(hp.name == "fd00::2");
  BOOST_TEST(hp.addr.to_string(*hp.port) == "[fd00::2]:8080");

  hp = tools::resolve_host("[fd00::2]");
  BOOST_TEST(hp.addr == ip("fd00::2"));
  BOOST_TEST(!hp.port.has_value());

  // A v4-mapped literal is IPv4 (ip_addr stores IPv4 that way).
  hp = tools::resolve_host("[::ffff:10.1.2.3]:80");
  BOOST_TEST(hp.addr.is_v4());
  BOOST_TEST(hp.addr.to_string() == "10.1.2.3");
}

BOOST_AUTO_TEST_CASE(split_host_port_forms) {
  auto hs = tools::split_host_port("example.net:443");
  BOOST_TEST(hs.host == "example.net");
  BOOST_TEST(hs.port.value() == 443);
  BOOST_TEST(!hs.bracketed);
  hs = tools::split_host_port("example.net");
  BOOST_TEST(hs.host == "example.net");
  BOOST_TEST(!hs.port.has_value());
  hs = tools::split_host_port("[fd00::2]:1");
  BOOST_TEST(hs.host == "fd00::2");
  BOOST_TEST(hs.port.value() == 1);
  BOOST_TEST(hs.bracketed);
  hs = tools::split_host_port("fd00::2");
  BOOST_TEST(hs.host == "fd00::2");
  BOOST_TEST(!hs.port.has_value());
  hs = tools::split_host_port("h:65535");
  BOOST_TEST(hs.port.value() == 65535);
}

BOOST_AUTO_TEST_CASE(bad_ports) {
  for (const char* t : {"10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:http", "10.0.0.1:+80",
                        "10.0.0.1: 80", "10.0.0.1:80x", "[fd00::2]:", "[fd00::2]:0", "[fd00::2]:99999",
                        "[fd00::2]x", "[fd00::2]8080", "localhost:-1"}) {
    std::string e = error_of([&] { tools::resolve_host(t); });
    BOOST_TEST_INFO("target " << t << " -> " << e);
    BOOST_TEST(contains(e, "bad port"));
  }
}

BOOST_AUTO_TEST_CASE(bad_ipv6_literals) {
  for (const char* t : {"fd00:::2", "fd00::2::3", "fd00::g", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0"}) {
    std::string e = error_of([&] { tools::resolve_host(t); });
    BOOST_TEST_INFO("target " << t << " -> " << e);
    BOOST_TEST(contains(e, "bad IPv6 literal '"));
  }
  for (const char* t : {"[fd00:::2]:80", "[10.0.0.1]:80", "[]:80", "[localhost]", "[fd00::zz]"}) {
    std::string e = error_of([&] { tools::resolve_host(t); });
    BOOST_TEST_INFO("target " << t << " -> " << e);
    BOOST_TEST(contains(e, "bad IPv6 literal '"));
  }
  // The message says how a port is written.
  BOOST_TEST(contains(error_of([] { tools::resolve_host("fd00::2::80"); }), "[ADDR]:PORT"));
}

BOOST_AUTO_TEST_CASE(missing_brackets) {
  std::string e = error_of([] { tools::resolve_host("[fd00::2"); });
  BOOST_TEST(contains(e, "missing ']'"));
  e = error_of([] { tools::resolve_host("[fd00::2:8080"); });
  BOOST_TEST(contains(e, "missing ']'"));
  e = error_of([] { tools::resolve_host("fd00::2]:8080"); });
  BOOST_TEST(contains(e, "missing '['"));
}

BOOST_AUTO_TEST_CASE(missing_host) {
  BOOST_TEST(contains(error_of([] { tools::resolve_host(":80"); }), "missing host"));
  BOOST_TEST(contains(error_of([] { tools::resolve_host(""); }), "missing host"));
}

BOOST_AUTO_TEST_CASE(literals_and_family_preference) {
  BOOST_TEST(tools::resolve_host("10.0.0.1", family_preference::v4).addr.is_v4());
  BOOST_TEST(tools::resolve_host("fd00::1", family_preference::v6).addr.is_v6());
  std::string e = error_of([] { tools::resolve_host("10.0.0.1", family_preference::v6); });
  BOOST_TEST(contains(e, "'10.0.0.1' is an IPv4 address"));
  BOOST_TEST(contains(e, "-6"));
  e = error_of([] { tools::resolve_host("[fd00::1]:80", family_preference::v4); });
  BOOST_TEST(contains(e, "'fd00::1' is an IPv6 address"));
  BOOST_TEST(contains(e, "-4"));
}

BOOST_AUTO_TEST_CASE(family_helpers) {
  BOOST_TEST(tools::to_string(family_preference::v4) == "IPv4");
  BOOST_TEST(tools::to_string(family_preference::v6) == "IPv6");
  BOOST_TEST(tools::to_string(family_preference::any) == "any");
  BOOST_TEST(tools::family_matches(ip("1.2.3.4"), family_preference::any));
  BOOST_TEST(tools::family_matches(ip("1.2.3.4"), family_preference::v4));
  BOOST_TEST(!tools::family_matches(ip("1.2.3.4"), family_preference::v6));
  BOOST_TEST(tools::family_matches(ip("fd00::1"), family_preference::v6));
  BOOST_TEST(!tools::family_matches(ip("fd00::1"), family_preference::v4));
}

// localhost comes from /etc/hosts (127.0.0.1, and ::1 where the file lists it): no DNS query.
BOOST_AUTO_TEST_CASE(localhost_by_name) {
  auto hp = tools::resolve_host("localhost:8080");
  BOOST_TEST(!hp.literal);
  BOOST_TEST(hp.name == "localhost");
  BOOST_TEST(hp.port.value() == 8080);
  BOOST_TEST(!hp.resolved.empty());
  BOOST_TEST(hp.addr == hp.resolved.front());  // the first answer is the one used

  auto v4 = tools::resolve_host("localhost", family_preference::v4);
  BOOST_TEST(v4.addr == ip("127.0.0.1"));
  for (const auto& a : v4.resolved) BOOST_TEST(a.is_v4());

  auto all = tools::resolve_name("localhost");
  bool has_v6 = false;
  for (const auto& a : all) has_v6 = has_v6 || a.is_v6();
  if (has_v6) {
    auto v6 = tools::resolve_host("localhost", family_preference::v6);
    BOOST_TEST(v6.addr == ip("::1"));
  } else {
    std::string e = error_of([] { tools::resolve_host("localhost", family_preference::v6); });
    BOOST_TEST(contains(e, "cannot resolve 'localhost': 'localhost' has no IPv6 address (AAAA)"));
  }
  // No duplicates (getaddrinfo answers once per socket type without a hint).
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i + 1; j < all.size(); ++j) BOOST_TEST(!(all[i] == all[j]));
}

BOOST_AUTO_TEST_CASE(unresolvable_name) {
  // .invalid never resolves (RFC 6761); the error names the name.
  std::string e = error_of([] { tools::resolve_host("no-such-host.invalid:80"); });
  BOOST_TEST(contains(e, "cannot resolve 'no-such-host.invalid': "));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(listen_addresses)

BOOST_AUTO_TEST_CASE(forms) {
  auto ls = tools::parse_listen("10.111.0.1:8080");
  BOOST_TEST(ls.addr.value() == ip("10.111.0.1"));
  BOOST_TEST(ls.port == 8080);
  ls = tools::parse_listen("[fd00::1]:8080");
  BOOST_TEST(ls.addr.value() == ip("fd00::1"));
  BOOST_TEST(ls.port == 8080);
  ls = tools::parse_listen(":8080");
  BOOST_TEST(!ls.addr.has_value());
  BOOST_TEST(ls.port == 8080);
  ls = tools::parse_listen("8080");
  BOOST_TEST(!ls.addr.has_value());
  BOOST_TEST(ls.port == 8080);
  ls = tools::parse_listen("[::]:7");
  BOOST_TEST(ls.addr.value().is_unspecified());
  BOOST_TEST(ls.port == 7);
  ls = tools::parse_listen("localhost:9", family_preference::v4);
  BOOST_TEST(ls.addr.value() == ip("127.0.0.1"));
  BOOST_TEST(ls.name == "localhost");
}

BOOST_AUTO_TEST_CASE(errors) {
  BOOST_TEST(contains(error_of([] { tools::parse_listen("10.0.0.1"); }), "needs a port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("fd00::1"); }), "needs a port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("[fd00::1]"); }), "needs a port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen(""); }), "--listen needs"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("0"); }), "bad port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("70000"); }), "bad port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen(":"); }), "bad port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen(":x"); }), "bad port"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("[fd00::1:80"); }), "missing ']'"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("[fd00:::1]:80"); }), "bad IPv6 literal"));
  BOOST_TEST(contains(error_of([] { tools::parse_listen("10.0.0.1:80", family_preference::v6); }),
                      "is an IPv4 address"));
}

BOOST_AUTO_TEST_CASE(own_address_parses_addr_and_prefix) {
  auto a = tools::parse_own_address("10.111.0.50");
  BOOST_TEST(a.address == ip("10.111.0.50"));
  BOOST_TEST(!a.prefix_len.has_value());
  auto b = tools::parse_own_address("10.111.0.50/24");
  BOOST_TEST(b.prefix_len.value_or(0) == 24);
  auto c = tools::parse_own_address("fd00:111::50/128");
  BOOST_TEST(c.address == ip("fd00:111::50"));
  BOOST_TEST(c.prefix_len.value_or(0) == 128);
  BOOST_TEST(error_of([] { tools::parse_own_address("10.111.0.50/33"); }).find("bad prefix length (0-32)") !=
             std::string::npos);
  BOOST_TEST(error_of([] { tools::parse_own_address("fd00::1/129"); }).find("(0-128)") != std::string::npos);
  BOOST_TEST(error_of([] { tools::parse_own_address("10.111.0.50/"); }).find("bad prefix") != std::string::npos);
  BOOST_TEST(error_of([] { tools::parse_own_address("host.example"); }).find("is not ADDR or ADDR/PREFIX") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
