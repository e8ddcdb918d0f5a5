// The machinery behind synack::asio::stack: one engine, its packet socket watched by a
// posix::stream_descriptor (async_wait(wait_read): the ring is drained on readiness), and one
// steady_timer for the engine's timer wheel (armed at engine::next_deadline()).
//
// Every entry point (a socket call, a readiness or timer wake-up) ends in after_call(): engine
// events have been recorded by the sockets they belong to; each such socket completes what it can
// (by posting); then the timer is re-armed if the engine's next deadline moved earlier.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "synack/engine/engine.hpp"

namespace synack::asio::detail {

class socket_state;
class acceptor_state;

class stack_impl : public std::enable_shared_from_this<stack_impl> {
public:
  stack_impl(boost::asio::io_context& ctx, const engine::options& opts, wire::ip_addr route_hint);
  ~stack_impl();
  stack_impl(const stack_impl&) = delete;
  stack_impl& operator=(const stack_impl&) = delete;

  void start();  // first wait (needs shared_from_this)
  void stop();
  bool stopped() const noexcept { return stopped_; }

  boost::asio::io_context& context() noexcept { return ctx_; }
  engine::engine& engine() noexcept { return engine_; }
  // The most payload the receive ring holds: one segment per slot.
  std::size_t ring_window(std::size_t mss) const noexcept { return ring_slots_ * mss; }

  // Sockets.
  void add(socket_state& s) { sockets_.insert(&s); }
  void remove(socket_state& s);
  // A four-tuple names one incarnation of a connection at a time: the engine ends a TIME_WAIT
  // incarnation when a new SYN reuses its tuple (its owner hears `closed` first), and connect()
  // may pick a tuple again once its old connection is gone. A socket therefore unbinds only the
  // tuple it still owns: a socket of an earlier incarnation never takes the events of a later one.
  void bind(const wire::four_tuple& t, socket_state& s) { by_tuple_[t] = &s; }
  void unbind(const wire::four_tuple& t, const socket_state& s) {
    if (auto it = by_tuple_.find(t); it != by_tuple_.end() && it->second == &s) by_tuple_.erase(it);
  }

  // Acceptors: every one (for stop and destruction), and the listening ones by port.
  void add(acceptor_state& a) { acceptors_.insert(&a); }
  void remove(acceptor_state& a);
  acceptor_state* listener(std::uint16_t port) const {
    auto it = listeners_.find(port);
    return it == listeners_.end() ? nullptr : it->second;
  }
  void set_listener(std::uint16_t port, acceptor_state& a) { listeners_[port] = &a; }
  void clear_listener(std::uint16_t port) { listeners_.erase(port); }
  // A socket state is being destroyed: pending accepts into it end with operation_aborted
  // (instead of adopting a connection into freed memory).
  void socket_gone(socket_state& s);

  // RAII for an entry point: after_call() when the outermost one ends.
  class call_guard {
  public:
    explicit call_guard(stack_impl& s) : s_(s) { ++s_.depth_; }
    ~call_guard() {
      if (--s_.depth_ == 0) s_.after_call();
    }
    call_guard(const call_guard&) = delete;
    call_guard& operator=(const call_guard&) = delete;
  private:
    stack_impl& s_;
  };

private:
  void on_engine_event(const wire::four_tuple& t, const tcp::event& ev);
  void after_call();
  void service_all();
  void arm_wait();
  void rearm_timer();
  void wake();

  boost::asio::io_context& ctx_;
  engine::engine engine_;
  boost::asio::posix::stream_descriptor ring_;
  boost::asio::steady_timer timer_;
  std::optional<std::chrono::steady_clock::time_point> timer_at_;  // armed expiry
  bool stopped_ = false;
  int depth_ = 0;
  std::size_t ring_slots_ = 128;
  std::unordered_set<socket_state*> sockets_;
  std::unordered_map<wire::four_tuple, socket_state*, wire::four_tuple_hash> by_tuple_;
  std::vector<socket_state*> to_service_;
  std::unordered_set<acceptor_state*> acceptors_;
  std::unordered_map<std::uint16_t, acceptor_state*> listeners_;
};

}  // namespace synack::asio::detail
