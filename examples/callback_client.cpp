// A callback client on synack's TCP: connect, send an HTTP/1.0 request, print the response.
//
//   sudo ./example_callback_client 10.111.0.2 8080 /index.html
//
// Shows the stack/socket pair with plain completion handlers: async_connect, async_write (a
// composed Asio operation over the socket's async_write_some), async_read_some until eof, then
// stop() so io_context::run() returns.
#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include "synack/asio.hpp"

namespace net = boost::asio;
using boost::system::error_code;

namespace {

class client : public std::enable_shared_from_this<client> {
public:
  client(synack::asio::stack& stack, net::ip::tcp::endpoint peer, std::string target)
      : stack_(stack), socket_(stack), peer_(peer), request_("GET " + target + " HTTP/1.0\r\nHost: " +
                                                           peer.address().to_string() + "\r\n\r\n") {}

  void start() {
    socket_.async_connect(peer_, [self = shared_from_this()](error_code ec) { self->on_connect(ec); });
  }

private:
  void on_connect(error_code ec) {
    if (ec) return fail("connect", ec);
    std::fprintf(stderr, "connected %s -> %s\n", socket_.local_endpoint().address().to_string().c_str(),
                 socket_.remote_endpoint().address().to_string().c_str());
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](error_code e, std::size_t) { self->on_write(e); });
  }

  void on_write(error_code ec) {
    if (ec) return fail("write", ec);
    read();
  }

  void read() {
    socket_.async_read_some(net::buffer(buf_), [self = shared_from_this()](error_code ec, std::size_t n) {
      if (n > 0) std::fwrite(self->buf_.data(), 1, n, stdout);
      if (ec == net::error::eof) return self->done();
      if (ec) return self->fail("read", ec);
      self->read();
    });
  }

  void done() {
    socket_.close();  // graceful: our FIN
    stack_.stop();    // lets io_context::run() return
  }

  void fail(const char* what, error_code ec) {
    std::fprintf(stderr, "%s: %s\n", what, ec.message().c_str());
    stack_.stop();
  }

  synack::asio::stack& stack_;
  synack::asio::socket socket_;
  net::ip::tcp::endpoint peer_;
  std::string request_;
  std::array<char, 16384> buf_{};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s IPV4 PORT [PATH]\n", argv[0]);
    return 2;
  }
  try {
    net::io_context ctx(1);
    auto addr = net::ip::make_address(argv[1]);  // IPv4 or IPv6
    synack::engine::options opts;  // interface and source from the route to addr
    synack::asio::stack stack(ctx, opts, addr);
    auto c = std::make_shared<client>(stack, net::ip::tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(argv[2]))),
                                      argc > 3 ? argv[3] : "/");
    c->start();
    ctx.run();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
