// The typed accept operation: owns the handler, completes with void(error_code) (accept into the
// caller's socket) or void(error_code, basic_socket<IoExecutor>) (accept yielding a socket). Same
// rules as io_op (op.hpp): the handler's allocator, work on both executors while pending, the
// slot cleared and the memory freed before the completion is posted.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "synack/asio/detail/acceptor_state.hpp"
#include "synack/asio/detail/op.hpp"
#include "synack/asio/socket.hpp"

namespace synack::asio::detail {

template <class Handler, class IoExecutor, bool YieldsSocket>
class accept_op final : public accept_op_base {
public:
  using handler_executor = net::associated_executor_t<Handler, IoExecutor>;

  template <class H>
  accept_op(H&& h, const IoExecutor& ex)
      : accept_op_base(&accept_op::do_complete, op_kind::accept),
        handler_(std::forward<H>(h)),
        io_ex_(ex),
        io_work_(ex),
        handler_work_(net::get_associated_executor(handler_, ex)) {}

  Handler& handler() noexcept { return handler_; }

  template <class H>
  static accept_op* create(H&& h, const IoExecutor& ex) {
    auto alloc = op_allocator(h);
    using alloc_t = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<accept_op>;
    alloc_t a(alloc);
    accept_op* p = std::allocator_traits<alloc_t>::allocate(a, 1);
    try {
      ::new (static_cast<void*>(p)) accept_op(std::forward<H>(h), ex);
    } catch (...) {
      std::allocator_traits<alloc_t>::deallocate(a, p, 1);
      throw;
    }
    return p;
  }

private:
  static void do_complete(op_base* base, const error_code& ec, std::size_t) {
    accept_op* self = static_cast<accept_op*>(base);
    if (self->slot_.is_connected()) self->slot_.clear();
    auto alloc = op_allocator(self->handler_);
    using alloc_t = typename std::allocator_traits<decltype(alloc)>::template rebind_alloc<accept_op>;
    alloc_t a(alloc);
    Handler handler(std::move(self->handler_));
    IoExecutor io_ex(self->io_ex_);
    std::unique_ptr<socket_state> owned(std::move(self->owned));
    auto io_work(std::move(self->io_work_));
    auto handler_work(std::move(self->handler_work_));
    self->~accept_op();
    std::allocator_traits<alloc_t>::deallocate(a, self, 1);
    if constexpr (YieldsSocket) {
      net::post(io_ex, net::append(std::move(handler), ec, basic_socket<IoExecutor>(io_ex, std::move(owned))));
    } else {
      net::post(io_ex, net::append(std::move(handler), ec));
    }
  }

  Handler handler_;
  IoExecutor io_ex_;
  net::executor_work_guard<IoExecutor> io_work_;
  net::executor_work_guard<handler_executor> handler_work_;
};

}  // namespace synack::asio::detail
