// synack::asio::stack: synack's TCP stack bound to an io_context and one interface.
//
// It owns an engine (packet socket, RST guard, connection table, timer wheel) and drives it from
// the io_context: the packet socket's fd is watched with posix::stream_descriptor::async_wait
// (wait_read) and the receive ring drained on readiness; one steady_timer is armed at the engine's
// next protocol deadline (its timer wheel). Sockets (synack::asio::socket) are created on it.
//
// Lifetime and run(): like a listening acceptor, a running stack always has a wait outstanding, so
// io_context::run() does not return while the stack runs: call stop() (or destroy the stack) when
// done. stop() ends every pending socket operation with operation_aborted; connections are no
// longer driven (destroying the stack removes the RST guard's firewall rule).
//
// Thread safety: the stack and its sockets must be used from the one thread that runs the
// io_context (as an io_context with concurrency hint 1). Sockets must not outlive their stack's
// io_context; a socket that outlives the stack itself fails with error::errc::stack_stopped.
//
// Throws link::setup_error from the constructor (permissions, unknown interface, no route).
#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include "synack/asio/address.hpp"
#include "synack/asio/detail/stack_impl.hpp"
#include "synack/engine/engine.hpp"

namespace synack::asio {

class stack {
public:
  using executor_type = boost::asio::io_context::executor_type;

  // `route_hint`: a destination whose route picks the interface and source address when
  // `opts.interface` / `opts.source` are not given; IPv4 or IPv6 (the stack then also takes the
  // interface's address of the other family, if it has one, and connects to either).
  stack(boost::asio::io_context& ctx, const engine::options& opts, const boost::asio::ip::address& route_hint = {})
      : impl_(std::make_shared<detail::stack_impl>(ctx, opts, to_wire(route_hint))) {
    impl_->start();
  }
  ~stack() = default;
  stack(const stack&) = delete;
  stack& operator=(const stack&) = delete;

  executor_type get_executor() noexcept { return impl_->context().get_executor(); }
  boost::asio::io_context& context() noexcept { return impl_->context(); }

  // Stop driving the engine so io_context::run() can return. Idempotent; not reversible.
  void stop() { impl_->stop(); }
  bool stopped() const noexcept { return impl_->stopped(); }

  // The engine underneath: interface, addresses, statistics, --trace observers.
  engine::engine& engine() noexcept { return impl_->engine(); }

  detail::stack_impl& impl() noexcept { return *impl_; }

private:
  std::shared_ptr<detail::stack_impl> impl_;
};

}  // namespace synack::asio
