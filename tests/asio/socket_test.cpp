// The socket against kernel peers: completion tokens, composed operations, errors as a kernel
// socket reports them, cancellation and close with pending operations, half-close.
#include <array>
#include <future>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include "asio/fixture.hpp"
#include "asio/peers.hpp"

namespace synack::asio::test {

BOOST_AUTO_TEST_SUITE(socket_suite, *boost::unit_test::precondition(link::test::root_available))

BOOST_AUTO_TEST_CASE(connect_callback_completes_once_after_initiation_returns) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  call_count h;
  bool initiating = true;
  error_code got;
  s.async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_TEST(!initiating);  // never inside the initiating call
    ++h.calls;
    got = ec;
  });
  initiating = false;
  w.run_until([&] { return h.calls > 0; });
  w.run_for(20ms);
  BOOST_TEST(h.calls == 1);
  BOOST_TEST(!got, got.message());
  BOOST_TEST(s.remote_endpoint() == w.peer(acc));
  BOOST_TEST(s.local_endpoint().address() == net::ip::make_address_v4("10.200.0.1"));
}

BOOST_AUTO_TEST_CASE(write_then_read_callbacks_echo_exactly) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  std::string msg(200000, 'x');
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>('a' + i % 23);
  std::string back(msg.size(), '\0');
  call_count wrote, read;
  error_code wec, rec;
  s.async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_REQUIRE(!ec);
    net::async_write(s, net::buffer(msg), [&](error_code e, std::size_t n) {
      ++wrote.calls;
      wec = e;
      BOOST_TEST(n == msg.size());
    });
    net::async_read(s, net::buffer(back), [&](error_code e, std::size_t n) {
      ++read.calls;
      rec = e;
      BOOST_TEST(n == msg.size());
    });
  });
  w.run_until([&] { return read.calls > 0; }, 20s);
  w.run_for(10ms);
  BOOST_TEST(wrote.calls == 1);
  BOOST_TEST(read.calls == 1);
  BOOST_TEST(!wec);
  BOOST_TEST(!rec);
  BOOST_TEST((back == msg));
}

BOOST_AUTO_TEST_CASE(use_future_token_delivers_result) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  auto connected = s.async_connect(w.peer(acc), net::use_future);
  w.run_until([&] { return connected.wait_for(0s) == std::future_status::ready; });
  connected.get();  // throws on error
  std::string msg = "hello";
  auto wrote = net::async_write(s, net::buffer(msg), net::use_future);
  std::array<char, 5> buf{};
  auto got = net::async_read(s, net::buffer(buf), net::use_future);
  w.run_until([&] { return got.wait_for(0s) == std::future_status::ready; });
  BOOST_TEST(wrote.get() == 5u);
  BOOST_TEST(got.get() == 5u);
  BOOST_TEST(std::string(buf.data(), 5) == "hello");
  // An error comes out of the future as system_error.
  std::array<char, 1> one{};
  s.shutdown(net::socket_base::shutdown_receive);
  auto eof = s.async_read_some(net::buffer(one), net::use_future);
  w.run_until([&] { return eof.wait_for(0s) == std::future_status::ready; });
  try {
    eof.get();
    BOOST_ERROR("expected eof");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == net::error::eof));
  }
}

BOOST_AUTO_TEST_CASE(use_awaitable_token_runs_in_coroutine) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  bool done = false;
  std::string reply;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        co_await s.async_connect(w.peer(acc), net::use_awaitable);
        std::string msg = "ping\n";
        co_await net::async_write(s, net::buffer(msg), net::use_awaitable);
        net::streambuf sb;
        std::size_t n = co_await net::async_read_until(s, sb, '\n', net::use_awaitable);
        reply.assign(net::buffers_begin(sb.data()), net::buffers_begin(sb.data()) + static_cast<std::ptrdiff_t>(n));
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  w.run_until([&] { return done; });
  BOOST_TEST(reply == "ping\n");
}

BOOST_AUTO_TEST_CASE(deferred_and_as_tuple_tokens) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  auto op = s.async_connect(w.peer(acc), net::deferred);  // nothing starts yet
  w.run_for(20ms);
  BOOST_TEST(!s.is_open());
  call_count h;
  std::move(op)([&](error_code ec) {
    ++h.calls;
    BOOST_TEST(!ec);
  });
  w.run_until([&] { return h.calls == 1; });
  std::string msg = "tuple";
  std::array<char, 5> buf{};
  bool done = false;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        auto [ec1, n1] = co_await net::async_write(s, net::buffer(msg), net::as_tuple(net::use_awaitable));
        BOOST_TEST(!ec1);
        BOOST_TEST(n1 == 5u);
        auto [ec2, n2] = co_await net::async_read(s, net::buffer(buf), net::as_tuple(net::use_awaitable));
        BOOST_TEST(!ec2);
        BOOST_TEST(n2 == 5u);
        done = true;
      },
      net::detached);
  w.run_until([&] { return done; });
  BOOST_TEST(std::string(buf.data(), 5) == "tuple");
}

BOOST_AUTO_TEST_CASE(as_default_on_socket_uses_rebound_executor) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  using tuple_socket = net::as_tuple_t<net::use_awaitable_t<>>::as_default_on_t<synack::asio::socket>;
  tuple_socket s(*w.stack);
  bool done = false;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        auto [ec] = co_await s.async_connect(w.peer(acc));
        BOOST_TEST(!ec);
        std::array<char, 3> buf{'a', 'b', 'c'};
        auto [wec, wn] = co_await s.async_write_some(net::buffer(buf));
        BOOST_TEST(!wec);
        auto [rec, rn] = co_await net::async_read(s, net::buffer(buf, wn));
        BOOST_TEST(!rec);
        done = true;
      },
      net::detached);
  w.run_until([&] { return done; });
}

BOOST_AUTO_TEST_CASE(zero_length_operations_complete_at_once_with_zero) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  BOOST_TEST_REQUIRE(!w.connect(s, w.peer(acc)));
  call_count r, wr;
  bool initiating = true;
  s.async_read_some(net::mutable_buffer(), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!initiating);
    BOOST_TEST(!ec);
    BOOST_TEST(n == 0u);
    ++r.calls;
  });
  s.async_write_some(net::const_buffer(), [&](error_code ec, std::size_t n) {
    BOOST_TEST(!initiating);
    BOOST_TEST(!ec);
    BOOST_TEST(n == 0u);
    ++wr.calls;
  });
  initiating = false;
  w.run_until([&] { return r.calls == 1 && wr.calls == 1; });
}

BOOST_AUTO_TEST_CASE(unconnected_socket_reports_not_connected) {
  world w;
  synack::asio::socket s(*w.stack);
  s.open();
  std::array<char, 4> buf{};
  error_code rec, wec;
  call_count h;
  s.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { rec = ec; ++h.calls; });
  s.async_write_some(net::buffer(buf), [&](error_code ec, std::size_t) { wec = ec; ++h.calls; });
  w.run_until([&] { return h.calls == 2; });
  BOOST_TEST((rec == net::error::not_connected));
  BOOST_TEST((wec == net::error::not_connected));
  error_code ec;
  s.remote_endpoint(ec);
  BOOST_TEST((ec == net::error::not_connected));
  s.shutdown(net::socket_base::shutdown_send, ec);
  BOOST_TEST((ec == net::error::not_connected));
}

BOOST_AUTO_TEST_CASE(connect_to_closed_port_is_connection_refused) {
  world w;
  synack::asio::socket s(*w.stack);
  const error_code got = w.connect(s, {peer_addr, w.closed_port()});
  BOOST_TEST((got == net::error::connection_refused), got.message());
}

BOOST_AUTO_TEST_CASE(connect_to_silent_address_is_host_unreachable) {
  world w;
  synack::asio::socket s(*w.stack);
  const error_code got = w.connect(s, {nobody_addr, 80}, 5s);
  BOOST_TEST((got == net::error::host_unreachable), got.message());
}

BOOST_AUTO_TEST_CASE(range_connect_skips_failing_endpoint) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  BOOST_TEST(w.range_connect(s, {{peer_addr, w.closed_port()}, w.peer(acc)}) == w.peer(acc));
  BOOST_TEST(s.remote_endpoint() == w.peer(acc));
}

BOOST_AUTO_TEST_CASE(peer_fin_gives_data_then_eof) {
  world w;
  auto acc = w.listen();
  send_and_close_server(acc, "goodbye", false);
  synack::asio::socket s(*w.stack);
  std::string got;
  error_code last;
  call_count done;
  s.async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_REQUIRE(!ec);
    net::async_read(s, net::dynamic_buffer(got), [&](error_code e, std::size_t) { last = e; ++done.calls; });
  });
  w.run_until([&] { return done.calls == 1; });
  BOOST_TEST(got == "goodbye");
  BOOST_TEST((last == net::error::eof));
}

BOOST_AUTO_TEST_CASE(peer_rst_gives_connection_reset_then_broken_pipe) {
  world w;
  auto acc = w.listen();
  send_and_close_server(acc, "", true);  // SO_LINGER 0 close: RST
  synack::asio::socket s(*w.stack);
  std::array<char, 16> buf{};
  error_code rec, wec;
  call_count h;
  s.async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_REQUIRE(!ec);
    s.async_read_some(net::buffer(buf), [&](error_code e, std::size_t) {
      rec = e;
      s.async_write_some(net::buffer(buf), [&](error_code e2, std::size_t) { wec = e2; ++h.calls; });
    });
  });
  w.run_until([&] { return h.calls == 1; });
  BOOST_TEST((rec == net::error::connection_reset), rec.message());
  BOOST_TEST((wec == net::error::broken_pipe), wec.message());
}

BOOST_AUTO_TEST_CASE(cancel_and_close_abort_pending_operations) {
  world w;
  auto acc = w.listen();
  hold_server(acc);  // accepts and sends nothing
  synack::asio::socket s(*w.stack);
  BOOST_TEST_REQUIRE(!w.connect(s, w.peer(acc)));
  std::array<char, 16> buf{};
  error_code e1, e2;
  call_count r1, r2;
  s.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { e1 = ec; ++r1.calls; });
  w.run_for(20ms);
  BOOST_TEST(r1.calls == 0);
  s.cancel();
  w.run_until([&] { return r1.calls == 1; });
  BOOST_TEST((e1 == net::error::operation_aborted));
  // Still usable after cancel; close() aborts the next pending read too.
  s.async_read_some(net::buffer(buf), [&](error_code ec, std::size_t) { e2 = ec; ++r2.calls; });
  w.run_for(10ms);
  s.close();
  w.run_until([&] { return r2.calls == 1; });
  w.run_for(10ms);
  BOOST_TEST(r1.calls == 1);
  BOOST_TEST(r2.calls == 1);
  BOOST_TEST((e2 == net::error::operation_aborted));
  BOOST_TEST(!s.is_open());
}

BOOST_AUTO_TEST_CASE(per_operation_cancellation_aborts_only_that_operation) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  BOOST_TEST_REQUIRE(!w.connect(s, w.peer(acc)));
  net::cancellation_signal sig;
  std::array<char, 4> buf{};
  error_code got;
  call_count r;
  s.async_read_some(net::buffer(buf), net::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::size_t) {
                      got = ec;
                      ++r.calls;
                    }));
  w.run_for(10ms);
  sig.emit(net::cancellation_type::terminal);
  BOOST_TEST(r.calls == 0);  // posted, not inline
  w.run_until([&] { return r.calls == 1; });
  BOOST_TEST((got == net::error::operation_aborted));
  // The socket goes on working.
  std::string msg = "ok";
  std::array<char, 2> back{};
  call_count d;
  net::async_write(s, net::buffer(msg), [&](error_code ec, std::size_t) { BOOST_TEST(!ec); });
  net::async_read(s, net::buffer(back), [&](error_code ec, std::size_t) { BOOST_TEST(!ec); ++d.calls; });
  w.run_until([&] { return d.calls == 1; });
  BOOST_TEST(std::string(back.data(), 2) == "ok");
}

BOOST_AUTO_TEST_CASE(cancelled_connect_is_operation_aborted) {
  world w;
  synack::asio::socket s(*w.stack);
  net::cancellation_signal sig;
  error_code got;
  call_count h;
  // 10.200.0.3 never answers ARP: the connect stays pending until cancelled.
  s.async_connect({nobody_addr, 80}, net::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
                    got = ec;
                    ++h.calls;
                  }));
  w.run_for(20ms);
  sig.emit(net::cancellation_type::total);
  w.run_until([&] { return h.calls == 1; });
  w.run_for(400ms);  // the ARP give-up must not complete it a second time
  BOOST_TEST(h.calls == 1);
  BOOST_TEST((got == net::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(half_close_reads_everything_after_shutdown_send) {
  world w;
  auto acc = w.listen();
  upper_after_eof_server(acc);  // reads to eof, then sends it back upper-cased and closes
  synack::asio::socket s(*w.stack);
  std::string msg(100000, 'q'), got;
  error_code last, after;
  call_count h;
  s.async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_REQUIRE(!ec);
    net::async_write(s, net::buffer(msg), [&](error_code e, std::size_t) {
      BOOST_REQUIRE(!e);
      s.shutdown(net::socket_base::shutdown_send);
      s.async_write_some(net::buffer(msg), [&](error_code e2, std::size_t) { after = e2; });
      net::async_read(s, net::dynamic_buffer(got), [&](error_code e3, std::size_t) { last = e3; ++h.calls; });
    });
  });
  w.run_until([&] { return h.calls == 1; }, 20s);
  BOOST_TEST((after == net::error::broken_pipe));
  BOOST_TEST((last == net::error::eof));
  BOOST_TEST(got == std::string(100000, 'Q'));
}

BOOST_AUTO_TEST_CASE(handler_executor_and_allocator_are_used) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  auto strand = net::make_strand(w.ctx);
  call_count h;
  counting_allocator<void>::reset();
  s.async_connect(w.peer(acc), net::bind_executor(strand, [&](error_code ec) {
                    BOOST_TEST(!ec);
                    BOOST_TEST(strand.running_in_this_thread());
                    ++h.calls;
                  }));
  w.run_until([&] { return h.calls == 1; });
  std::array<char, 3> buf{'x', 'y', 'z'};
  call_count r;
  net::async_write(s, net::buffer(buf), [](error_code, std::size_t) {});
  s.async_read_some(net::buffer(buf), with_counting_allocator([&](error_code ec, std::size_t n) {
                      BOOST_TEST(!ec);
                      BOOST_TEST(n > 0u);
                      // The operation's memory came from our allocator and is back already.
                      BOOST_TEST(counting_allocator<void>::allocations() >= 1);
                      BOOST_TEST(counting_allocator<void>::outstanding() == 0);
                      ++r.calls;
                    }));
  w.run_until([&] { return r.calls == 1; });
}

BOOST_AUTO_TEST_CASE(options_round_trip_and_buffer_size_before_connect_only) {
  world w;
  auto acc = w.listen();
  echo_server(acc);
  synack::asio::socket s(*w.stack);
  s.open();
  s.set_option(net::ip::tcp::no_delay(true));
  s.set_option(net::socket_base::keep_alive(true));
  s.set_option(net::socket_base::linger(true, 0));
  s.set_option(net::socket_base::receive_buffer_size(256 * 1024));
  s.set_option(net::socket_base::send_buffer_size(128 * 1024));
  s.set_option(tcp_option::max_segment_size(1200));
  s.set_option(tcp_option::keepalive_timing{60s, 5s, 3});
  s.set_option(tcp_option::user_timeout(5000ms));
  net::ip::tcp::no_delay nd;
  s.get_option(nd);
  BOOST_TEST(nd.value());
  net::socket_base::linger lg;
  s.get_option(lg);
  BOOST_TEST(lg.enabled());
  BOOST_TEST(lg.timeout() == 0);
  net::socket_base::receive_buffer_size rb;
  s.get_option(rb);
  BOOST_TEST(rb.value() == 256 * 1024);
  error_code ec;
  s.set_option(tcp_option::congestion_control("bbr"), ec);
  BOOST_TEST((ec == error::errc::option_not_supported));
  BOOST_TEST_REQUIRE(!w.connect(s, w.peer(acc)));
  s.set_option(net::socket_base::receive_buffer_size(1024), ec);
  BOOST_TEST((ec == error::errc::option_after_connect));
  BOOST_TEST(ec.category().name() == std::string("synack.asio"));
}

BOOST_AUTO_TEST_CASE(available_counts_received_bytes) {
  world w;
  auto acc = w.listen();
  send_and_close_server(acc, "0123456789", false);
  synack::asio::socket s(*w.stack);
  call_count c;
  s.async_connect(w.peer(acc), [&](error_code) { ++c.calls; });
  w.run_until([&] { return c.calls == 1 && s.available() == 10; });
  BOOST_TEST(s.available() == 10u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::asio::test
