// The Asio front end over IPv6 (issue 14): tcp::endpoint with v6 addresses in connect and accept,
// the error codes a kernel IPv6 socket gives (each compared with a kernel socket connecting from
// the same namespace in the same test), and the range async_connect over v6 and v4 endpoints in
// order.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "asio/fixture.hpp"
#include "asio/peers.hpp"

namespace synack::asio::test {

BOOST_AUTO_TEST_SUITE(ipv6_suite, *boost::unit_test::precondition(link::test::root_available))

BOOST_AUTO_TEST_CASE(connect_to_v6_endpoint_echoes_and_reports_v6_endpoints) {
  world w;
  auto acc = w.listen6();
  echo_server(acc);
  const net::ip::tcp::endpoint peer{peer_addr6, acc.local_endpoint().port()};
  synack::asio::socket s(*w.stack);
  const error_code got = w.connect(s, peer);
  BOOST_REQUIRE_MESSAGE(!got, got.message());
  BOOST_TEST(s.remote_endpoint() == peer);
  BOOST_TEST(s.local_endpoint().address() == net::ip::address(our_addr6));
  std::string msg(100000, 'x');
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('A' + i % 51);
  std::string back(msg.size(), '\0');
  call_count read;
  net::async_write(s, net::buffer(msg), [](error_code, std::size_t) {});
  net::async_read(s, net::buffer(back), [&](error_code ec, std::size_t) {
    BOOST_TEST(!ec, ec.message());
    ++read.calls;
  });
  w.run_until([&] { return read.calls == 1; }, 20s);
  BOOST_TEST((back == msg));
}

BOOST_AUTO_TEST_CASE(v6_errors_are_what_a_kernel_ipv6_socket_gets) {
  world w;
  const net::ip::tcp::endpoint refused{peer_addr6, w.closed_port(true)};
  const error_code k_refused = w.kernel_connect_error(refused);
  synack::asio::socket s1(*w.stack);
  const error_code s_refused = w.connect(s1, refused);
  BOOST_TEST((k_refused == net::error::connection_refused), k_refused.message());
  BOOST_TEST((s_refused == k_refused), s_refused.message() << " vs the kernel's " << k_refused.message());
  // Nobody owns fd00:200::3: neighbour discovery fails (the kernel: EHOSTUNREACH after its own
  // solicitations).
  synack::asio::socket s2(*w.stack);
  const error_code s_nobody = w.connect(s2, {nobody_addr6, 80});
  const error_code k_nobody = w.kernel_connect_error({nobody_addr6, 80});
  BOOST_TEST((s_nobody == net::error::host_unreachable), s_nobody.message());
  BOOST_TEST((s_nobody == k_nobody), s_nobody.message() << " vs the kernel's " << k_nobody.message());
}

BOOST_AUTO_TEST_CASE(range_connect_tries_v6_then_v4_in_order) {
  world w;
  auto acc4 = w.listen();
  echo_server(acc4);
  // A v6 endpoint that refuses, then a v4 one that works: the range goes on to the second.
  synack::asio::socket s(*w.stack);
  BOOST_TEST(w.range_connect(s, {{peer_addr6, w.closed_port(true)}, w.peer(acc4)}) == w.peer(acc4));
  // And a working v6 endpoint first is taken first.
  auto acc6 = w.listen6();
  echo_server(acc6);
  const net::ip::tcp::endpoint first{peer_addr6, acc6.local_endpoint().port()};
  synack::asio::socket s2(*w.stack);
  BOOST_TEST(w.range_connect(s2, {first, w.peer(acc4)}) == first);
}

BOOST_AUTO_TEST_CASE(acceptor_bound_to_v6_address_accepts_a_kernel_ipv6_client) {
  world w;
  synack::asio::acceptor acc(*w.stack, {our_addr6, 0});
  const auto ep = acc.local_endpoint();
  BOOST_TEST(ep.address() == net::ip::address(our_addr6));
  synack::asio::socket s(*w.stack);
  call_count h;
  error_code got;
  acc.async_accept(s, [&](error_code ec) {
    got = ec;
    ++h.calls;
  });
  net::ip::tcp::socket c(w.ctx);
  {
    link::test::enter_netns in_b(w.pair.b);
    c.open(net::ip::tcp::v6());
  }
  const error_code cec = w.connect(c, {our_addr6, ep.port()});
  BOOST_TEST(!cec, cec.message());
  w.run_until([&] { return h.calls == 1; });
  BOOST_REQUIRE_MESSAGE(!got, got.message());
  BOOST_TEST(s.remote_endpoint() == net::ip::tcp::endpoint(peer_addr6, c.local_endpoint().port()));
  BOOST_TEST(s.local_endpoint().address() == net::ip::address(our_addr6));
  // A byte each way.
  char in = 0;
  call_count r;
  net::async_write(c, net::buffer("6", 1), [](error_code, std::size_t) {});
  net::async_read(s, net::buffer(&in, 1), [&](error_code ec, std::size_t) {
    BOOST_TEST(!ec, ec.message());
    ++r.calls;
  });
  w.run_until([&] { return r.calls == 1; });
  BOOST_TEST(in == '6');
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::asio::test
