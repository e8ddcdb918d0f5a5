// Range connect for synack sockets: boost::asio::async_connect() only accepts Asio's own sockets,
// so this overload (found by ADL: `async_connect(sock, resolver_results, token)`) tries each
// endpoint in turn, closing the socket between attempts, like Asio's.
//
// Completion: void(error_code, ip::tcp::endpoint) — the endpoint that connected. Errors: the last
// attempt's error; not_found for an empty range; operation_aborted when cancelled.
// Per-operation cancellation: terminal, partial, total (forwarded to the attempt in progress;
// no further endpoint is tried).
#pragma once

#include <cstddef>
#include <iterator>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>

#include "synack/asio/socket.hpp"

namespace synack::asio {

namespace detail {

template <class Executor, class EndpointSequence>
class range_connect_op {
public:
  range_connect_op(basic_socket<Executor>& s, const EndpointSequence& eps) : s_(s), eps_(eps) {}

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    if (started_) {
      if (!ec) return self.complete(ec, current_);
      if (self.get_cancellation_state().cancelled() != boost::asio::cancellation_type::none)
        return self.complete(boost::asio::error::operation_aborted, {});
      last_ = ec;
      ++index_;
    }
    started_ = true;
    auto it = eps_.begin();
    const auto end = eps_.end();
    for (std::size_t i = 0; i < index_ && it != end; ++i) ++it;  // an index survives moves
    if (it == end) return self.complete(last_, {});
    current_ = *it;
    boost::system::error_code ignored;
    s_.close(ignored);
    s_.async_connect(current_, std::move(self));
  }

private:
  basic_socket<Executor>& s_;
  EndpointSequence eps_;
  std::size_t index_ = 0;
  bool started_ = false;
  boost::asio::ip::tcp::endpoint current_;
  boost::system::error_code last_ = boost::asio::error::not_found;
};

}  // namespace detail

template <class Executor, class EndpointSequence,
          class RangeConnectToken = boost::asio::default_completion_token_t<Executor>>
auto async_connect(basic_socket<Executor>& s, const EndpointSequence& endpoints,
                   RangeConnectToken&& token = RangeConnectToken()) {
  return boost::asio::async_compose<RangeConnectToken, void(boost::system::error_code, boost::asio::ip::tcp::endpoint)>(detail::range_connect_op<Executor, EndpointSequence>(s, endpoints), token, s);
}

}  // namespace synack::asio
