// The acceptor's state machine: binding a port of the stack's range, the engine's listener, and
// pending accepts served FIFO from the engine's accept queue.
#include <cerrno>
#include <stdexcept>

#include <boost/asio/error.hpp>

#include "synack/asio/address.hpp"
#include "synack/asio/detail/acceptor_state.hpp"
#include "synack/asio/detail/socket_state.hpp"
#include "synack/asio/detail/stack_impl.hpp"
#include "synack/asio/error.hpp"

namespace synack::asio::detail {

accept_op_base::~accept_op_base() = default;

acceptor_state::acceptor_state(stack_impl& stack) : stack_(&stack) { stack.add(*this); }

acceptor_state::~acceptor_state() {
  error_code ignored;
  close(ignored);
  if (stack_) stack_->remove(*this);
}

void acceptor_state::open(error_code& ec) {
  if (open_) {
    ec = net::error::already_open;
    return;
  }
  if (!stack_ || stack_->stopped()) {
    ec = error::errc::stack_stopped;
    return;
  }
  open_ = true;
  ec = {};
}

void acceptor_state::bind(const net::ip::tcp::endpoint& ep, error_code& ec) {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return;
  }
  if (!stack_ || stack_->stopped()) {
    ec = error::errc::stack_stopped;
    return;
  }
  if (port_) {
    ec = net::error::invalid_argument;  // bind(2) on a bound socket: EINVAL
    return;
  }
  const engine::engine& eng = stack_->engine();
  // The engine listens on a port for all its addresses (IPv4 and IPv6, like a Linux AF_INET6
  // socket bound to :: without IPV6_V6ONLY); a specific address must be one of them.
  const wire::ip_addr addr = to_wire(ep.address());
  if (!addr.is_unspecified() && eng.local_address(addr.family()) != addr) {
    ec = error_code(EADDRNOTAVAIL, net::error::get_system_category());
    return;
  }
  bound_v6_ = ep.address().is_v6();
  const link::port_range range = eng.ports();
  std::uint16_t port = ep.port();
  if (port == 0) {
    for (std::uint32_t p = range.lo; p <= range.hi; ++p)
      if (!stack_->listener(static_cast<std::uint16_t>(p))) {
        port = static_cast<std::uint16_t>(p);
        break;
      }
    if (port == 0) {
      ec = net::error::address_in_use;
      return;
    }
  } else if (!range.contains(port)) {
    ec = error::errc::port_outside_range;
    return;
  } else if (stack_->listener(port)) {
    ec = net::error::address_in_use;
    return;
  }
  stack_->set_listener(port, *this);
  port_ = port;
}

void acceptor_state::listen(const engine::listen_options& lo, error_code& ec) {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return;
  }
  if (!stack_ || stack_->stopped()) {
    ec = error::errc::stack_stopped;
    return;
  }
  if (!port_) {
    bind({}, ec);
    if (ec) return;
  }
  try {
    stack_->engine().listen(*port_, lo);
  } catch (const std::invalid_argument&) {
    ec = error::errc::port_outside_range;
    return;
  }
  listening_ = true;
  // Connections may already wait (listen() again with a larger backlog).
  stack_impl::call_guard g(*stack_);
  serve();
}

void acceptor_state::abort_all(const error_code& ec) {
  while (op_base* op = ops_.pop()) op->complete(ec, 0);
}

void acceptor_state::close(error_code& ec) {
  ec = {};
  if (!open_) return;
  abort_all(net::error::operation_aborted);
  if (stack_ && port_) {
    if (listening_ && !stack_->stopped()) {
      stack_impl::call_guard g(*stack_);
      stack_->engine().stop_listening(*port_);  // half-open and queued children are reset
    }
    if (stack_->listener(*port_) == this) stack_->clear_listener(*port_);
  }
  open_ = false;
  listening_ = false;
  port_.reset();
}

void acceptor_state::cancel(error_code& ec) {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return;
  }
  abort_all(net::error::operation_aborted);
}

net::ip::tcp::endpoint acceptor_state::local_endpoint(error_code& ec) const {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return {};
  }
  if (!port_) return {};
  if (!stack_) return {};
  const auto a = stack_->engine().local_address(bound_v6_ ? wire::ip_family::v6 : wire::ip_family::v4);
  if (!a) return {bound_v6_ ? net::ip::address{net::ip::address_v6{}} : net::ip::address{net::ip::address_v4{}}, *port_};
  if (a->is_v4()) return {net::ip::address_v4(a->v4().value), *port_};
  return {net::ip::address_v6(a->v6().octets), *port_};
}

const engine::listener_stats* acceptor_state::statistics() const {
  if (!listening_ || !stack_ || !port_) return nullptr;
  return stack_->engine().listener_statistics(*port_);
}

std::unique_ptr<socket_state> acceptor_state::new_socket_state() {
  return stack_ ? std::make_unique<socket_state>(*stack_) : std::make_unique<socket_state>();
}

void acceptor_state::start_accept(accept_op_base* op) {
  if (!open_) return op->complete(net::error::bad_descriptor, 0);
  if (!stack_ || stack_->stopped()) return op->complete(error::errc::stack_stopped, 0);
  if (!listening_) return op->complete(net::error::invalid_argument, 0);  // accept(2): EINVAL
  if (op->target->is_open()) return op->complete(net::error::already_open, 0);
  if (op->target->stack() != stack_) return op->complete(net::error::invalid_argument, 0);
  stack_impl::call_guard g(*stack_);
  op->target->accept_pending = true;  // its destructor aborts this accept (target_gone)
  ops_.push(op);
  serve();  // completions are posted: never inside the initiating call
}

void acceptor_state::target_gone(const socket_state* s) {
  for (op_base* p = ops_.front(); p;) {
    op_base* next = p->next_;
    if (static_cast<accept_op_base*>(p)->target == s) {
      ops_.remove(p);
      p->complete(net::error::operation_aborted, 0);
    }
    p = next;
  }
}

void acceptor_state::serve() {
  if (!open_ || !listening_ || !stack_ || stack_->stopped()) return;
  while (op_base* front = ops_.front()) {
    auto* op = static_cast<accept_op_base*>(front);
    if (op->target->is_open()) {  // opened by its owner while the accept was pending
      ops_.pop();
      op->complete(net::error::already_open, 0);
      continue;
    }
    auto t = stack_->engine().accept(*port_);
    if (!t) break;
    ops_.pop();
    op->target->adopt(*t);
    op->complete({}, 0);
  }
}

void acceptor_state::acceptable() { serve(); }

void acceptor_state::cancel_op(op_base* op, net::cancellation_type type) {
  if (type == net::cancellation_type::none) return;
  if (!ops_.remove(op)) return;
  op->complete(net::error::operation_aborted, 0);
}

void acceptor_state::stack_stopped() {
  abort_all(net::error::operation_aborted);
  listening_ = false;
}

void acceptor_state::forget_stack() {
  stack_ = nullptr;
  listening_ = false;
}

}  // namespace synack::asio::detail
