// Fixture of the Asio front-end tests: a veth pair between two throw-away namespaces (shared by
// the whole run), synack's stack in namespace "a" (10.200.0.1) and kernel peers (Asio's own
// ip::tcp sockets, Beast, OpenSSL) in namespace "b" (10.200.0.2), all on one io_context in the
// test's thread. The test thread stays inside namespace "a" for the test (RST guard included).
#pragma once

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include "link/netns.hpp"
#include "source_location.hpp"
#include "synack/asio.hpp"

namespace synack::asio::test {

namespace net = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

link::test::veth_pair& shared_pair();

inline const net::ip::address_v4 peer_addr = net::ip::make_address_v4("10.200.0.2");
inline const net::ip::address_v4 nobody_addr = net::ip::make_address_v4("10.200.0.3");
inline const net::ip::address_v6 our_addr6 = net::ip::make_address_v6("fd00:200::1");
inline const net::ip::address_v6 peer_addr6 = net::ip::make_address_v6("fd00:200::2");
inline const net::ip::address_v6 nobody_addr6 = net::ip::make_address_v6("fd00:200::3");

// A self-signed certificate for 10.200.0.2 / 10.111.0.2 / localhost and its key (test only).
extern const char* const test_cert_pem;
extern const char* const test_key_pem;

struct world {
  world();
  ~world();

  // Runs the io_context until pred() holds; fails the test (at the caller's line) after `limit`.
  void run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s,
                 synack::test::source_location where = synack::test::source_location::current());
  // Runs handlers for a while (e.g. to show that nothing more happens).
  void run_for(std::chrono::milliseconds d);

  // A kernel listener in namespace b on 10.200.0.2:port (port 0: any).
  net::ip::tcp::acceptor listen(unsigned short port = 0);
  // The same on [fd00:200::2]:port.
  net::ip::tcp::acceptor listen6(unsigned short port = 0);
  net::ip::tcp::endpoint peer(const net::ip::tcp::acceptor& a) const {
    return {peer_addr, a.local_endpoint().port()};
  }
  // A port of the peer (10.200.0.2, with `v6` fd00:200::2) that nobody listens on: a kernel
  // listener's, closed again.
  unsigned short closed_port(bool v6 = false);

  // Connects `s` (a synack socket, or a kernel one: Asio's own, connecting from the namespace it
  // was opened in) to `ep` and runs until the handler ran: its error. Fails the test (at the
  // caller's line) if that takes longer than `limit`.
  template <class Socket>
  error_code connect(Socket& s, const net::ip::tcp::endpoint& ep, std::chrono::milliseconds limit = 10s,
                     synack::test::source_location where = synack::test::source_location::current()) {
    bool done = false;
    error_code got;
    s.async_connect(ep, [&](error_code ec) {
      got = ec;
      done = true;
    });
    run_until([&] { return done; }, limit, where);
    return got;
  }
  // What a kernel socket of namespace a (beside the stack) gets connecting to `ep`: the reference
  // for synack's error codes.
  error_code kernel_connect_error(const net::ip::tcp::endpoint& ep,
                                  synack::test::source_location where = synack::test::source_location::current());
  // Asio's range async_connect of `s` over `eps`, run to completion: the endpoint it settled on
  // (the test fails if none worked).
  net::ip::tcp::endpoint range_connect(synack::asio::socket& s, const std::vector<net::ip::tcp::endpoint>& eps,
                                       synack::test::source_location where = synack::test::source_location::current());

  link::test::veth_pair& pair;
  std::optional<link::test::enter_netns> in_a;
  net::io_context ctx{1};
  std::optional<synack::asio::stack> stack;
};

// Counts invocations; check with BOOST_TEST(h.calls == 1).
struct call_count {
  int calls = 0;
};

}  // namespace synack::asio::test
