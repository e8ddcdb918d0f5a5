// An echo server on synack's TCP with C++20 coroutines: any number of concurrent connections, each
// echoed until the peer's FIN, then closed.
//
//   ./example_echo_server [-I IFACE] LISTEN_IP:PORT
//   e.g. ./example_echo_server 10.111.0.1:8080        (then, from the peer: nc 10.111.0.1 8080)
//        ./example_echo_server [fd00:111::1]:8080     (IPv6; the interface's IPv4 address answers too)
//
// LISTEN_IP is an address of a local interface (the one that owns it is used; -I names another).
// Prints "listening on IP:PORT" ("[IPv6]:PORT") once it accepts, and exits 0 on SIGINT/SIGTERM after stopping the
// stack, whose destructor removes the RST guard's iptables rule.
//
// Shows:
// - a *server* stack: the interface and the source address named, the one listening port as the
//   stack's port range (the packet filter and the RST guard cover only that), and the subnet's
//   broadcast address as the route hint (the engine refuses a route to one of our own addresses);
// - an acceptor loop and one coroutine per connection (co_spawn), with as_tuple(use_awaitable)
//   so that errors are values rather than exceptions;
// - a half-close aware echo: the peer's FIN arrives as eof *after* every byte it sent, so when
//   eof comes everything has been echoed; then shutdown(send) (our FIN) and close();
// - a clean stop with boost::asio::signal_set: the acceptor closed, stack.stop() ends every
//   pending operation with operation_aborted, io_context::run() returns once every coroutine
//   has finished.
//
// Each connection's bytes live in its own coroutine frame: nothing is shared between connections,
// and a buffer handed to an operation stays alive (and untouched) until that operation completes.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <array>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "synack/asio.hpp"

namespace net = boost::asio;
using boost::system::error_code;

// Every operation yields (error_code, ...) instead of throwing: `auto [ec, n] = co_await ...`.
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

namespace {

// What the server prints when a signal stops it.
struct counters {
  std::uint64_t accepted = 0;
  std::uint64_t open = 0;
  std::uint64_t failed = 0;  // connections that ended with an error (reset, timeout, ...)
};

// One connection: read what arrived, write it back, until the peer's FIN.
net::awaitable<void> echo(synack::asio::socket socket, counters& stats) {
  ++stats.open;
  std::array<std::byte, 16384> buf;  // this connection's own buffer (in the coroutine frame)
  error_code ec;
  for (;;) {
    auto [rec, n] = co_await socket.async_read_some(net::buffer(buf), use_tuple);
    if (n > 0) {
      // async_write (Asio's composed operation) completes once every byte was queued for sending.
      auto [wec, written] = co_await net::async_write(socket, net::buffer(buf.data(), n), use_tuple);
      if (wec) {
        ec = wec;
        break;
      }
    }
    if (rec) {
      ec = rec;
      break;
    }
  }
  if (ec == net::error::eof) {
    // The peer half-closed and every byte it sent has been echoed: our FIN after the queued data
    // (the stack keeps sending it after close()). shutdown() fails harmlessly if the connection
    // is already gone.
    error_code ignored;
    socket.shutdown(net::socket_base::shutdown_send, ignored);
  } else if (ec != net::error::operation_aborted && ec != synack::asio::error::errc::stack_stopped) {
    // (operation_aborted, stack_stopped: the server is stopping)
    ++stats.failed;
  }
  error_code ignored;
  socket.close(ignored);  // graceful: nothing is left unread after eof
  --stats.open;
}

// Accepts until the acceptor is closed (or the stack stopped); one echo coroutine per connection.
net::awaitable<void> accept_loop(synack::asio::acceptor& acceptor, counters& stats) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor ||
        ec == synack::asio::error::errc::stack_stopped)
      co_return;  // stopping
    if (ec) {
      std::fprintf(stderr, "accept: %s\n", ec.message().c_str());
      continue;
    }
    ++stats.accepted;
    net::co_spawn(acceptor.get_executor(), echo(std::move(socket), stats), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);  // out of memory, say: let io_context::run() throw it
    });
  }
}

// The interface that owns `addr`, and the stack's route hint: an address of the same subnet that is
// not ours (the engine refuses a route to one of our own addresses): IPv4's broadcast address, the
// highest address of an IPv6 prefix (the last bit flipped for a /128).
struct interface_info {
  std::string name;
  net::ip::address hint;
};
std::optional<interface_info> interface_owning(const net::ip::address& addr) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<interface_info> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (addr.is_v4() && i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (ntohl(sin->sin_addr.s_addr) != addr.to_v4().to_uint()) continue;
      std::uint32_t mask = 0xffffffff;
      if (i->ifa_netmask) mask = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr);
      const std::uint32_t bcast = mask >= 0xfffffffe ? 0xffffffff : (addr.to_v4().to_uint() | ~mask);
      found = interface_info{i->ifa_name, net::ip::address_v4(bcast)};
    } else if (addr.is_v6() && i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      net::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &sin6->sin6_addr, bytes.size());
      if (net::ip::address_v6(bytes) != addr.to_v6()) continue;
      net::ip::address_v6::bytes_type hint = bytes;
      if (i->ifa_netmask) {
        const auto* mask = reinterpret_cast<const sockaddr_in6*>(i->ifa_netmask);
        for (std::size_t k = 0; k < hint.size(); ++k)
          hint[k] = static_cast<unsigned char>(bytes[k] | ~mask->sin6_addr.s6_addr[k]);
      }
      if (hint == bytes) hint[15] ^= 1;
      found = interface_info{i->ifa_name, net::ip::address_v6(hint)};
    }
  }
  ::freeifaddrs(list);
  return found;
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [-I IFACE] LISTEN_IP:PORT   (IPv6: [ADDR]:PORT)\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string iface, listen;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-I" && i + 1 < argc)
      iface = argv[++i];
    else if (listen.empty() && !a.starts_with("-"))
      listen = a;
    else
      return usage(argv[0]);
  }
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return usage(argv[0]);
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  try {
    const auto addr = net::ip::make_address(host);
    const unsigned long port_arg = std::stoul(listen.substr(colon + 1));
    if (port_arg == 0 || port_arg > 65535) return usage(argv[0]);
    const auto port = static_cast<std::uint16_t>(port_arg);

    // A server stack: our interface, address and port named.
    synack::engine::options o;
    net::ip::address hint = net::ip::address_v4::broadcast();
    if (auto own = interface_owning(addr)) {
      if (iface.empty()) iface = own->name;
      hint = own->hint;
    } else if (iface.empty()) {
      std::fprintf(stderr, "%s is not an address of a local interface (name one with -I IFACE)\n",
                   addr.to_string().c_str());
      return 2;
    } else if (addr.is_v6()) {
      auto h = addr.to_v6().to_bytes();
      h[15] ^= 1;  // not owned (-I IFACE): a neighbour's address, for the route hint only
      hint = net::ip::address_v6(h);
    }
    o.interface = iface;
    o.source = synack::asio::to_wire(addr);
    o.ports = synack::link::port_range{port, port};
    // Many small receive-ring slots rather than the default few large ones: many clients sending
    // at once means bursts of small frames (a larger GRO frame is still read whole).
    o.rx_frame_size = 2048;

    counters stats;          // outlives every coroutine that counts in it
    net::io_context ctx(1);  // the stack and its sockets are used from this one thread
    synack::asio::stack stack(ctx, o, hint);

    // Open, bind, listen. A deep accept queue and half-open queue: clients that all connect at
    // once wait there rather than in their SYN retransmissions.
    synack::asio::acceptor acceptor(stack);
    acceptor.open();
    acceptor.bind({addr, port});
    synack::engine::listen_options lo;
    lo.backlog = 1024;
    lo.max_half_open = 1024;
    error_code ec;
    if (acceptor.listen(lo, ec)) throw boost::system::system_error(ec, "listen");

    net::co_spawn(ctx, accept_loop(acceptor, stats), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });

    // SIGINT/SIGTERM: stop accepting, then stop the stack (pending operations end with
    // operation_aborted, so every coroutine finishes and run() returns).
    net::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](const error_code& sec, int signo) {
      if (sec) return;
      // What was going on when the signal came: connections still echoing are cut short now.
      std::printf("signal %d: stopping (%llu connections accepted, %llu open, %llu failed)\n", signo,
                  static_cast<unsigned long long>(stats.accepted), static_cast<unsigned long long>(stats.open),
                  static_cast<unsigned long long>(stats.failed));
      std::fflush(stdout);
      error_code ignored;
      acceptor.close(ignored);
      stack.stop();
    });

    std::printf(addr.is_v6() ? "listening on [%s]:%u\n" : "listening on %s:%u\n", addr.to_string().c_str(),
                static_cast<unsigned>(port));
    std::fflush(stdout);
    ctx.run();

    std::printf("stopped\n");
    return 0;  // ~stack removes the RST guard's firewall rule
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
