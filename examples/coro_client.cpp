// A C++20 coroutine client on synack's TCP with a timeout through per-operation cancellation.
//
//   sudo ./example_coro_client 10.111.0.2 8080 [TIMEOUT_MS]
//
// Each operation races a steady_timer with `||` (awaitable operators): when the timer wins,
// the socket operation is cancelled through its cancellation slot and completes with
// operation_aborted, and the connection is abandoned. Also shows as_tuple and use_awaitable with a
// default-token socket type (as_default_on_t), which needs the socket's rebind_executor.
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "synack/asio.hpp"

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;
using boost::system::error_code;
using tuple_socket = net::as_tuple_t<net::use_awaitable_t<>>::as_default_on_t<synack::asio::socket>;

namespace {

// Runs `op` (an awaitable yielding (error_code, T...)) with a deadline: timed_out when it passes.
template <class Op>
net::awaitable<error_code> with_timeout(Op op, std::chrono::milliseconds limit) {
  net::steady_timer timer(co_await net::this_coro::executor, limit);
  auto result = co_await (std::move(op) || timer.async_wait(net::as_tuple(net::use_awaitable)));
  if (result.index() == 1) co_return net::error::timed_out;  // the operation was cancelled
  co_return std::get<0>(std::get<0>(result));
}

net::awaitable<void> fetch(synack::asio::stack& stack, net::ip::tcp::endpoint peer, std::chrono::milliseconds limit) {
  tuple_socket socket(stack);
  if (error_code ec = co_await with_timeout(socket.async_connect(peer), limit)) {
    std::fprintf(stderr, "connect: %s\n", ec.message().c_str());
    stack.stop();
    co_return;
  }
  std::string request = "GET / HTTP/1.0\r\nHost: " + peer.address().to_string() + "\r\n\r\n";
  auto [wec, wn] = co_await net::async_write(socket, net::buffer(request));
  if (wec) std::fprintf(stderr, "write: %s\n", wec.message().c_str());
  std::array<char, 16384> buf{};
  std::size_t total = 0;
  for (;;) {
    std::size_t n = 0;
    error_code ec = co_await with_timeout(
        [&]() -> net::awaitable<std::tuple<error_code>> {
          auto [e, got] = co_await socket.async_read_some(net::buffer(buf));
          n = got;
          co_return std::tuple<error_code>{e};
        }(),
        limit);
    std::fwrite(buf.data(), 1, n, stdout);
    total += n;
    if (ec == net::error::eof) break;
    if (ec) {
      std::fprintf(stderr, "read: %s\n", ec.message().c_str());
      break;
    }
  }
  std::fprintf(stderr, "%zu bytes\n", total);
  socket.close();
  stack.stop();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s IPV4 PORT [TIMEOUT_MS]\n", argv[0]);
    return 2;
  }
  try {
    net::io_context ctx(1);
    auto addr = net::ip::make_address(argv[1]);  // IPv4 or IPv6
    synack::asio::stack stack(ctx, synack::engine::options{}, addr);
    net::ip::tcp::endpoint peer(addr, static_cast<unsigned short>(std::stoi(argv[2])));
    std::chrono::milliseconds limit{argc > 3 ? std::stoi(argv[3]) : 3000};
    net::co_spawn(ctx, fetch(stack, peer, limit), net::detached);
    ctx.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
