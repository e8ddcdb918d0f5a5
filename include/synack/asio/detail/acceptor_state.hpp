// The state behind one synack::asio acceptor: its port, its listener in the engine and its
// pending accepts (FIFO). Not a template: the acceptor template allocates typed operations
// (accept_op.hpp) and hands them here. Lives on the heap so an acceptor can move while operations
// (and their cancellation handlers) point at it.
//
// An accept completes when the engine's accept queue for the port has a connection: the stack
// forwards engine::on_acceptable, and a new accept looks at the queue at once. The connection is
// taken over by the operation's socket_state (socket_state::adopt), which then starts connected.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include "synack/asio/detail/op.hpp"
#include "synack/engine/engine.hpp"

namespace synack::asio::detail {

class stack_impl;
class socket_state;

class accept_op_base : public op_base {
public:
  // The socket that receives the connection: the caller's (async_accept(socket&)), or `owned`
  // (async_accept() yielding a socket).
  socket_state* target = nullptr;
  std::unique_ptr<socket_state> owned;

protected:
  using op_base::op_base;
  ~accept_op_base();
};

class acceptor_state {
public:
  explicit acceptor_state(stack_impl& stack);
  ~acceptor_state();
  acceptor_state(const acceptor_state&) = delete;
  acceptor_state& operator=(const acceptor_state&) = delete;

  bool is_open() const noexcept { return open_; }
  void open(error_code& ec);
  // Address: unspecified or the stack's local address; port: in the stack's ports, 0 for a free
  // one of them.
  void bind(const net::ip::tcp::endpoint& ep, error_code& ec);
  void listen(const engine::listen_options& lo, error_code& ec);
  void close(error_code& ec);
  void cancel(error_code& ec);
  net::ip::tcp::endpoint local_endpoint(error_code& ec) const;
  bool listening() const noexcept { return listening_; }
  std::optional<std::uint16_t> port() const noexcept { return port_; }
  // The engine's counters for the listener (null unless listening).
  const engine::listener_stats* statistics() const;

  // A fresh socket state on this acceptor's stack (for async_accept() yielding a socket).
  std::unique_ptr<socket_state> new_socket_state();

  void start_accept(accept_op_base* op);
  void cancel_op(op_base* op, net::cancellation_type type);
  // `s` is being destroyed: pending accepts into it complete with operation_aborted.
  void target_gone(const socket_state* s);

  // --- from the stack -------------------------------------------------------------------------
  void acceptable();     // the engine's accept queue for our port grew
  void stack_stopped();  // pending accepts end with operation_aborted, later ones fail
  void forget_stack();   // the stack is being destroyed

private:
  void serve();  // hand queued connections to pending accepts, FIFO
  void abort_all(const error_code& ec);

  stack_impl* stack_;
  bool open_ = false;
  bool listening_ = false;
  std::optional<std::uint16_t> port_;
  bool bound_v6_ = false;  // local_endpoint() reports the address of the family bound
  op_queue ops_;
};

// The cancellation-slot handler of one pending accept.
struct accept_cancel_handler {
  acceptor_state* state;
  op_base* op;
  void operator()(net::cancellation_type type) const { state->cancel_op(op, type); }
};

}  // namespace synack::asio::detail
