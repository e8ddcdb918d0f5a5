// A stream adaptor that fails its n-th operation (reads and writes counted together) with a
// given error, completing it like a real one (posted, through the handler's executor), and
// forwards every other operation to the next layer: Beast's test::fail_count pattern.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

namespace synack::asio::test {

template <class NextLayer>
class failing_stream {
public:
  using next_layer_type = std::remove_reference_t<NextLayer>;
  using executor_type = typename next_layer_type::executor_type;

  failing_stream(NextLayer next, std::size_t fail_at, boost::system::error_code ec)
      : next_(std::forward<NextLayer>(next)), fail_at_(fail_at), ec_(ec) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  next_layer_type& next_layer() noexcept { return next_; }
  std::size_t operations() const noexcept { return count_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (++count_ == fail_at_) return fail(std::move(handler));
          next_.async_read_some(bufs, std::move(handler));
        },
        token, b);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          if (++count_ == fail_at_) return fail(std::move(handler));
          next_.async_write_some(bufs, std::move(handler));
        },
        token, b);
  }

private:
  template <class Handler>
  void fail(Handler handler) {
    boost::asio::post(next_.get_executor(), boost::asio::append(std::move(handler), ec_, std::size_t{0}));
  }

  NextLayer next_;
  std::size_t fail_at_;
  boost::system::error_code ec_;
  std::size_t count_ = 0;
};

}  // namespace synack::asio::test
