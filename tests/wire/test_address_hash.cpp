// The connection table's hashes (ip_addr_hash, four_tuple_hash): equal keys hash equal, the
// tables a server holds get no 64-bit collisions, and the bits a bucket index takes (the low ones;
// libstdc++ takes the hash modulo a prime) spread as a random function's would.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "synack/wire/address.hpp"

using namespace synack::wire;

namespace {

constexpr std::size_t keys = 4096;

ipv6_addr v6(const char* text) { return *ipv6_addr::parse(text); }

// The largest bucket and the empty buckets when `hashes` go into `buckets` buckets by `index`.
struct spread {
  std::size_t largest = 0, empty = 0;
};
spread spread_of(const std::vector<std::size_t>& hashes, std::size_t buckets,
                 const std::function<std::size_t(std::size_t)>& index) {
  std::vector<std::size_t> load(buckets);
  for (std::size_t h : hashes) ++load[index(h)];
  return {*std::max_element(load.begin(), load.end()),
          static_cast<std::size_t>(std::count(load.begin(), load.end(), std::size_t{0}))};
}

// 4096 keys in 4096 buckets: a random function leaves about 4096/e = 1507 empty (sd ~ 25) and
// its largest bucket holds 7 or 8. Checked for the low 12 bits and for modulo a prime.
void check_spread(const std::vector<std::size_t>& hashes, const char* what) {
  BOOST_TEST_REQUIRE(hashes.size() == keys);
  std::vector<std::size_t> sorted = hashes;
  std::sort(sorted.begin(), sorted.end());
  BOOST_TEST((std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()), what << ": a 64-bit collision");
  const spread low = spread_of(hashes, keys, [](std::size_t h) { return h & (keys - 1); });
  const spread prime = spread_of(hashes, 4099, [](std::size_t h) { return h % 4099; });
  for (const spread& s : {low, prime}) {
    BOOST_TEST(s.largest <= 11u, what << ": largest bucket " << s.largest);
    BOOST_TEST((s.empty > 1350u && s.empty < 1650u), what << ": " << s.empty << " empty buckets");
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(address_hash)

BOOST_AUTO_TEST_CASE(equal_addresses_hash_equal_across_their_spellings) {
  const ip_addr a = ipv4_addr::from_octets(10, 0, 0, 1);
  const ip_addr b = v6("::ffff:10.0.0.1");  // the same address, v4-mapped
  BOOST_TEST((a == b));
  BOOST_TEST(ip_addr_hash{}(a) == ip_addr_hash{}(b));
  BOOST_TEST(ip_addr_hash{}(ip_addr{}) == ip_addr_hash{}(ip_addr{ipv4_addr{}}));
  BOOST_TEST(ip_addr_hash{}(a) != ip_addr_hash{}(ip_addr{ipv4_addr::from_octets(10, 0, 0, 2)}));
  BOOST_TEST(ip_addr_hash{}(ip_addr{v6("fd00::1")}) != ip_addr_hash{}(ip_addr{v6("fd01::1")}));
  const four_tuple t{a, 443, ipv4_addr::from_octets(10, 0, 0, 2), 50000};
  four_tuple u = t;
  u.local_addr = b;
  BOOST_TEST(four_tuple_hash{}(t) == four_tuple_hash{}(u));
  // Its mirror image (the peer's view of the connection) and the ports swapped hash apart.
  BOOST_TEST(four_tuple_hash{}(t) != four_tuple_hash{}(four_tuple{t.remote_addr, t.remote_port, t.local_addr, t.local_port}));
  BOOST_TEST(four_tuple_hash{}(t) != four_tuple_hash{}(four_tuple{t.local_addr, t.remote_port, t.remote_addr, t.local_port}));
}

BOOST_AUTO_TEST_CASE(addresses_that_differ_in_any_byte_spread_over_the_buckets) {
  std::vector<std::size_t> v4_seq, v6_iid, v6_prefix;
  for (std::size_t i = 0; i < keys; ++i) {
    v4_seq.push_back(ip_addr_hash{}(ipv4_addr{static_cast<std::uint32_t>(0x0a000000u + i)}));
    ipv6_addr a = v6("2001:db8::");
    a.octets[14] = static_cast<std::uint8_t>(i >> 8);
    a.octets[15] = static_cast<std::uint8_t>(i);
    v6_iid.push_back(ip_addr_hash{}(a));
    ipv6_addr b = v6("2001:db8::1");
    b.octets[4] = static_cast<std::uint8_t>(i >> 8);  // another /48 each, same interface id
    b.octets[5] = static_cast<std::uint8_t>(i);
    v6_prefix.push_back(ip_addr_hash{}(b));
  }
  check_spread(v4_seq, "IPv4 10.0.0.0 + i");
  check_spread(v6_iid, "IPv6 2001:db8:: + i");
  check_spread(v6_prefix, "IPv6 2001:db8:i::1");
}

BOOST_AUTO_TEST_CASE(a_servers_tuples_spread_over_the_buckets) {
  const ip_addr local4 = ipv4_addr::from_octets(10, 0, 0, 1);
  const ip_addr local6 = v6("2001:db8::1");
  const ip_addr peer4 = ipv4_addr::from_octets(10, 0, 0, 2);
  const ip_addr peer6 = v6("2001:db8::2");
  std::vector<std::size_t> ports4, ports6, addrs4, addrs6, mixed4;
  for (std::size_t i = 0; i < keys; ++i) {
    const auto port = static_cast<std::uint16_t>(32768 + i);
    // One client, many connections: only its port differs.
    ports4.push_back(four_tuple_hash{}(four_tuple{local4, 443, peer4, port}));
    ports6.push_back(four_tuple_hash{}(four_tuple{local6, 443, peer6, port}));
    // Many clients, one port each.
    addrs4.push_back(four_tuple_hash{}(four_tuple{local4, 443, ipv4_addr{static_cast<std::uint32_t>(0xc0a80000u + i)}, 40000}));
    ipv6_addr r = v6("2001:db8:1::");
    r.octets[14] = static_cast<std::uint8_t>(i >> 8);
    r.octets[15] = static_cast<std::uint8_t>(i);
    addrs6.push_back(four_tuple_hash{}(four_tuple{local6, 443, r, 40000}));
    // A client's view: one server, our ports (the engine's outgoing connections).
    mixed4.push_back(four_tuple_hash{}(four_tuple{ipv4_addr{static_cast<std::uint32_t>(0x0a000000u + i % 16)},
                                                  static_cast<std::uint16_t>(20000 + i / 16), peer4, 80}));
  }
  check_spread(ports4, "IPv4, remote port + i");
  check_spread(ports6, "IPv6, remote port + i");
  check_spread(addrs4, "IPv4, remote address + i");
  check_spread(addrs6, "IPv6, remote address + i");
  check_spread(mixed4, "IPv4, local address and port");
}

BOOST_AUTO_TEST_SUITE_END()
