// synack::asio::basic_socket: a TCP socket on synack's stack that models AsyncReadStream and
// AsyncWriteStream, shaped like boost::asio::ip::tcp::socket.
//
// Every asynchronous operation:
// - takes any completion token (callbacks, use_future, use_awaitable, deferred, as_tuple, ...);
// - never runs its handler inside the initiating call: a result known at initiation (data already
//   received, an error, a zero-length buffer) is posted;
// - holds work on the socket's executor and on the handler's associated executor until it
//   completes, and allocates with the handler's associated allocator (freed before the call);
// - supports per-operation cancellation through the handler's associated cancellation slot
//   (terminal, partial and total: nothing has been transferred by a pending operation), which
//   completes it with operation_aborted.
// Errors are those a kernel-backed ip::tcp::socket reports (see each operation).
//
// Thread safety: distinct objects: safe from the stack's thread. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

#include "synack/asio/detail/op.hpp"
#include "synack/asio/detail/socket_state.hpp"
#include "synack/asio/error.hpp"
#include "synack/asio/socket_option.hpp"
#include "synack/asio/stack.hpp"

namespace synack::asio {

template <class Executor>
class basic_acceptor;

template <class Executor = boost::asio::any_io_executor>
class basic_socket : public boost::asio::socket_base {
public:
  using executor_type = Executor;
  // For as_default_on_t and friends: the same socket with another executor type.
  template <class Executor1>
  struct rebind_executor {
    using other = basic_socket<Executor1>;
  };
  using protocol_type = boost::asio::ip::tcp;
  using endpoint_type = boost::asio::ip::tcp::endpoint;
  // ssl::stream<basic_socket&> and beast::get_lowest_layer() stop here.
  using lowest_layer_type = basic_socket;

  // A closed socket on `s`; its executor is the stack's io_context executor, or `ex`.
  explicit basic_socket(stack& s) : basic_socket(s, executor_type(s.get_executor())) {}
  basic_socket(stack& s, const executor_type& ex)
      : ex_(ex), state_(std::make_unique<detail::socket_state>(s.impl())) {}

  // A socket over an existing state: what basic_acceptor::async_accept() yields.
  basic_socket(const executor_type& ex, std::unique_ptr<detail::socket_state> state) noexcept
      : ex_(ex), state_(std::move(state)) {}

  basic_socket(basic_socket&&) noexcept = default;
  basic_socket& operator=(basic_socket&&) noexcept = default;  // closes what this one had
  // From a socket of another executor type (what as_default_on() does).
  template <class Executor1>
    requires std::is_convertible_v<const Executor1&, const Executor&>
  basic_socket(basic_socket<Executor1>&& other) noexcept
      : ex_(other.ex_), state_(std::move(other.state_)) {}
  ~basic_socket() = default;  // close(): graceful FIN, or RST with unread data / linger 0

  executor_type get_executor() noexcept { return ex_; }
  lowest_layer_type& lowest_layer() noexcept { return *this; }
  const lowest_layer_type& lowest_layer() const noexcept { return *this; }

  // --- open / close ----------------------------------------------------------------------------
  // Open without connecting (options can then be set). async_connect() opens a closed socket.
  // Errors: already_open; error::errc::stack_stopped.
  void open(const protocol_type& p = protocol_type::v4()) { throw_if(open(p, ec_tmp())); }
  boost::system::error_code open(const protocol_type& /*v4() or v6()*/, boost::system::error_code& ec) {
    state_->open(ec);
    return ec;
  }
  bool is_open() const noexcept { return state_ && state_->is_open(); }

  // Graceful close (FIN after the queued data; the stack finishes the close on its own), or RST
  // when received data is unread or linger is enabled with a zero timeout (as Linux). A non-zero
  // linger timeout does not block. Pending operations complete with operation_aborted.
  void close() { throw_if(close(ec_tmp())); }
  boost::system::error_code close(boost::system::error_code& ec) {
    state_->close(ec);
    return ec;
  }

  // Completes every pending operation with operation_aborted. A pending connect is abandoned
  // (its SYN state dropped, RST if the peer had answered); close the socket afterwards.
  // Errors: bad_descriptor (not open).
  void cancel() { throw_if(cancel(ec_tmp())); }
  boost::system::error_code cancel(boost::system::error_code& ec) {
    state_->cancel(ec);
    return ec;
  }

  // shutdown_send: our FIN after the queued data (half-close; reading goes on); later writes and
  // pending ones fail with broken_pipe. shutdown_receive: reads return what is buffered, then eof.
  // Errors: bad_descriptor, not_connected.
  void shutdown(shutdown_type what) { throw_if(shutdown(what, ec_tmp())); }
  boost::system::error_code shutdown(shutdown_type what, boost::system::error_code& ec) {
    state_->shutdown(what, ec);
    return ec;
  }

  // --- inspection ------------------------------------------------------------------------------
  endpoint_type local_endpoint() const { return value_or_throw(&detail::socket_state::local_endpoint); }
  endpoint_type local_endpoint(boost::system::error_code& ec) const { return state_->local_endpoint(ec); }
  // Errors: bad_descriptor, not_connected.
  endpoint_type remote_endpoint() const { return value_or_throw(&detail::socket_state::remote_endpoint); }
  endpoint_type remote_endpoint(boost::system::error_code& ec) const { return state_->remote_endpoint(ec); }
  // The ICMP error (who answered, type, code) the connection failed with, if it failed with one
  // (a refused connect: "ICMP port unreachable from 10.88.2.2"); empty for an RST or a timeout.
  std::optional<tcp::icmp_origin> error_icmp() const {
    return state_ ? state_->error_icmp() : std::optional<tcp::icmp_origin>{};
  }
  // Bytes that can be read without waiting.
  std::size_t available() const { return value_or_throw(&detail::socket_state::available); }
  std::size_t available(boost::system::error_code& ec) const { return state_->available(ec); }

  // --- options ---------------------------------------------------------------------------------
  // Asio's ip::tcp::no_delay, keep_alive, linger, receive_buffer_size, send_buffer_size and
  // synack::asio::tcp_option::* (socket_option.hpp says what the core honours today). Buffer
  // sizes and the MSS must be set before async_connect (error::errc::option_after_connect).
  template <class Option>
  void set_option(const Option& o) {
    throw_if(set_option(o, ec_tmp()));
  }
  template <class Option>
  boost::system::error_code set_option(const Option& o, boost::system::error_code& ec) {
    if (!is_open()) return ec = boost::asio::error::bad_descriptor;
    ec = detail::option_traits<Option>::set(state_->options(), o, state_->tuple().has_value());
    if (!ec) state_->options_changed();
    return ec;
  }
  template <class Option>
  void get_option(Option& o) const {
    throw_if(get_option(o, ec_tmp()));
  }
  template <class Option>
  boost::system::error_code get_option(Option& o, boost::system::error_code& ec) const {
    if (!is_open()) return ec = boost::asio::error::bad_descriptor;
    o = detail::option_traits<Option>::get(state_->options());
    return ec = {};
  }

  // --- asynchronous operations -----------------------------------------------------------------
  // Active open to `peer` (IPv4 or IPv6; a v4-mapped IPv6 address is IPv4, as on Linux). Opens the
  // socket if closed. No source address of the peer's family: network_unreachable.
  // Completion: void(error_code). Errors: connection_refused (RST to our SYN, or ICMP port
  // unreachable), timed_out (SYN retries exhausted), host_unreachable (no ARP answer, or ICMP
  // host unreachable / prohibited / time exceeded), network_unreachable (no route, or ICMP net
  // unreachable / prohibited), the other ICMP errors as error.hpp maps them,
  // address_not_available (no free local port), already_connected, already_started,
  // address_family_not_supported, operation_aborted (cancel/close/cancellation slot).
  // Per-operation cancellation: terminal, partial, total (the attempt is abandoned).
  template <class ConnectToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_connect(const endpoint_type& peer, ConnectToken&& token = ConnectToken()) {
    return boost::asio::async_initiate<ConnectToken, void(boost::system::error_code)>(initiate_connect(this), token, peer);
  }

  // Reads at least one byte, or fails.
  // Completion: void(error_code, std::size_t). Errors: eof (the peer's FIN, after every byte it
  // sent; also after shutdown_receive, and after an error was reported once), connection_reset
  // (the peer's RST), timed_out (retransmissions given up), not_connected, bad_descriptor,
  // operation_aborted. A zero-length buffer sequence completes at once with 0.
  // Per-operation cancellation: terminal, partial, total (nothing was read).
  template <class MutableBufferSequence,
            class ReadToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token = ReadToken()) {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(initiate_read_some(this), token, buffers);
  }

  // Queues at least one byte for sending (completes once the send buffer took it), or fails.
  // Completion: void(error_code, std::size_t). Errors: broken_pipe (after shutdown_send, after a
  // reset or failure was already reported, after the connection ended), connection_reset /
  // timed_out (the first write after the connection failed), not_connected, bad_descriptor,
  // operation_aborted. A zero-length buffer sequence completes at once with 0.
  // Per-operation cancellation: terminal, partial, total (nothing was queued).
  template <class ConstBufferSequence,
            class WriteToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token = WriteToken()) {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(initiate_write_some(this), token, buffers);
  }

  // The engine's four-tuple while connected (for tools: traces, statistics).
  const std::optional<wire::four_tuple>& tuple() const noexcept { return state_->tuple(); }

private:
  template <class>
  friend class basic_socket;
  template <class>
  friend class basic_acceptor;

  static boost::system::error_code& ec_tmp() {
    thread_local boost::system::error_code ec;
    ec = {};
    return ec;
  }
  static void throw_if(const boost::system::error_code& ec) {
    if (ec) boost::throw_exception(boost::system::system_error(ec));
  }
  template <class F>
  auto value_or_throw(F f) const {
    boost::system::error_code ec;
    auto v = ((*state_).*f)(ec);
    throw_if(ec);
    return v;
  }

  template <class Op, class Handler>
  Op* make_op(Handler&& handler, detail::op_kind kind) {
    Op* op = Op::create(std::forward<Handler>(handler), ex_, kind);
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler());
    if (slot.is_connected()) {
      op->slot_ = slot;
      slot.template emplace<detail::cancel_handler>(detail::cancel_handler{state_.get(), op});
    }
    return op;
  }

  class initiate_connect {
  public:
    using executor_type = Executor;
    explicit initiate_connect(basic_socket* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }
    template <class Handler>
    void operator()(Handler&& handler, const endpoint_type& peer) const {
      using op_t = detail::io_op<detail::connect_op_base, std::decay_t<Handler>, Executor>;
      op_t* op = self_->template make_op<op_t>(std::forward<Handler>(handler), detail::op_kind::connect);
      self_->state_->start_connect(op, peer);
    }
  private:
    basic_socket* self_;
  };

  class initiate_read_some {
  public:
    using executor_type = Executor;
    explicit initiate_read_some(basic_socket* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }
    template <class Handler, class MutableBufferSequence>
    void operator()(Handler&& handler, const MutableBufferSequence& buffers) const {
      using op_t = detail::io_op<detail::read_op_base, std::decay_t<Handler>, Executor>;
      op_t* op = self_->template make_op<op_t>(std::forward<Handler>(handler), detail::op_kind::read);
      op->buffers = detail::buffer_list<boost::asio::mutable_buffer>::from(buffers);
      op->empty_request = op->buffers.count == 0;
      self_->state_->start_read(op);
    }
  private:
    basic_socket* self_;
  };

  class initiate_write_some {
  public:
    using executor_type = Executor;
    explicit initiate_write_some(basic_socket* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }
    template <class Handler, class ConstBufferSequence>
    void operator()(Handler&& handler, const ConstBufferSequence& buffers) const {
      using op_t = detail::io_op<detail::write_op_base, std::decay_t<Handler>, Executor>;
      op_t* op = self_->template make_op<op_t>(std::forward<Handler>(handler), detail::op_kind::write);
      op->buffers = detail::buffer_list<boost::asio::const_buffer>::from(buffers);
      op->empty_request = op->buffers.count == 0;
      self_->state_->start_write(op);
    }
  private:
    basic_socket* self_;
  };

  Executor ex_;
  std::unique_ptr<detail::socket_state> state_;
};

using socket = basic_socket<>;

}  // namespace synack::asio
