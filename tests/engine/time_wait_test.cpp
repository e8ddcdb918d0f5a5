// options::max_time_wait (Linux net.ipv4.tcp_max_tw_buckets): two engines on memory links, A
// opening connections to a listener on B and closing each first (A is the active closer, so its
// connections reach TIME_WAIT). Beyond the cap a connection's last ACK still goes out, then it
// ends at once (closed event, port free) instead of holding TIME_WAIT for 2 x MSL.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "synack/engine/engine.hpp"
#include "synack/link/memory_link.hpp"

namespace {

using namespace synack;
using namespace std::chrono_literals;

constexpr std::uint16_t port_b = 7100;
const wire::ipv4_addr ip_a = wire::ipv4_addr::from_octets(10, 98, 0, 1);
const wire::ipv4_addr ip_b = wire::ipv4_addr::from_octets(10, 98, 0, 2);

struct outcome {
  std::size_t connected = 0;
  std::size_t closed = 0;         // orderly `closed` events on A
  std::size_t peer_closed = 0;    // ... on B (LAST_ACK ended: A's last ACK arrived)
  std::size_t time_wait_left = 0; // A's TIME_WAIT count once every close has been exchanged
  std::size_t a_connections = 0;  // A's table then
  std::uint64_t overflow = 0;
};

// n connections, each closed by A as soon as it is connected; B closes when it sees the FIN.
// Runs until nothing moves at one instant (no timer is fired: TIME_WAIT is still running).
outcome run(std::size_t n, std::size_t max_time_wait) {
  tcp::instant now{std::chrono::hours{1}};
  engine::options eo;
  eo.clock = [&now] { return now; };
  eo.tcp.msl = 30s;  // TIME_WAIT 60 s: nothing leaves it by its timer during the test
  engine::options oa = eo, ob = eo;
  oa.seed = 1;
  oa.ports = link::port_range{20000, 20099};
  oa.max_time_wait = max_time_wait;
  ob.seed = 2;
  ob.ports = link::port_range{port_b, port_b};
  link::link_facts fa{wire::mac_addr{{0x02, 0, 0, 0, 0, 0x1a}}, 1500, ip_a, 24, std::nullopt, std::nullopt, 64, std::nullopt};
  link::link_facts fb{wire::mac_addr{{0x02, 0, 0, 0, 0, 0x1b}}, 1500, ip_b, 24, std::nullopt, std::nullopt, 64, std::nullopt};
  auto link_a = std::make_unique<link::memory_link>();
  auto link_b = std::make_unique<link::memory_link>();
  link::memory_link& la = *link_a;
  link::memory_link& lb = *link_b;
  engine::engine a(oa, std::move(link_a), fa);
  engine::engine b(ob, std::move(link_b), fb);
  b.listen(port_b, engine::listen_options{1024, 1024, false});

  outcome out;
  a.on_event([&](const wire::four_tuple& t, const tcp::event& ev) {
    if (ev.what == tcp::event::kind::connected) {
      ++out.connected;
      a.close(t);
    } else if (ev.what == tcp::event::kind::closed) {
      ++out.closed;
    }
  });
  b.on_acceptable([&](std::uint16_t p) {
    while (b.accept(p)) {
    }
  });
  b.on_event([&](const wire::four_tuple& t, const tcp::event& ev) {
    if (ev.what == tcp::event::kind::eof) b.close(t);
    if (ev.what == tcp::event::kind::closed) ++out.peer_closed;
  });
  for (std::size_t i = 0; i < n; ++i) a.connect(ip_b, port_b);
  for (int round = 0; round < 1000; ++round) {
    a.process(now);
    b.process(now);
    std::size_t moved = la.take_sent([&](std::span<const std::byte> f) { lb.deliver(f); });
    moved += lb.take_sent([&](std::span<const std::byte> f) { la.deliver(f); });
    if (moved == 0 && !la.ready() && !lb.ready()) break;
    now += 10us;
  }
  out.time_wait_left = a.time_wait_count();
  out.a_connections = a.connection_count();
  out.overflow = a.stats().time_wait_overflow;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(time_wait_cap)

BOOST_AUTO_TEST_CASE(unlimited_by_default_every_active_close_holds_time_wait) {
  const outcome o = run(20, engine::options{}.max_time_wait);
  BOOST_TEST(o.connected == 20u);
  BOOST_TEST(o.peer_closed == 20u);  // B's LAST_ACK ended: every last ACK arrived
  BOOST_TEST(o.closed == 0u);
  BOOST_TEST(o.time_wait_left == 20u);
  BOOST_TEST(o.a_connections == 20u);
  BOOST_TEST(o.overflow == 0u);
}

BOOST_AUTO_TEST_CASE(beyond_the_cap_a_connection_ends_instead_of_entering_time_wait) {
  const outcome o = run(20, 5);
  BOOST_TEST(o.connected == 20u);
  BOOST_TEST(o.peer_closed == 20u);  // the overflowing ones still sent their last ACK
  BOOST_TEST(o.closed == 15u);
  BOOST_TEST(o.time_wait_left == 5u);
  BOOST_TEST(o.a_connections == 5u);  // the 15 are gone from the table, their ports free
  BOOST_TEST(o.overflow == 15u);
}

BOOST_AUTO_TEST_CASE(a_cap_of_zero_keeps_no_time_wait_as_tcp_max_tw_buckets_0) {
  const outcome o = run(20, 0);
  BOOST_TEST(o.peer_closed == 20u);
  BOOST_TEST(o.closed == 20u);
  BOOST_TEST(o.time_wait_left == 0u);
  BOOST_TEST(o.a_connections == 0u);
  BOOST_TEST(o.overflow == 20u);
}

BOOST_AUTO_TEST_SUITE_END()
