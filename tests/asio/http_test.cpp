// The ecosystem on synack's socket: Beast HTTP, Asio SSL (ssl::stream over the socket, OpenSSL
// against an OpenSSL kernel peer), Beast websocket (teardown customisation point), and composed
// operations failing at the n-th underlying operation.
#include <string>
#include <type_traits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "asio/failing_stream.hpp"
#include "asio/fixture.hpp"
#include "asio/peers.hpp"

namespace synack::asio::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;

namespace {

std::string body_of(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('A' + (i * 7) % 26);
  return s;
}

// A Beast HTTP/1.1 server on a kernel socket: answers each GET with body_of(size) where size is
// the target's number ("/1000"), one request per connection.
template <class Stream>
net::awaitable<void> serve_http(Stream& stream) {
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  auto [ec, n] = co_await http::async_read(stream, buf, req, tuple_awaitable);
  if (ec) co_return;
  std::size_t size = std::stoul(std::string(req.target().substr(1)));
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::content_type, "application/octet-stream");
  res.keep_alive(false);
  res.body() = body_of(size);
  res.prepare_payload();
  co_await http::async_write(stream, res, tuple_awaitable);
}

void http_server(net::ip::tcp::acceptor& acc) {
  net::co_spawn(
      acc.get_executor(),
      [&acc]() -> net::awaitable<void> {
        for (;;) {
          auto [aec, sock] = co_await acc.async_accept(tuple_awaitable);
          if (aec) co_return;
          net::co_spawn(
              acc.get_executor(),
              [s = std::move(sock)]() mutable -> net::awaitable<void> {
                co_await serve_http(s);
                error_code ignored;
                s.shutdown(net::socket_base::shutdown_send, ignored);
              },
              net::detached);
        }
      },
      net::detached);
}

void https_server(net::ip::tcp::acceptor& acc, ssl::context& tls) {
  net::co_spawn(
      acc.get_executor(),
      [&acc, &tls]() -> net::awaitable<void> {
        for (;;) {
          auto [aec, sock] = co_await acc.async_accept(tuple_awaitable);
          if (aec) co_return;
          net::co_spawn(
              acc.get_executor(),
              [s = ssl::stream<net::ip::tcp::socket>(std::move(sock), tls)]() mutable -> net::awaitable<void> {
                auto [hec] = co_await s.async_handshake(ssl::stream_base::server, tuple_awaitable);
                if (hec) co_return;
                co_await serve_http(s);
                co_await s.async_shutdown(tuple_awaitable);
              },
              net::detached);
        }
      },
      net::detached);
}

ssl::context server_tls() {
  ssl::context ctx(ssl::context::tls_server);
  ctx.use_certificate_chain(net::buffer(std::string(test_cert_pem)));
  ctx.use_private_key(net::buffer(std::string(test_key_pem)), ssl::context::pem);
  return ctx;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ecosystem, *boost::unit_test::precondition(link::test::root_available))

BOOST_AUTO_TEST_CASE(beast_http_request_and_response) {
  world w;
  auto acc = w.listen();
  http_server(acc);
  synack::asio::socket s(*w.stack);
  bool done = false;
  http::response<http::string_body> res;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        co_await s.async_connect(w.peer(acc), net::use_awaitable);
        http::request<http::empty_body> req{http::verb::get, "/300000", 11};
        req.set(http::field::host, "10.200.0.2");
        co_await http::async_write(s, req, net::use_awaitable);
        beast::flat_buffer buf;
        co_await http::async_read(s, buf, res, net::use_awaitable);
        done = true;
      },
      net::detached);
  w.run_until([&] { return done; }, 20s);
  BOOST_TEST(res.result_int() == 200u);
  BOOST_TEST((res.body() == body_of(300000)));
}

BOOST_AUTO_TEST_CASE(tls_handshake_and_transfer_over_ssl_stream) {
  world w;
  auto acc = w.listen();
  ssl::context server = server_tls();
  https_server(acc, server);
  ssl::context client(ssl::context::tls_client);
  client.add_certificate_authority(net::buffer(std::string(test_cert_pem)));
  client.set_verify_mode(ssl::verify_peer);
  static_assert(std::is_same_v<ssl::stream<synack::asio::socket>::lowest_layer_type, synack::asio::socket>);
  ssl::stream<synack::asio::socket> s(*w.stack, client);
  s.set_verify_callback(ssl::host_name_verification("10.200.0.2"));
  bool done = false;
  error_code shut;
  http::response<http::string_body> res;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        co_await s.lowest_layer().async_connect(w.peer(acc), net::use_awaitable);
        co_await s.async_handshake(ssl::stream_base::client, net::use_awaitable);
        http::request<http::empty_body> req{http::verb::get, "/1000000", 11};
        req.set(http::field::host, "10.200.0.2");
        co_await http::async_write(s, req, net::use_awaitable);
        beast::flat_buffer buf;
        co_await http::async_read(s, buf, res, net::use_awaitable);
        std::tie(shut) = co_await s.async_shutdown(net::as_tuple(net::use_awaitable));
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  w.run_until([&] { return done; }, 30s);
  BOOST_TEST(res.result_int() == 200u);
  BOOST_TEST((res.body() == body_of(1000000)));
  // The peer answers close_notify and closes: success or a truncated-stream eof.
  BOOST_TEST((!shut || shut == net::error::eof || shut == ssl::error::stream_truncated), shut.message());
}

BOOST_AUTO_TEST_CASE(tls_handshake_with_unknown_ca_fails_verification) {
  world w;
  auto acc = w.listen();
  ssl::context server = server_tls();
  https_server(acc, server);
  ssl::context client(ssl::context::tls_client);
  client.set_verify_mode(ssl::verify_peer);  // no CA: the self-signed certificate is unknown
  ssl::stream<synack::asio::socket> s(*w.stack, client);
  error_code hs;
  call_count h;
  s.lowest_layer().async_connect(w.peer(acc), [&](error_code ec) {
    BOOST_REQUIRE(!ec);
    s.async_handshake(ssl::stream_base::client, [&](error_code e) { hs = e; ++h.calls; });
  });
  w.run_until([&] { return h.calls == 1; });
  BOOST_TEST(bool(hs));
  BOOST_TEST((hs.category() == net::error::get_ssl_category()), hs.message());
}

BOOST_AUTO_TEST_CASE(beast_websocket_echo_and_close_uses_teardown) {
  world w;
  auto acc = w.listen();
  net::co_spawn(
      w.ctx,
      [&acc]() -> net::awaitable<void> {
        auto [aec, sock] = co_await acc.async_accept(tuple_awaitable);
        if (aec) co_return;
        beast::websocket::stream<net::ip::tcp::socket> ws(std::move(sock));
        co_await ws.async_accept(net::use_awaitable);
        for (;;) {
          beast::flat_buffer b;
          auto [ec, n] = co_await ws.async_read(b, tuple_awaitable);
          if (ec) co_return;
          co_await ws.async_write(b.data(), net::use_awaitable);
        }
      },
      net::detached);
  beast::websocket::stream<synack::asio::socket> ws(*w.stack);
  bool done = false;
  std::string echoed;
  net::co_spawn(
      w.ctx,
      [&]() -> net::awaitable<void> {
        co_await beast::get_lowest_layer(ws).async_connect(w.peer(acc), net::use_awaitable);
        co_await ws.async_handshake("10.200.0.2", "/", net::use_awaitable);
        co_await ws.async_write(net::buffer(std::string("over synack")), net::use_awaitable);
        beast::flat_buffer b;
        co_await ws.async_read(b, net::use_awaitable);
        echoed = beast::buffers_to_string(b.data());
        co_await ws.async_close(beast::websocket::close_code::normal, net::use_awaitable);
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  w.run_until([&] { return done; });
  BOOST_TEST(echoed == "over synack");
  BOOST_TEST(!beast::get_lowest_layer(ws).is_open());  // async_teardown closed it
}

// Beast's pattern: run the whole exchange once per underlying operation, failing that one; the
// composed operation must complete exactly once with the injected error, and once n is past the
// last operation the exchange succeeds.
BOOST_AUTO_TEST_CASE(http_exchange_fails_cleanly_at_every_nth_operation) {
  world w;
  auto acc = w.listen();
  http_server(acc);
  const error_code injected = net::error::connection_reset;
  bool succeeded = false;
  std::size_t n = 1;
  for (; n < 50 && !succeeded; ++n) {
    synack::asio::socket s(*w.stack);
    call_count c;
    s.async_connect(w.peer(acc), [&](error_code ec) {
      BOOST_REQUIRE(!ec);
      ++c.calls;
    });
    w.run_until([&] { return c.calls == 1; });
    failing_stream<synack::asio::socket&> fs(s, n, injected);
    http::request<http::empty_body> req{http::verb::get, "/20000", 11};
    req.set(http::field::host, "10.200.0.2");
    http::response<http::string_body> res;
    beast::flat_buffer buf;
    call_count h;
    error_code result;
    http::async_write(fs, req, [&](error_code ec, std::size_t) {
      if (ec) {
        result = ec;
        ++h.calls;
        return;
      }
      http::async_read(fs, buf, res, [&](error_code e, std::size_t) {
        result = e;
        ++h.calls;
      });
    });
    w.run_until([&] { return h.calls > 0; }, 10s);
    w.run_for(5ms);
    BOOST_TEST(h.calls == 1, "n=" << n);
    if (!result) {
      succeeded = true;
      BOOST_TEST((res.body() == body_of(20000)));
      BOOST_TEST(fs.operations() < n);  // the failure point lay beyond the last operation
    } else {
      BOOST_TEST((result == injected), "n=" << n << ": " << result.message());
    }
  }
  BOOST_TEST(succeeded);
  BOOST_TEST(n > 2u);  // at least one write and one read were failed on the way
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::asio::test
