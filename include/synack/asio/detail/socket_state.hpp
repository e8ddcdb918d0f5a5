// The state behind one synack::asio socket: its connection in the engine, its pending operations
// and what it has learnt from the TCP core's events. Not a template: the socket template only
// allocates typed operations and hands them here. Lives on the heap so a socket can move while
// operations (and their cancellation handlers) point at it.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include "synack/asio/detail/op.hpp"
#include "synack/asio/socket_option.hpp"
#include "synack/tcp/connection.hpp"
#include "synack/wire/address.hpp"

namespace synack::asio::detail {

class stack_impl;

class socket_state {
public:
  explicit socket_state(stack_impl& stack);
  socket_state() noexcept : stack_(nullptr) {}  // on no stack (its stack is gone): every call fails
  ~socket_state();
  socket_state(const socket_state&) = delete;
  socket_state& operator=(const socket_state&) = delete;

  // --- synchronous operations (error_code overloads; the socket adds the throwing ones) -----
  bool is_open() const noexcept { return open_; }
  const stack_impl* stack() const noexcept { return stack_; }
  void open(error_code& ec);
  void close(error_code& ec);
  void cancel(error_code& ec);
  void shutdown(net::socket_base::shutdown_type what, error_code& ec);
  std::size_t available(error_code& ec) const;
  net::ip::tcp::endpoint local_endpoint(error_code& ec) const;
  net::ip::tcp::endpoint remote_endpoint(error_code& ec) const;
  bool connected() const noexcept { return phase_ == phase::connected; }
  socket_options& options() noexcept { return options_; }
  void options_changed();  // applies the live-changeable options to an open connection
  // The engine's four-tuple while a connection exists.
  const std::optional<wire::four_tuple>& tuple() const noexcept { return tuple_; }

  // --- asynchronous operations: the operation completes (posted) now or later ---------------
  void start_connect(connect_op_base* op, const net::ip::tcp::endpoint& peer);
  void start_read(read_op_base* op);
  void start_write(write_op_base* op);
  // From an operation's cancellation slot.
  void cancel_op(op_base* op, net::cancellation_type type);

  // Takes over an established connection of the engine's accept queue (engine::accept): the
  // socket opens connected. The socket must be closed.
  void adopt(const wire::four_tuple& t);

  // --- from the stack -------------------------------------------------------------------------
  void on_event(const tcp::event& ev);
  void service();        // complete whatever pending operations can complete now
  void stack_stopped();  // the stack stopped: pending operations end, later ones fail
  void forget_stack();   // the stack is being destroyed
  // Who answered with the ICMP error the connection failed with, if it did (tcp::event::icmp).
  const std::optional<tcp::icmp_origin>& error_icmp() const { return error_icmp_; }
  bool service_queued = false;
  bool accept_pending = false;  // an accept into this socket was started (checked at destruction)

private:
  enum class phase { idle, connecting, connected, finished };

  using result = std::pair<error_code, std::size_t>;
  std::optional<result> read_result(read_op_base& op);
  std::optional<result> write_result(write_op_base& op);
  std::size_t copy_out(const buffer_list<net::mutable_buffer>& bufs);
  void rescue_received(tcp::connection& c);
  void connection_ended();
  void abort_all(const error_code& ec);
  void detach_connection(bool abortive);
  error_code take_error();

  stack_impl* stack_;
  bool open_ = false;
  phase phase_ = phase::idle;
  std::optional<wire::four_tuple> tuple_;
  bool conn_alive_ = false;   // the engine still holds the connection
  bool peer_fin_ = false;     // eof after the buffered data
  bool shut_send_ = false;
  bool shut_recv_ = false;
  error_code error_;          // the connection's failure, not yet reported to the user
  bool error_reported_ = false;
  std::optional<tcp::icmp_origin> error_icmp_;
  std::vector<std::byte> rescued_;  // data received before the engine dropped the connection
  std::size_t rescued_off_ = 0;
  socket_options options_;
  op_queue connect_ops_, read_ops_, write_ops_;
};

// The cancellation-slot handler of one pending operation.
struct cancel_handler {
  socket_state* state;
  op_base* op;
  void operator()(net::cancellation_type type) const { state->cancel_op(op, type); }
};

}  // namespace synack::asio::detail
