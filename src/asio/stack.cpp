// The non-template half of the Asio front end: the error category, the stack's event loop glue
// and the per-socket state machine (error mapping, eof, half-close, cancellation).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "synack/asio/address.hpp"
#include "synack/asio/detail/acceptor_state.hpp"
#include "synack/asio/detail/socket_state.hpp"
#include "synack/asio/detail/stack_impl.hpp"
#include "synack/asio/error.hpp"
#include "synack/link/error.hpp"

namespace synack::asio {

namespace net = boost::asio;
using boost::system::error_code;

// --- error category ------------------------------------------------------------------------------

namespace {
class category final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "synack.asio"; }
  std::string message(int ev) const override {
    switch (static_cast<error::errc>(ev)) {
      case error::errc::stack_stopped: return "the synack stack was stopped";
      case error::errc::option_after_connect: return "this option must be set before connecting";
      case error::errc::option_not_supported: return "the TCP core does not support this setting";
      case error::errc::setup_failed: return "the link layer refused the operation";
      case error::errc::port_outside_range: return "the port is outside the stack's ports (engine::options::ports)";
    }
    return "unknown synack.asio error";
  }
};
}  // namespace

const boost::system::error_category& error::get_category() noexcept {
  static const category c;
  return c;
}

namespace detail {

namespace {
net::ip::tcp::endpoint to_endpoint(const wire::ip_addr& a, std::uint16_t port) {
  if (a.is_v4()) return {net::ip::address_v4(a.v4().value), port};
  return {net::ip::address_v6(a.v6().octets), port};
}
}  // namespace

// --- stack_impl ----------------------------------------------------------------------------------

stack_impl::stack_impl(net::io_context& ctx, const engine::options& opts, wire::ip_addr route_hint)
    : ctx_(ctx), engine_(opts, route_hint), ring_(ctx), timer_(ctx) {
  ring_slots_ = std::max<std::size_t>(opts.rx_ring_bytes / std::max<std::size_t>(opts.rx_frame_size, 2048), 8);
  // Non-owning: the engine's packet socket keeps its fd; release() before the descriptor dies.
  ring_.assign(engine_.fd());
  engine_.on_event([this](const wire::four_tuple& t, const tcp::event& ev) { on_engine_event(t, ev); });
  engine_.on_acceptable([this](std::uint16_t port) {
    if (acceptor_state* a = listener(port)) a->acceptable();
  });
}

stack_impl::~stack_impl() {
  stop();
  for (socket_state* s : sockets_) s->forget_stack();
  for (acceptor_state* a : acceptors_) a->forget_stack();
  // Pending waits were cancelled by stop(); their handlers hold only a weak_ptr. The fd is the
  // engine's: take it back from the descriptor before either is destroyed.
  ring_.release();
}

void stack_impl::start() {
  arm_wait();
  rearm_timer();
}

void stack_impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ignored;
  ring_.cancel(ignored);
  timer_.cancel();
  timer_at_.reset();
  // Sockets: pending operations end with operation_aborted, later ones fail with stack_stopped.
  std::vector<socket_state*> all(sockets_.begin(), sockets_.end());
  for (socket_state* s : all) s->stack_stopped();
  std::vector<acceptor_state*> accs(acceptors_.begin(), acceptors_.end());
  for (acceptor_state* a : accs) a->stack_stopped();
  listeners_.clear();
  to_service_.clear();
}

void stack_impl::remove(socket_state& s) {
  sockets_.erase(&s);
  to_service_.erase(std::remove(to_service_.begin(), to_service_.end(), &s), to_service_.end());
}

void stack_impl::socket_gone(socket_state& s) {
  if (!s.accept_pending) return;
  for (acceptor_state* a : acceptors_) a->target_gone(&s);
}

void stack_impl::remove(acceptor_state& a) {
  acceptors_.erase(&a);
  for (auto it = listeners_.begin(); it != listeners_.end();)
    it = it->second == &a ? listeners_.erase(it) : std::next(it);
}

void stack_impl::on_engine_event(const wire::four_tuple& t, const tcp::event& ev) {
  auto it = by_tuple_.find(t);
  // Unknown: closed by its socket (the engine finishes it alone), or a listener's child not yet
  // accepted (half-open or queued): whoever accepts it reads its state then.
  if (it == by_tuple_.end()) return;
  socket_state* s = it->second;
  s->on_event(ev);
  if (!s->service_queued) {
    s->service_queued = true;
    to_service_.push_back(s);
  }
}

void stack_impl::service_all() {
  // Servicing may receive (window updates) and so deliver further events: index, not iterator.
  for (std::size_t i = 0; i < to_service_.size(); ++i) {
    socket_state* s = to_service_[i];
    s->service_queued = false;
    s->service();
  }
  to_service_.clear();
}

void stack_impl::after_call() {
  if (stopped_) return;
  ++depth_;  // a socket serviced here must not recurse into after_call()
  // The engine delivers events only from dispatch(): what the calls of this entry point (and the
  // services below) queued is delivered here, until nothing is left.
  do {
    engine_.dispatch();
    service_all();
  } while (engine_.events_pending() && !stopped_);
  --depth_;
  rearm_timer();
}

void stack_impl::wake() {
  call_guard g(*this);
  engine_.process(engine::engine::now());
}

void stack_impl::arm_wait() {
  ring_.async_wait(net::posix::stream_descriptor::wait_read,
                   [weak = weak_from_this()](const error_code& ec) {
                     auto self = weak.lock();
                     if (!self || self->stopped_ || ec == net::error::operation_aborted) return;
                     self->wake();
                     if (!self->stopped_) self->arm_wait();
                   });
}

void stack_impl::rearm_timer() {
  if (stopped_) return;
  auto d = engine_.next_deadline();
  if (!d) return;  // an armed timer may stay: waking early is harmless
  std::chrono::steady_clock::time_point at{std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      d->time_since_epoch())};
  if (timer_at_ && *timer_at_ <= at) return;
  timer_at_ = at;
  timer_.expires_at(at);  // cancels the previous wait: its handler sees operation_aborted
  timer_.async_wait([weak = weak_from_this()](const error_code& ec) {
    auto self = weak.lock();
    if (!self || self->stopped_ || ec == net::error::operation_aborted) return;
    self->timer_at_.reset();
    self->wake();  // its after_call() arms the next deadline
  });
}

// --- socket_state --------------------------------------------------------------------------------

socket_state::socket_state(stack_impl& stack) : stack_(&stack) { stack.add(*this); }

socket_state::~socket_state() {
  error_code ignored;
  close(ignored);
  if (stack_) {
    stack_->socket_gone(*this);
    stack_->remove(*this);
  }
}

void socket_state::adopt(const wire::four_tuple& t) {
  open_ = true;
  tuple_ = t;
  conn_alive_ = true;
  phase_ = phase::connected;
  peer_fin_ = shut_send_ = shut_recv_ = false;
  error_ = {};
  error_reported_ = false;
  if (!stack_) return;
  stack_->bind(t, *this);
  // Events before accept() went to nobody: read what they said from the connection itself.
  if (const tcp::connection* c = stack_->engine().find(t)) {
    const tcp::state st = c->current_state();
    peer_fin_ = st == tcp::state::close_wait || st == tcp::state::last_ack || st == tcp::state::closing ||
                st == tcp::state::time_wait;
  }
  options_changed();
}

void socket_state::open(error_code& ec) {
  if (open_) {
    ec = net::error::already_open;
    return;
  }
  if (!stack_ || stack_->stopped()) {
    ec = error::errc::stack_stopped;
    return;
  }
  open_ = true;
  phase_ = phase::idle;
  ec = {};
}

void socket_state::abort_all(const error_code& ec) {
  for (op_queue* q : {&connect_ops_, &read_ops_, &write_ops_})
    while (op_base* op = q->pop()) op->complete(ec, 0);
}

void socket_state::rescue_received(tcp::connection& c) {
  // The engine forgets a connection once it is CLOSED; what was received stays readable, as the
  // kernel keeps a socket's receive queue until the socket is closed. `c` must be our own
  // incarnation of the tuple (see on_event).
  if (rescued_off_ > 0) {
    rescued_.erase(rescued_.begin(), rescued_.begin() + static_cast<std::ptrdiff_t>(rescued_off_));
    rescued_off_ = 0;
  }
  std::size_t have = rescued_.size();
  std::size_t more = c.available();
  if (more == 0) return;
  rescued_.resize(have + more);
  std::size_t got = c.receive(std::span<std::byte>(rescued_.data() + have, more));
  rescued_.resize(have + got);
}

void socket_state::connection_ended() {
  // The engine is done with this incarnation: stop taking events under its tuple, which a new
  // connection (a SYN that ends TIME_WAIT, a later connect()) may reuse. tuple_ stays for
  // local_endpoint().
  conn_alive_ = false;
  phase_ = phase::finished;
  if (tuple_ && stack_) stack_->unbind(*tuple_, *this);
}

void socket_state::detach_connection(bool abortive) {
  if (!tuple_) return;
  wire::four_tuple t = *tuple_;
  tuple_.reset();
  if (!stack_) return;
  stack_->unbind(t, *this);
  if (!conn_alive_) return;
  conn_alive_ = false;
  if (abortive)
    stack_->engine().abort(t);
  else
    stack_->engine().close(t);  // after shutdown(send) too: the connection is now orphaned  // FIN after the queued data; the engine sees the close through
}

void socket_state::close(error_code& ec) {
  ec = {};
  if (!open_) return;
  std::optional<stack_impl::call_guard> g;
  if (stack_ && !stack_->stopped()) g.emplace(*stack_);
  abort_all(net::error::operation_aborted);
  // Linux: close() with unread data, or SO_LINGER with a zero timeout, resets the connection.
  bool unread = rescued_.size() > rescued_off_;
  if (tuple_ && conn_alive_ && stack_)
    if (tcp::connection* c = stack_->engine().find(*tuple_)) unread = unread || c->available() > 0;
  bool abortive = (options_.linger_enabled && options_.linger_seconds == 0) || unread;
  if (phase_ == phase::connecting) abortive = true;
  if (stack_ && !stack_->stopped()) detach_connection(abortive);
  else tuple_.reset();
  open_ = false;
  phase_ = phase::idle;
  peer_fin_ = shut_send_ = shut_recv_ = false;
  error_ = {};
  error_reported_ = false;
  rescued_.clear();
  rescued_off_ = 0;
}

void socket_state::cancel(error_code& ec) {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return;
  }
  std::optional<stack_impl::call_guard> g;
  if (stack_ && !stack_->stopped()) g.emplace(*stack_);
  if (phase_ == phase::connecting) {
    // A cancelled connect leaves nothing half-open: the attempt is abandoned (RST if needed).
    if (tuple_ && stack_ && !stack_->stopped()) {
      wire::four_tuple t = *tuple_;
      stack_->unbind(t, *this);
      tuple_.reset();
      if (conn_alive_) stack_->engine().abort(t);
      conn_alive_ = false;
    }
    phase_ = phase::finished;
    error_reported_ = true;
  }
  abort_all(net::error::operation_aborted);
}

void socket_state::cancel_op(op_base* op, net::cancellation_type type) {
  if (type == net::cancellation_type::none) return;
  op_queue* q = op->kind() == op_kind::connect ? &connect_ops_ : op->kind() == op_kind::read ? &read_ops_ : &write_ops_;
  if (!q->remove(op)) return;
  std::optional<stack_impl::call_guard> g;
  if (stack_ && !stack_->stopped()) g.emplace(*stack_);
  if (op->kind() == op_kind::connect && phase_ == phase::connecting) {
    if (tuple_ && stack_ && !stack_->stopped()) {
      wire::four_tuple t = *tuple_;
      stack_->unbind(t, *this);
      tuple_.reset();
      if (conn_alive_) stack_->engine().abort(t);
      conn_alive_ = false;
    }
    phase_ = phase::finished;
    error_reported_ = true;
  }
  op->complete(net::error::operation_aborted, 0);
}

void socket_state::shutdown(net::socket_base::shutdown_type what, error_code& ec) {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return;
  }
  if (phase_ != phase::connected && phase_ != phase::finished) {
    ec = net::error::not_connected;
    return;
  }
  std::optional<stack_impl::call_guard> g;
  if (stack_ && !stack_->stopped()) g.emplace(*stack_);
  if (what == net::socket_base::shutdown_receive || what == net::socket_base::shutdown_both) {
    shut_recv_ = true;
  }
  if ((what == net::socket_base::shutdown_send || what == net::socket_base::shutdown_both) && !shut_send_) {
    shut_send_ = true;
    if (tuple_ && conn_alive_ && stack_ && !stack_->stopped()) stack_->engine().shutdown_send(*tuple_);
  }
  service();
}

std::size_t socket_state::available(error_code& ec) const {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return 0;
  }
  std::size_t n = rescued_.size() - rescued_off_;
  if (tuple_ && conn_alive_ && stack_)
    if (const tcp::connection* c = stack_->engine().find(*tuple_)) n += c->available();
  return n;
}

net::ip::tcp::endpoint socket_state::local_endpoint(error_code& ec) const {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return {};
  }
  if (!tuple_) return {};  // open, unbound: 0.0.0.0:0 as the kernel reports
  return to_endpoint(tuple_->local_addr, tuple_->local_port);
}

net::ip::tcp::endpoint socket_state::remote_endpoint(error_code& ec) const {
  ec = {};
  if (!open_) {
    ec = net::error::bad_descriptor;
    return {};
  }
  if (!tuple_ || phase_ != phase::connected) {
    ec = net::error::not_connected;
    return {};
  }
  return to_endpoint(tuple_->remote_addr, tuple_->remote_port);
}

error_code socket_state::take_error() {
  error_reported_ = true;
  error_code ec = error_;
  error_ = {};
  return ec;
}

void socket_state::options_changed() {
  if (!tuple_ || !conn_alive_ || !stack_ || stack_->stopped()) return;
  stack_impl::call_guard g(*stack_);
  stack_->engine().modify(*tuple_, [this](tcp::connection& c) { apply_live(options_, c); });
}

void socket_state::start_connect(connect_op_base* op, const net::ip::tcp::endpoint& peer) {
  if (!stack_ || stack_->stopped()) return op->complete(error::errc::stack_stopped, 0);
  stack_impl::call_guard g(*stack_);
  if (!open_) {
    error_code ec;
    open(ec);
  }
  if (phase_ == phase::connecting) return op->complete(net::error::already_started, 0);
  if (phase_ == phase::connected) return op->complete(net::error::already_connected, 0);
  if (phase_ == phase::finished) {
    // Connecting again after a failure, as a kernel socket allows.
    error_code ignored;
    close(ignored);
    open(ignored);
  }
  tcp::config cfg = stack_->engine().tcp_config();
  apply_options(options_, cfg);
  // Unless the user sized it, the window stays within what the receive ring holds between two
  // drains (slots x MSS): a larger window only overflows the ring (loss, RTOs).
  if (!options_.receive_buffer) {
    cfg.recv_buffer = static_cast<std::uint32_t>(std::min<std::size_t>(cfg.recv_buffer, stack_->ring_window(cfg.mss)));
    cfg.recv_buffer_initial = std::min(cfg.recv_buffer_initial, cfg.recv_buffer);
  }
  try {
    tuple_ = stack_->engine().connect(asio::to_wire(peer.address()), peer.port(), cfg);
  } catch (const link::setup_error& e) {
    // No route: what connect(2) says (ENETUNREACH). Anything else the link layer refused.
    return op->complete(e.code() == link::setup_errc::no_route ? error_code(net::error::network_unreachable)
                                                                : error_code(error::errc::setup_failed),
                        0);
  } catch (const std::runtime_error&) {
    // Every local port of the range is taken: connect(2) says EADDRNOTAVAIL when its ephemeral
    // ports run out.
    return op->complete(error_code(EADDRNOTAVAIL, net::error::get_system_category()), 0);
  }
  stack_->bind(*tuple_, *this);
  conn_alive_ = true;
  phase_ = phase::connecting;
  connect_ops_.push(op);
  // The engine may already know the outcome (it never completes a handshake synchronously, but
  // an unreachable next hop can be known): service() decides.
  service();
}

void socket_state::start_read(read_op_base* op) {
  if (!open_) return op->complete(net::error::bad_descriptor, 0);
  if (!stack_ || stack_->stopped()) return op->complete(error::errc::stack_stopped, 0);
  if (op->empty_request) return op->complete({}, 0);  // Asio: a zero-length read completes at once
  if (phase_ == phase::idle) return op->complete(net::error::not_connected, 0);
  stack_impl::call_guard g(*stack_);
  if (read_ops_.empty() && phase_ != phase::connecting)
    if (auto r = read_result(*op)) return op->complete(r->first, r->second);
  read_ops_.push(op);
}

void socket_state::start_write(write_op_base* op) {
  if (!open_) return op->complete(net::error::bad_descriptor, 0);
  if (!stack_ || stack_->stopped()) return op->complete(error::errc::stack_stopped, 0);
  if (op->empty_request) return op->complete({}, 0);
  if (phase_ == phase::idle) return op->complete(net::error::not_connected, 0);
  stack_impl::call_guard g(*stack_);
  if (write_ops_.empty() && phase_ != phase::connecting)
    if (auto r = write_result(*op)) return op->complete(r->first, r->second);
  write_ops_.push(op);
}

std::size_t socket_state::copy_out(const buffer_list<net::mutable_buffer>& bufs) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < bufs.count; ++i) {
    auto* dst = static_cast<std::byte*>(bufs.items[i].data());
    std::size_t want = bufs.items[i].size(), got = 0;
    if (rescued_off_ < rescued_.size()) {
      std::size_t n = std::min(want, rescued_.size() - rescued_off_);
      std::memcpy(dst, rescued_.data() + rescued_off_, n);
      rescued_off_ += n;
      got = n;
    }
    if (got < want && tuple_ && conn_alive_)
      got += stack_->engine().receive(*tuple_, std::span<std::byte>(dst + got, want - got));
    total += got;
    if (got < want) break;
  }
  return total;
}

// The outcome of `op` if it can complete now (data already copied into its buffers), else
// nullopt: it stays pending.
std::optional<socket_state::result> socket_state::read_result(read_op_base& op) {
  // Data first, then an unreported error, then end of stream: recv(2)'s order.
  if (std::size_t n = copy_out(op.buffers); n > 0) return result{error_code{}, n};
  if (error_) return result{take_error(), 0};
  if (peer_fin_ || shut_recv_ || phase_ == phase::finished) return result{net::error::eof, 0};
  return std::nullopt;
}

std::optional<socket_state::result> socket_state::write_result(write_op_base& op) {
  if (shut_send_) return result{net::error::broken_pipe, 0};
  // The first write after a reset reports it; later ones get EPIPE, as send(2) does.
  if (error_) return result{take_error(), 0};
  if (phase_ == phase::finished || !tuple_ || !conn_alive_) return result{net::error::broken_pipe, 0};
  // Every buffer into the send buffer first, then one flush: a gathered write (Beast's header
  // fields, TLS records) goes out as full segments rather than one segment per buffer.
  std::size_t total = 0;
  stack_->engine().modify(*tuple_, [&](tcp::connection& c) {
    for (std::size_t i = 0; i < op.buffers.count; ++i) {
      const auto& b = op.buffers.items[i];
      std::size_t n = c.send(std::span<const std::byte>(static_cast<const std::byte*>(b.data()), b.size()));
      total += n;
      if (n < b.size()) break;
    }
  });
  if (total == 0) return std::nullopt;  // the send buffer is full: the core says "writable" later
  return result{error_code{}, total};
}

void socket_state::on_event(const tcp::event& ev) {
  using kind = tcp::event::kind;
  switch (ev.what) {
    case kind::connected:
      if (phase_ == phase::connecting) phase_ = phase::connected;
      break;
    case kind::eof: peer_fin_ = true; break;
    case kind::state_changed:
      // In TIME_WAIT nothing more arrives, and a SYN that reuses the tuple may end this
      // incarnation at any time (the engine erases it before we hear `closed`): keep what is
      // unread now.
      if (ev.to == tcp::state::time_wait && conn_alive_ && tuple_ && stack_)
        if (tcp::connection* c = stack_->engine().find(*tuple_)) rescue_received(*c);
      break;
    case kind::error:
    case kind::closed:
      // Our connection is still in the table, CLOSED, until this event has been delivered. A
      // connection under the tuple that is not CLOSED is a new incarnation (a SYN ended our
      // TIME_WAIT): its bytes are not ours.
      if (conn_alive_ && tuple_ && stack_)
        if (tcp::connection* c = stack_->engine().find(*tuple_); c && c->current_state() == tcp::state::closed)
          rescue_received(*c);
      if (ev.what == kind::error) {
        error_ = error::from_core(ev.ec);
        error_icmp_ = ev.icmp;
      }
      else if (phase_ == phase::connecting)
        error_ = net::error::operation_aborted;
      connection_ended();
      break;
    default: break;  // readable, writable, state changes: service() looks
  }
}

void socket_state::service() {
  if (!open_) return;
  while (op_base* op = connect_ops_.front()) {
    if (phase_ == phase::connected) {
      connect_ops_.pop();
      op->complete({}, 0);
    } else if (phase_ == phase::finished) {
      connect_ops_.pop();
      error_code ec = error_ ? take_error() : error_code(net::error::operation_aborted);
      op->complete(ec, 0);
    } else {
      break;
    }
  }
  if (phase_ == phase::connecting) return;
  while (op_base* op = read_ops_.front()) {
    auto r = read_result(*static_cast<read_op_base*>(op));
    if (!r) break;
    read_ops_.pop();
    op->complete(r->first, r->second);
  }
  while (op_base* op = write_ops_.front()) {
    auto r = write_result(*static_cast<write_op_base*>(op));
    if (!r) break;
    write_ops_.pop();
    op->complete(r->first, r->second);
  }
}

void socket_state::forget_stack() {
  stack_ = nullptr;
  tuple_.reset();
  conn_alive_ = false;
}

void socket_state::stack_stopped() {
  abort_all(net::error::operation_aborted);
  if (tuple_ && stack_) stack_->unbind(*tuple_, *this);  // no pointer to us stays behind
  tuple_.reset();
  conn_alive_ = false;
  if (open_) phase_ = phase::finished;
  error_ = error::errc::stack_stopped;
  error_reported_ = false;
}

}  // namespace detail
}  // namespace synack::asio
