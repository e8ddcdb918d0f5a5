// Beast customisation points for synack sockets, found by ADL:
// - teardown / async_teardown: what websocket::stream<synack::asio::socket> does when it closes.
//   async_teardown sends our FIN, reads (and discards) until the peer's FIN, then closes, as Beast
//   does for ip::tcp::socket. The synchronous teardown cannot wait for the peer (the stack runs on
//   the caller's own io_context), so it sends the FIN and closes; use the asynchronous one.
// - beast_close_socket: what beast::close_socket() (timeouts, errors) calls.
// (beast::tcp_stream cannot wrap a custom socket; use the socket directly or ssl::stream over it.)
#pragma once

#include <array>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "synack/asio/socket.hpp"

namespace synack::asio {

namespace detail {

template <class Executor>
class teardown_op {
public:
  explicit teardown_op(basic_socket<Executor>& s) : s_(s), buf_(std::make_unique<std::array<char, 2048>>()) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
    if (!started_) {
      started_ = true;
      s_.shutdown(boost::asio::socket_base::shutdown_send, ec);
      if (ec) return finish(self, ec);
    } else if (ec) {
      return finish(self, ec == boost::asio::error::eof ? boost::system::error_code{} : ec);
    }
    s_.async_read_some(boost::asio::buffer(*buf_), std::move(self));
  }

private:
  template <class Self>
  void finish(Self& self, boost::system::error_code ec) {
    boost::system::error_code ignored;
    s_.close(ignored);
    self.complete(ec);
  }

  basic_socket<Executor>& s_;
  std::unique_ptr<std::array<char, 2048>> buf_;
  bool started_ = false;
};

}  // namespace detail

template <class Executor>
void teardown(boost::beast::role_type, basic_socket<Executor>& s, boost::system::error_code& ec) {
  s.shutdown(boost::asio::socket_base::shutdown_send, ec);
  if (ec == boost::asio::error::not_connected) ec = {};
  boost::system::error_code ignored;
  s.close(ignored);
}

template <class Executor, class TeardownHandler>
void async_teardown(boost::beast::role_type, basic_socket<Executor>& s, TeardownHandler&& handler) {
  boost::asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
      detail::teardown_op<Executor>(s), handler, s);
}

template <class Executor>
void beast_close_socket(basic_socket<Executor>& s) {
  boost::system::error_code ignored;
  s.close(ignored);
}

}  // namespace synack::asio
