#include "asio/fixture.hpp"

#include <thread>

namespace synack::asio::test {

const char* const test_cert_pem = R"(
-----BEGIN CERTIFICATE-----
MIIBpTCCAUugAwIBAgIUNj14lbJ2unHzv8JEzhDf9zRxT+UwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLc3luYWNrLXRlc3QwIBcNMjYxMTIyMDEzNTMwWhgPMjEyNjEw
MjkwMTM1MzBaMBYxFDASBgNVBAMMC3N5bmFjay10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEw4qWajJwzv36JuxaSYAjpYgaioN2jDY1ZhdAQwpWqEDQsvPD
2ZqXrDevOzwCmg1dC99PEhAe1YzhxIY9SBJMY6N1MHMwHQYDVR0OBBYEFHqjcHGj
xj9n1hHMPR7aXMRx6GHjMB8GA1UdIwQYMBaAFHqjcHGjxj9n1hHMPR7aXMRx6GHj
MA8GA1UdEwEB/wQFMAMBAf8wIAYDVR0RBBkwF4cECsgAAocECm8AAoIJbG9jYWxo
b3N0MAoGCCqGSM49BAMCA0gAMEUCIQCOdRhtuUonwsSkshPNTuSBtvW7OCNzjof1
AFuphOOpTwIgNt72iuURNs0EHV9a0iEcr/YIwVlOxwJ2fTxi/Gs6T5U=
-----END CERTIFICATE-----)";

const char* const test_key_pem = R"(
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYQDeFJsHx8YqIvj7
G6MDFz2H6bKmCItG660Sa5oe7YGhRANCAATDipZqMnDO/fom7FpJgCOliBqKg3aM
NjVmF0BDClaoQNCy88PZmpesN687PAKaDV0L308SEB7VjOHEhj1IEkxj
-----END PRIVATE KEY-----)";

link::test::veth_pair& shared_pair() {
  static std::unique_ptr<link::test::veth_pair> pair = [] {
    auto owned = std::make_unique<link::test::veth_pair>();
    auto& p = *owned;
    p.add_ipv6();  // dual-stack: every stack also holds fd00:200::1 (issue 14)
    // Wait for the carrier on both ends, so the first SYN is not lost.
    for (int i = 0; i < 200; ++i) {
      auto ra = link::test::run_command({"ip", "-n", p.a, "-o", "link", "show", p.if_a});
      auto rb = link::test::run_command({"ip", "-n", p.b, "-o", "link", "show", p.if_b});
      if (ra.out.find("LOWER_UP") != std::string::npos && rb.out.find("LOWER_UP") != std::string::npos) break;
      std::this_thread::sleep_for(10ms);
    }
    return owned;
  }();
  return *pair;
}

world::world() : pair(shared_pair()) {
  in_a.emplace(pair.a);
  engine::options o;
  o.interface = pair.if_a;
  o.arp_interval = 100ms;  // host_unreachable after 3 x 100 ms
  stack.emplace(ctx, o, peer_addr);
}

world::~world() {
  if (stack) stack->stop();
  // Let aborted handlers run before the stack and the sockets in the test go away.
  ctx.restart();
  ctx.poll();
  stack.reset();
  ctx.poll();
}

void world::run_until(const std::function<bool()>& pred, std::chrono::milliseconds limit, synack::test::source_location where) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) {
      BOOST_ERROR("timed out after " << limit.count() << " ms waiting (line " << where.line() << ")");
      return;
    }
    ctx.run_one_for(5ms);
  }
}

void world::run_for(std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) ctx.run_one_for(1ms);
}

net::ip::tcp::acceptor world::listen6(unsigned short port) {
  link::test::enter_netns in_b(pair.b);
  net::ip::tcp::acceptor a(ctx);
  net::ip::tcp::endpoint ep(peer_addr6, port);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.set_option(net::ip::v6_only(true));
  a.bind(ep);
  a.listen();
  return a;
}

net::ip::tcp::acceptor world::listen(unsigned short port) {
  link::test::enter_netns in_b(pair.b);
  net::ip::tcp::acceptor a(ctx);
  net::ip::tcp::endpoint ep(peer_addr, port);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen();
  return a;
}

unsigned short world::closed_port(bool v6) {
  auto a = v6 ? listen6() : listen();
  return a.local_endpoint().port();
}

error_code world::kernel_connect_error(const net::ip::tcp::endpoint& ep, synack::test::source_location where) {
  net::ip::tcp::socket k(ctx);
  k.open(ep.protocol());
  return connect(k, ep, 10s, where);
}

net::ip::tcp::endpoint world::range_connect(synack::asio::socket& s, const std::vector<net::ip::tcp::endpoint>& eps,
                                            synack::test::source_location where) {
  bool done = false;
  net::ip::tcp::endpoint chosen;
  async_connect(s, eps, [&](error_code ec, net::ip::tcp::endpoint ep) {  // synack::asio::async_connect
    BOOST_TEST(!ec, ec.message() << " (line " << where.line() << ")");
    chosen = ep;
    done = true;
  });
  run_until([&] { return done; }, 10s, where);
  return chosen;
}

}  // namespace synack::asio::test
