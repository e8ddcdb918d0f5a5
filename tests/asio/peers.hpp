// Kernel peers for the front-end tests (Asio's own ip::tcp sockets in namespace b), and test
// utilities: a counting allocator.
#pragma once

#include <array>
#include <cctype>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace synack::asio::test {

namespace net = boost::asio;
inline constexpr auto tuple_awaitable = net::as_tuple(net::use_awaitable);

// Echoes every connection until the client closes.
inline void echo_server(net::ip::tcp::acceptor& acc) {
  net::co_spawn(
      acc.get_executor(),
      [&acc]() -> net::awaitable<void> {
        for (;;) {
          auto [aec, sock] = co_await acc.async_accept(tuple_awaitable);
          if (aec) co_return;
          net::co_spawn(
              acc.get_executor(),
              [s = std::move(sock)]() mutable -> net::awaitable<void> {
                auto buf = std::make_unique<std::array<char, 65536>>();
                for (;;) {
                  auto [ec, n] = co_await s.async_read_some(net::buffer(*buf), tuple_awaitable);
                  if (ec) co_return;
                  auto [wec, wn] = co_await net::async_write(s, net::buffer(buf->data(), n), tuple_awaitable);
                  if (wec) co_return;
                }
              },
              net::detached);
        }
      },
      net::detached);
}

// Accepts one connection, sends `data`, then closes: FIN, or RST (SO_LINGER 0) when `rst`.
inline void send_and_close_server(net::ip::tcp::acceptor& acc, std::string data, bool rst) {
  net::co_spawn(
      acc.get_executor(),
      [&acc, data, rst]() -> net::awaitable<void> {
        auto [aec, s] = co_await acc.async_accept(tuple_awaitable);
        if (aec) co_return;
        if (!data.empty()) co_await net::async_write(s, net::buffer(data), tuple_awaitable);
        if (rst) s.set_option(net::socket_base::linger(true, 0));
        s.close();
      },
      net::detached);
}

// Accepts connections and keeps them open, reading and discarding.
inline void hold_server(net::ip::tcp::acceptor& acc) {
  net::co_spawn(
      acc.get_executor(),
      [&acc]() -> net::awaitable<void> {
        std::vector<std::shared_ptr<net::ip::tcp::socket>> held;
        for (;;) {
          auto [aec, s] = co_await acc.async_accept(tuple_awaitable);
          if (aec) co_return;
          held.push_back(std::make_shared<net::ip::tcp::socket>(std::move(s)));
        }
      },
      net::detached);
}

// Accepts one connection, reads until the client's FIN, sends it all back upper-cased, closes.
inline void upper_after_eof_server(net::ip::tcp::acceptor& acc) {
  net::co_spawn(
      acc.get_executor(),
      [&acc]() -> net::awaitable<void> {
        auto [aec, s] = co_await acc.async_accept(tuple_awaitable);
        if (aec) co_return;
        std::string got;
        auto [ec, n] = co_await net::async_read(s, net::dynamic_buffer(got), tuple_awaitable);
        if (ec != net::error::eof) co_return;
        for (char& c : got) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        co_await net::async_write(s, net::buffer(got), tuple_awaitable);
        s.close();
      },
      net::detached);
}

// One set of counters for every value type (an operation rebinds the allocator).
struct allocation_counts {
  int allocations = 0;
  int outstanding = 0;
};
inline allocation_counts& global_allocation_counts() {
  static allocation_counts c;
  return c;
}

// An allocator that counts, for "operations use the handler's allocator".
template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    ++global_allocation_counts().allocations;
    ++global_allocation_counts().outstanding;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) {
    --global_allocation_counts().outstanding;
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const counting_allocator<U>&) const noexcept { return true; }

  static void reset() { global_allocation_counts() = {}; }
  static int allocations() { return global_allocation_counts().allocations; }
  static int outstanding() { return global_allocation_counts().outstanding; }
};

template <class Handler>
auto with_counting_allocator(Handler h) {
  return net::bind_allocator(counting_allocator<void>(), std::move(h));
}

}  // namespace synack::asio::test
