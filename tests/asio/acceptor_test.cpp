// The acceptor against kernel clients (Asio's ip::tcp sockets created in namespace b): accepts
// with callbacks, futures and coroutines, both the accept-into and the socket-yielding forms,
// data both ways and eof on an accepted socket, FIFO accepts, cancel/close/cancellation slots.
#include <array>
#include <chrono>
#include <future>
#include <optional>
#include <string>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "asio/fixture.hpp"
#include "asio/peers.hpp"

namespace synack::asio::test {

namespace {

const net::ip::address_v4 our_addr = net::ip::make_address_v4("10.200.0.1");

// A kernel TCP socket of namespace b (a socket stays in the namespace it was created in).
net::ip::tcp::socket kernel_client(world& w) {
  link::test::enter_netns in_b(w.pair.b);
  net::ip::tcp::socket c(w.ctx);
  c.open(net::ip::tcp::v4());
  return c;
}

// Connects `c` to `ep` and runs until the kernel says connected.
void connect_kernel(world& w, net::ip::tcp::socket& c, const net::ip::tcp::endpoint& ep) {
  const error_code got = w.connect(c, ep);
  BOOST_REQUIRE_MESSAGE(!got, got.message());
}

// Replaces the fixture's (client) stack with a server stack: the interface and source address
// named, the route hint the subnet broadcast (the engine refuses a route to our own address), and
// the one listening port as the stack's port range (as `synack serve`).
void make_server_stack(world& w, std::uint16_t port) {
  w.stack.reset();
  engine::options o;
  o.interface = w.pair.if_a;
  o.source = wire::ipv4_addr{our_addr.to_uint()};
  o.ports = link::port_range{port, port};
  o.arp_interval = std::chrono::milliseconds(100);
  w.stack.emplace(w.ctx, o, net::ip::make_address_v4("10.200.0.255"));
}

// Echo over an accepted synack socket and a kernel client: both directions, then the client's
// FIN reaches the synack side as eof.
template <class Socket>
void check_echo_and_eof(world& w, Socket& s, net::ip::tcp::socket& c) {
  std::string out = "hello from synack";
  std::string in(5, '\0');
  std::string kin(out.size(), '\0');
  call_count wrote, kread, read;
  net::async_write(s, net::buffer(out), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    BOOST_TEST(n == out.size());
    ++wrote.calls;
  });
  net::async_read(c, net::buffer(kin), [&](error_code ec, std::size_t) {
    BOOST_TEST(!ec);
    ++kread.calls;
  });
  std::string kout = "world";
  net::write(c, net::buffer(kout));
  net::async_read(s, net::buffer(in), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    BOOST_TEST(n == 5u);
    ++read.calls;
  });
  w.run_until([&] { return wrote.calls > 0 && kread.calls > 0 && read.calls > 0; });
  BOOST_TEST(kin == out);
  BOOST_TEST(in == "world");
  // The client closes: the synack side reads eof.
  c.close();
  std::array<char, 8> buf{};
  call_count eof;
  error_code eec;
  s.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) {
    eec = ec;
    ++eof.calls;
  });
  w.run_until([&] { return eof.calls > 0; });
  w.run_for(20ms);
  BOOST_TEST(wrote.calls == 1);
  BOOST_TEST(kread.calls == 1);
  BOOST_TEST(read.calls == 1);
  BOOST_TEST(eof.calls == 1);
  BOOST_TEST((eec == net::error::eof), eec.message());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(acceptor_suite, *boost::unit_test::precondition(link::test::root_available))

BOOST_AUTO_TEST_CASE(accept_into_socket_with_callback_then_echo_and_eof) {
  world w;
  // The fixture's stack is a client stack: it listens on a port of its default range.
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  const auto ep = acc.local_endpoint();
  BOOST_TEST(ep.address() == our_addr);
  BOOST_TEST(w.stack->engine().ports().contains(ep.port()));
  synack::asio::socket s(*w.stack);
  call_count h;
  bool initiating = true;
  error_code got;
  acc.async_accept(s, [&](error_code ec) {
    BOOST_TEST(!initiating);
    ++h.calls;
    got = ec;
  });
  initiating = false;
  w.run_for(20ms);
  BOOST_TEST(h.calls == 0);  // nobody connected yet
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, ep.port()});
  w.run_until([&] { return h.calls > 0; });
  BOOST_REQUIRE_MESSAGE(!got, got.message());
  BOOST_TEST(s.is_open());
  BOOST_TEST(s.remote_endpoint() == net::ip::tcp::endpoint(peer_addr, c.local_endpoint().port()));
  BOOST_TEST(s.local_endpoint() == ep);
  check_echo_and_eof(w, s, c);
  BOOST_TEST(h.calls == 1);
  BOOST_TEST(acc.statistics()->accepted == 1u);
}

BOOST_AUTO_TEST_CASE(server_stack_move_accept_with_use_future) {
  world w;
  make_server_stack(w, 8080);
  synack::asio::acceptor acc(*w.stack, {our_addr, 8080});
  BOOST_TEST(acc.local_endpoint() == net::ip::tcp::endpoint(our_addr, 8080));
  auto f = acc.async_accept(net::use_future);
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, 8080});
  w.run_until([&] { return f.wait_for(0s) == std::future_status::ready; });
  synack::asio::socket s = f.get();
  BOOST_TEST(s.is_open());
  BOOST_TEST(s.remote_endpoint().port() == c.local_endpoint().port());
  check_echo_and_eof(w, s, c);
}

BOOST_AUTO_TEST_CASE(move_accept_with_use_awaitable_echoes) {
  world w;
  make_server_stack(w, 8081);
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 8081});
  bool done = false;
  std::string got;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        auto s = co_await acc.async_accept(net::use_awaitable);
        std::array<char, 4> buf{};
        co_await net::async_read(s, net::buffer(buf), net::use_awaitable);
        got.assign(buf.data(), buf.size());
        co_await net::async_write(s, net::buffer(buf), net::use_awaitable);
        // Then the client's FIN.
        auto [ec, n] = co_await s.async_read_some(net::buffer(buf), tuple_awaitable);
        BOOST_TEST((ec == net::error::eof));
        BOOST_TEST(n == 0u);
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, 8081});
  std::string msg = "ping";
  net::write(c, net::buffer(msg));
  std::string back(4, '\0');
  call_count r;
  net::async_read(c, net::buffer(back), [&](error_code ec, std::size_t) {
    BOOST_TEST(!ec);
    ++r.calls;
  });
  w.run_until([&] { return r.calls > 0; });
  BOOST_TEST(back == "ping");
  c.shutdown(net::socket_base::shutdown_send);
  w.run_until([&] { return done; });
  BOOST_TEST(got == "ping");
  BOOST_TEST(r.calls == 1);
}

BOOST_AUTO_TEST_CASE(connection_queued_before_accept_keeps_its_data_and_fin) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, acc.local_endpoint().port()});
  std::string msg = "early";
  net::write(c, net::buffer(msg));
  c.shutdown(net::socket_base::shutdown_send);
  w.run_for(100ms);  // the data and the FIN arrive while the connection waits in the accept queue
  BOOST_TEST(acc.statistics()->accept_queue == 1u);
  call_count h;
  std::string got;
  error_code end;
  acc.async_accept([&](error_code ec, synack::asio::socket s) {
    ++h.calls;
    BOOST_REQUIRE(!ec);
    auto sp = std::make_shared<synack::asio::socket>(std::move(s));
    net::async_read(*sp, net::dynamic_buffer(got), [&, sp](error_code e, std::size_t) { end = e; });
  });
  w.run_until([&] { return end.failed(); });
  BOOST_TEST(h.calls == 1);
  BOOST_TEST(got == "early");
  BOOST_TEST((end == net::error::eof), end.message());
}

BOOST_AUTO_TEST_CASE(pending_accepts_are_served_fifo) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  const auto port = acc.local_endpoint().port();
  synack::asio::socket first(*w.stack);
  std::vector<int> order;
  acc.async_accept(first, [&](error_code ec) {
    BOOST_TEST(!ec);
    order.push_back(1);
  });
  std::optional<synack::asio::socket> second;
  acc.async_accept([&](error_code ec, synack::asio::socket s) {
    BOOST_TEST(!ec);
    order.push_back(2);
    second.emplace(std::move(s));
  });
  auto c1 = kernel_client(w);
  connect_kernel(w, c1, {our_addr, port});
  w.run_until([&] { return order.size() == 1; });
  auto c2 = kernel_client(w);
  connect_kernel(w, c2, {our_addr, port});
  w.run_until([&] { return order.size() == 2; });
  w.run_for(20ms);
  BOOST_TEST(order == (std::vector<int>{1, 2}));
  BOOST_TEST(first.remote_endpoint().port() == c1.local_endpoint().port());
  BOOST_TEST(second->remote_endpoint().port() == c2.local_endpoint().port());
}

BOOST_AUTO_TEST_CASE(cancel_with_accepts_pending_aborts_them_and_keeps_listening) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  synack::asio::socket s(*w.stack);
  call_count a, b;
  error_code aec, bec;
  bool yielded_open = true;
  acc.async_accept(s, [&](error_code ec) {
    ++a.calls;
    aec = ec;
  });
  acc.async_accept([&](error_code ec, synack::asio::socket y) {
    ++b.calls;
    bec = ec;
    yielded_open = y.is_open();
  });
  w.run_for(10ms);
  acc.cancel();
  BOOST_TEST(a.calls == 0);  // posted, not run inside cancel()
  w.run_until([&] { return a.calls > 0 && b.calls > 0; });
  w.run_for(20ms);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST((aec == net::error::operation_aborted));
  BOOST_TEST((bec == net::error::operation_aborted));
  BOOST_TEST(!yielded_open);
  BOOST_TEST(!s.is_open());
  // Still listening: the next accept gets a connection.
  auto f = acc.async_accept(net::use_future);
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, acc.local_endpoint().port()});
  w.run_until([&] { return f.wait_for(0s) == std::future_status::ready; });
  BOOST_TEST(f.get().is_open());
}

BOOST_AUTO_TEST_CASE(close_with_accepts_pending_aborts_them_and_stops_listening) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  const auto port = acc.local_endpoint().port();
  call_count a, b;
  error_code aec, bec;
  synack::asio::socket s(*w.stack);
  acc.async_accept(s, [&](error_code ec) {
    ++a.calls;
    aec = ec;
  });
  acc.async_accept([&](error_code ec, synack::asio::socket) {
    ++b.calls;
    bec = ec;
  });
  acc.close();
  BOOST_TEST(a.calls == 0);
  BOOST_TEST(!acc.is_open());
  w.run_until([&] { return a.calls > 0 && b.calls > 0; });
  w.run_for(20ms);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST((aec == net::error::operation_aborted));
  BOOST_TEST((bec == net::error::operation_aborted));
  error_code ec;
  acc.local_endpoint(ec);
  BOOST_TEST((ec == net::error::bad_descriptor));
  BOOST_TEST(w.stack->engine().listener_statistics(port) == nullptr);
  // Nothing listens on the port any more: a SYN to it is refused (a stack with no listener at
  // all stays silent towards peers it never talked to, as a client; so keep one on another port).
  synack::asio::acceptor other(*w.stack, {net::ip::tcp::v4(), static_cast<unsigned short>(port + 1)});
  auto c = kernel_client(w);
  const error_code cec = w.connect(c, {our_addr, port});
  BOOST_TEST((cec == net::error::connection_refused), cec.message());
  // The port is free again.
  synack::asio::acceptor again(*w.stack, {net::ip::tcp::v4(), port});
  BOOST_TEST(again.local_endpoint().port() == port);
  // Accepting on a closed acceptor fails (posted).
  call_count late;
  acc.async_accept([&](error_code e, synack::asio::socket) {
    ++late.calls;
    BOOST_TEST((e == net::error::bad_descriptor));
  });
  BOOST_TEST(late.calls == 0);
  w.run_until([&] { return late.calls > 0; });
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_aborts_only_that_accept) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  net::cancellation_signal sig;
  call_count a, b;
  error_code aec, bec;
  synack::asio::socket s1(*w.stack), s2(*w.stack);
  acc.async_accept(s1, net::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
                     ++a.calls;
                     aec = ec;
                   }));
  acc.async_accept(s2, [&](error_code ec) {
    ++b.calls;
    bec = ec;
  });
  w.run_for(10ms);
  sig.emit(net::cancellation_type::terminal);
  BOOST_TEST(a.calls == 0);  // posted
  w.run_until([&] { return a.calls > 0; });
  BOOST_TEST((aec == net::error::operation_aborted));
  BOOST_TEST(b.calls == 0);
  // The second accept is still pending and takes the next connection.
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, acc.local_endpoint().port()});
  w.run_until([&] { return b.calls > 0; });
  w.run_for(20ms);
  BOOST_TEST(!bec);
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST(!s1.is_open());
  BOOST_TEST(s2.is_open());
  // A signal emitted after completion does nothing.
  sig.emit(net::cancellation_type::terminal);
  w.run_for(10ms);
  BOOST_TEST(a.calls == 1);
}

BOOST_AUTO_TEST_CASE(bind_listen_and_accept_errors) {
  world w;
  synack::asio::acceptor acc(*w.stack);
  error_code ec;
  acc.bind({net::ip::tcp::v4(), 0}, ec);
  BOOST_TEST((ec == net::error::bad_descriptor));
  acc.open();
  // Not listening: accept fails with EINVAL (posted).
  call_count h;
  acc.async_accept([&](error_code e, synack::asio::socket) {
    ++h.calls;
    BOOST_TEST((e == net::error::invalid_argument));
  });
  BOOST_TEST(h.calls == 0);
  w.run_until([&] { return h.calls > 0; });
  const auto range = w.stack->engine().ports();
  if (range.lo > 1) {
    acc.bind({net::ip::tcp::v4(), static_cast<unsigned short>(range.lo - 1)}, ec);
    BOOST_TEST((ec == synack::asio::error::errc::port_outside_range));
  }
  acc.bind({net::ip::make_address_v4("10.200.0.9"), range.lo}, ec);
  BOOST_TEST(ec.value() == EADDRNOTAVAIL);
  acc.bind({our_addr, range.lo}, ec);
  BOOST_TEST(!ec);
  synack::asio::acceptor other(*w.stack);
  other.open();
  other.bind({net::ip::tcp::v4(), range.lo}, ec);
  BOOST_TEST((ec == net::error::address_in_use));
  // Accept into an open socket: already_open.
  acc.listen();
  synack::asio::socket open_sock(*w.stack);
  open_sock.open();
  call_count o;
  acc.async_accept(open_sock, [&](error_code e) {
    ++o.calls;
    BOOST_TEST((e == net::error::already_open));
  });
  w.run_until([&] { return o.calls > 0; });
  // Stopping the stack aborts a pending accept.
  call_count st;
  acc.async_accept([&](error_code e, synack::asio::socket) {
    ++st.calls;
    BOOST_TEST((e == net::error::operation_aborted));
  });
  w.run_for(10ms);
  w.stack->stop();
  w.run_until([&] { return st.calls > 0; });
  BOOST_TEST(st.calls == 1);
}

// A socket destroyed while an accept into it is pending: the accept ends with operation_aborted
// (it must not adopt the next connection into freed memory), and the next accept gets it.
BOOST_AUTO_TEST_CASE(destroying_the_target_of_a_pending_accept_aborts_it) {
  world w;
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), 0});
  call_count h;
  error_code got;
  {
    synack::asio::socket doomed(*w.stack);
    acc.async_accept(doomed, [&](error_code ec) {
      got = ec;
      ++h.calls;
    });
  }
  w.run_until([&] { return h.calls > 0; });
  BOOST_TEST((got == net::error::operation_aborted), got.message());
  auto c = kernel_client(w);
  connect_kernel(w, c, {our_addr, acc.local_endpoint().port()});
  std::optional<synack::asio::socket> s;
  acc.async_accept([&](error_code ec, synack::asio::socket sock) {
    BOOST_TEST(!ec);
    s.emplace(std::move(sock));
  });
  w.run_until([&] { return s.has_value(); });
  BOOST_TEST(s->remote_endpoint().port() == c.local_endpoint().port());
  BOOST_TEST(h.calls == 1);
}

namespace {
// A kernel client of namespace b bound to `port` (SO_REUSEADDR) and connected to `server`: the
// connect is retried while the kernel still holds the previous connection of that port (LAST_ACK
// until synack's ACK of its FIN arrives), for at most 5 s.
net::ip::tcp::socket kernel_client_from(world& w, unsigned short port, const net::ip::tcp::endpoint& server) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto c = kernel_client(w);
    c.set_option(net::socket_base::reuse_address(true));
    c.bind({peer_addr, port});
    bool done = false;
    error_code got;
    c.async_connect(server, [&](error_code ec) {
      got = ec;
      done = true;
    });
    w.run_until([&] { return done; });
    if (!got) return c;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "connect from port " << port << ": " << got.message());
    w.run_for(20ms);
  }
}
}  // namespace

// A four-tuple comes back while its old socket is still open: the accepted socket sent the first
// FIN, read the peer's, and its connection sits in TIME_WAIT when the same client port connects
// again (a SYN above the old sequence space ends TIME_WAIT, Linux's TCP_TW_SYN). The old socket
// must take nothing of the new incarnations: not their bytes (a child reset while it waits in
// the accept queue hands its unread data to whoever holds the tuple), and closing it must not
// unbind the socket that accepted the next one (which then never heard of its data).
BOOST_AUTO_TEST_CASE(a_reused_tuple_belongs_to_the_new_connection_not_the_old_open_socket) {
  constexpr unsigned short port = 8082, client_port = 40999;
  world w;
  make_server_stack(w, port);
  synack::asio::acceptor acc(*w.stack, {net::ip::tcp::v4(), port});
  const net::ip::tcp::endpoint server{our_addr, port};
  engine::engine& eng = w.stack->engine();

  // First incarnation: the synack side closes first and reads the client's FIN; it stays open.
  synack::asio::socket old_s(*w.stack);
  bool accepted = false;
  acc.async_accept(old_s, [&](error_code ec) {
    BOOST_TEST(!ec);
    accepted = true;
  });
  auto c1 = kernel_client_from(w, client_port, server);
  w.run_until([&] { return accepted; });
  BOOST_REQUIRE(old_s.tuple().has_value());
  const wire::four_tuple t = *old_s.tuple();
  old_s.shutdown(net::socket_base::shutdown_send);
  std::array<char, 64> kbuf{};
  error_code kend;
  c1.async_read_some(net::buffer(kbuf), [&](error_code ec, std::size_t) { kend = ec; });
  w.run_until([&] { return kend.failed(); });
  BOOST_TEST((kend == net::error::eof), kend.message());
  c1.close();
  std::array<char, 64> obuf{};
  error_code oend;
  old_s.async_read_some(net::buffer(obuf), [&](error_code ec, std::size_t) { oend = ec; });
  w.run_until([&] { return oend.failed(); });
  BOOST_TEST((oend == net::error::eof), oend.message());
  w.run_until([&] {
    tcp::connection* c = eng.find(t);
    return c && c->current_state() == tcp::state::time_wait;
  });

  // Second incarnation: connects (ending TIME_WAIT), sends, and is reset while it waits in the
  // accept queue.
  auto c2 = kernel_client_from(w, client_port, server);
  const std::string foreign = "bytes of the second incarnation";
  net::write(c2, net::buffer(foreign));
  w.run_until([&] {
    tcp::connection* c = eng.find(t);
    return c && c->available() == foreign.size();
  });
  c2.set_option(net::socket_base::linger(true, 0));
  c2.close();  // RST
  w.run_until([&] { return eng.find(t) == nullptr; });
  BOOST_TEST(old_s.available() == 0u);
  error_code oend2;
  std::size_t on2 = 0;
  old_s.async_read_some(net::buffer(obuf), [&](error_code ec, std::size_t n) {
    oend2 = ec;
    on2 = n;
  });
  w.run_until([&] { return oend2.failed() || on2 > 0; });
  BOOST_TEST(on2 == 0u, "the old socket read " << on2 << " bytes of another connection: "
                                                 << std::string(obuf.data(), on2));
  BOOST_TEST((oend2 == net::error::eof), oend2.message());

  // Third incarnation: accepted; then the old socket is closed; the new one still gets its data.
  synack::asio::socket new_s(*w.stack);
  bool accepted3 = false;
  acc.async_accept(new_s, [&](error_code ec) {
    BOOST_TEST(!ec);
    accepted3 = true;
  });
  auto c3 = kernel_client_from(w, client_port, server);
  w.run_until([&] { return accepted3; });
  BOOST_REQUIRE(new_s.tuple().has_value());
  BOOST_TEST((*new_s.tuple() == t));
  old_s.close();
  const std::string ping = "ping";
  net::write(c3, net::buffer(ping));
  std::string got(ping.size(), '\0');
  error_code rec;
  bool read = false;
  net::async_read(new_s, net::buffer(got), [&](error_code ec, std::size_t) {
    rec = ec;
    read = true;
  });
  w.run_until([&] { return read; }, 3s);
  BOOST_TEST(!rec, rec.message());
  BOOST_TEST(got == ping);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::asio::test
