// synack::asio::basic_acceptor: a listening TCP port on synack's stack, shaped like
// boost::asio::ip::tcp::acceptor. Accepted connections are synack::asio sockets that start
// connected.
//
// Address and port: an acceptor listens on the stack's local address (engine::local_address())
// and on a port of the stack's ports (engine::options::ports: the packet filter and the RST guard
// cover only those). Bind to the unspecified address or to that address; port 0 takes the first
// port of the range no other acceptor of the stack holds. Outside the range: error::errc::
// port_outside_range; another address: EADDRNOTAVAIL (system category, as bind(2)); a port held
// by another acceptor: address_in_use.
//
// Setting a stack up as a server: the engine resolves its interface and source address from a
// route hint, and refuses a hint that is one of our own addresses. A server stack therefore
// names them itself and gives the subnet's broadcast as the hint (as `synack serve` does):
//
//   engine::options o;
//   o.interface = "veth0";                         // the interface that owns the address
//   o.source = wire::ipv4_addr::from_octets(10, 200, 0, 1);
//   o.ports = link::port_range{8080, 8080};        // the listening port (also outgoing ports)
//   synack::asio::stack s(ctx, o, net::ip::make_address_v4("10.200.0.255"));
//   synack::asio::acceptor a(s, {net::ip::tcp::v4(), 8080});  // open + bind + listen
//
// A client stack (route hint = a remote address, default ports) can listen too, on a port of its
// default range (above the kernel's ephemeral ports).
//
// Asynchronous accepts:
// - take any completion token; never run the handler inside the initiating call;
// - hold work on the acceptor's executor and the handler's associated executor until they
//   complete, and allocate with the handler's associated allocator;
// - are served FIFO, each by the oldest connection of the engine's accept queue (connections that
//   completed the handshake before an accept was pending wait there, up to the backlog);
// - support per-operation cancellation through the handler's associated cancellation slot
//   (terminal, partial, total: nothing is taken from the accept queue by a pending accept), which
//   completes the operation with operation_aborted; so do cancel() and close().
//
// Thread safety: as the socket (the stack's one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

#include "synack/asio/detail/accept_op.hpp"
#include "synack/asio/detail/acceptor_state.hpp"
#include "synack/asio/error.hpp"
#include "synack/asio/socket.hpp"
#include "synack/asio/stack.hpp"

namespace synack::asio {

namespace detail {
// async_accept(socket&) and async_accept(token) apart.
template <class T>
struct is_socket : std::false_type {};
template <class Executor1>
struct is_socket<basic_socket<Executor1>> : std::true_type {};
}  // namespace detail

template <class Executor = boost::asio::any_io_executor>
class basic_acceptor : public boost::asio::socket_base {
public:
  using executor_type = Executor;
  template <class Executor1>
  struct rebind_executor {
    using other = basic_acceptor<Executor1>;
  };
  using protocol_type = boost::asio::ip::tcp;
  using endpoint_type = boost::asio::ip::tcp::endpoint;
  // What async_accept() yields.
  using socket_type = basic_socket<Executor>;

  // A closed acceptor on `s`; its executor is the stack's io_context executor, or `ex`.
  explicit basic_acceptor(stack& s) : basic_acceptor(s, executor_type(s.get_executor())) {}
  basic_acceptor(stack& s, const executor_type& ex)
      : ex_(ex), state_(std::make_unique<detail::acceptor_state>(s.impl())) {}
  // Open, bind to `ep` and listen (as ip::tcp::acceptor(ctx, ep) does). Throws system_error.
  basic_acceptor(stack& s, const endpoint_type& ep, int backlog = max_listen_connections)
      : basic_acceptor(s) {
    open(ep.protocol());
    bind(ep);
    listen(backlog);
  }

  basic_acceptor(basic_acceptor&&) noexcept = default;
  basic_acceptor& operator=(basic_acceptor&&) noexcept = default;  // closes what this one had
  ~basic_acceptor() = default;  // close()

  executor_type get_executor() noexcept { return ex_; }

  // --- open / bind / listen / close ------------------------------------------------------------
  // IPv4 or IPv6 (the stack listens on its addresses of both families). Errors: already_open;
  // error::errc::stack_stopped.
  void open(const protocol_type& p = protocol_type::v4()) { throw_if(open(p, ec_tmp())); }
  boost::system::error_code open(const protocol_type& /*v4() or v6()*/, boost::system::error_code& ec) {
    state_->open(ec);
    return ec;
  }
  bool is_open() const noexcept { return state_ && state_->is_open(); }

  // Errors: bad_descriptor, invalid_argument (already bound), EADDRNOTAVAIL (not the
  // stack's address), address_in_use, error::errc::port_outside_range.
  void bind(const endpoint_type& ep) { throw_if(bind(ep, ec_tmp())); }
  boost::system::error_code bind(const endpoint_type& ep, boost::system::error_code& ec) {
    state_->bind(ep, ec);
    return ec;
  }

  // Start listening: SYNs to the port make connections, which wait in the accept queue (at most
  // `backlog`; socket_base::max_listen_connections means the engine's default of 128) until
  // accepted. An unbound acceptor binds to port 0 first. Calling it again changes the backlog.
  // Errors: bad_descriptor, and bind()'s.
  void listen(int backlog = max_listen_connections) { throw_if(listen(backlog, ec_tmp())); }
  boost::system::error_code listen(int backlog, boost::system::error_code& ec) {
    engine::listen_options lo;
    if (backlog > 0 && backlog != max_listen_connections) lo.backlog = static_cast<std::size_t>(backlog);
    return listen(lo, ec);
  }
  // The engine's own settings: backlog, half-open queue, SYN cookies.
  boost::system::error_code listen(const engine::listen_options& lo, boost::system::error_code& ec) {
    state_->listen(lo, ec);
    return ec;
  }

  // Stops listening (half-open and not yet accepted connections are reset, later SYNs get a
  // RST) and completes pending accepts with operation_aborted.
  void close() { throw_if(close(ec_tmp())); }
  boost::system::error_code close(boost::system::error_code& ec) {
    state_->close(ec);
    return ec;
  }

  // Completes every pending accept with operation_aborted; the acceptor keeps listening.
  // Errors: bad_descriptor.
  void cancel() { throw_if(cancel(ec_tmp())); }
  boost::system::error_code cancel(boost::system::error_code& ec) {
    state_->cancel(ec);
    return ec;
  }

  // The stack's address and the bound port (0.0.0.0:0 if open and unbound).
  // Errors: bad_descriptor.
  endpoint_type local_endpoint() const {
    boost::system::error_code ec;
    auto ep = state_->local_endpoint(ec);
    throw_if(ec);
    return ep;
  }
  endpoint_type local_endpoint(boost::system::error_code& ec) const { return state_->local_endpoint(ec); }

  // The engine's counters for this listener (null unless listening).
  const engine::listener_stats* statistics() const { return state_->statistics(); }

  // --- asynchronous operations -----------------------------------------------------------------
  // Accepts into `peer`, which must be closed and stay alive until the completion; it is open
  // and connected on success.
  // Completion: void(error_code). Errors: already_open (`peer` is open), bad_descriptor (the
  // acceptor is closed), invalid_argument (not listening), error::errc::stack_stopped,
  // operation_aborted (cancel/close/cancellation slot/the stack stopped).
  template <class Executor1, class AcceptToken = boost::asio::default_completion_token_t<executor_type>>
  auto async_accept(basic_socket<Executor1>& peer, AcceptToken&& token = AcceptToken()) {
    return boost::asio::async_initiate<AcceptToken, void(boost::system::error_code)>(initiate_accept(this), token, peer.state_.get());
  }

  // Accepts a new socket (with this acceptor's executor).
  // Completion: void(error_code, socket_type); on error the socket is closed. Errors: as above
  // (no already_open).
  template <class MoveAcceptToken = boost::asio::default_completion_token_t<executor_type>>
    requires(!detail::is_socket<std::decay_t<MoveAcceptToken>>::value)
  auto async_accept(MoveAcceptToken&& token = MoveAcceptToken()) {
    return boost::asio::async_initiate<MoveAcceptToken, void(boost::system::error_code, socket_type)>(initiate_move_accept(this), token);
  }

private:
  static boost::system::error_code& ec_tmp() {
    thread_local boost::system::error_code ec;
    ec = {};
    return ec;
  }
  static void throw_if(const boost::system::error_code& ec) {
    if (ec) boost::throw_exception(boost::system::system_error(ec));
  }

  template <class Op, class Handler>
  Op* make_op(Handler&& handler) {
    Op* op = Op::create(std::forward<Handler>(handler), ex_);
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler());
    if (slot.is_connected()) {
      op->slot_ = slot;
      slot.template emplace<detail::accept_cancel_handler>(detail::accept_cancel_handler{state_.get(), op});
    }
    return op;
  }

  class initiate_accept {
  public:
    using executor_type = Executor;
    explicit initiate_accept(basic_acceptor* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }
    template <class Handler>
    void operator()(Handler&& handler, detail::socket_state* peer) const {
      using op_t = detail::accept_op<std::decay_t<Handler>, Executor, false>;
      op_t* op = self_->template make_op<op_t>(std::forward<Handler>(handler));
      op->target = peer;
      self_->state_->start_accept(op);
    }
  private:
    basic_acceptor* self_;
  };

  class initiate_move_accept {
  public:
    using executor_type = Executor;
    explicit initiate_move_accept(basic_acceptor* self) noexcept : self_(self) {}
    executor_type get_executor() const noexcept { return self_->get_executor(); }
    template <class Handler>
    void operator()(Handler&& handler) const {
      using op_t = detail::accept_op<std::decay_t<Handler>, Executor, true>;
      op_t* op = self_->template make_op<op_t>(std::forward<Handler>(handler));
      op->owned = self_->state_->new_socket_state();
      op->target = op->owned.get();
      self_->state_->start_accept(op);
    }
  private:
    basic_acceptor* self_;
  };

  Executor ex_;
  std::unique_ptr<detail::acceptor_state> state_;
};

using acceptor = basic_acceptor<>;

}  // namespace synack::asio
