// synack get URL: HTTP/1.1 GET over synack's own TCP (the Asio front end) with Beast, plain or
// TLS (Asio SSL over OpenSSL). The body goes to -o FILE or stdout; the status and a timing
// breakdown (TCP handshake, TLS handshake, first byte, total, rate) go to stderr.
//
// Several URLs in one invocation are downloaded concurrently on the same stack (one io_context,
// one engine, one coroutine per download, at most --parallel at a time); each body goes to
// -O DIR/<basename of the URL's path>, and each stderr line is prefixed with its URL.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "common.hpp"
#include "ladder.hpp"
#include "pcap_writer.hpp"
#include "stats_file.hpp"
#include "synack/asio.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"

namespace synack::tools {

namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace http = boost::beast::http;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;

struct get_options {
  common_options common;
  std::vector<std::string> urls;
  std::string output;      // -o FILE (one URL only)
  std::string output_dir;  // -O DIR: each body to DIR/<basename of the URL path>
  unsigned parallel = 0;   // --parallel N: at most N downloads at once (0: all)
  bool follow = false;
  unsigned max_redirects = 10;
  std::string cacert;
  bool insecure = false;
  double max_time_s = 0;
  bool ladder = false;
  std::string stats_file;           // --stats FILE: the engine's counters as JSON at exit
  std::optional<unsigned> retries;  // --retries N: data retransmissions before timed_out
};

struct url_parts {
  bool tls = false;
  std::string host;  // without brackets: a name, an IPv4 literal or an IPv6 literal
  std::uint16_t port = 80;
  std::string target = "/";

  // The host as a URL writes it: an IPv6 literal in brackets (RFC 3986 3.2.2).
  std::string host_text() const {
    if (host.find(':') == std::string::npos) return host;
    std::string h = "[";
    h.append(host).append("]");
    return h;
  }
  // The Host header (RFC 7230 5.4: the URL's authority, brackets kept), the port unless default.
  std::string host_header() const {
    bool default_port = (tls && port == 443) || (!tls && port == 80);
    std::string h = host_text();
    if (!default_port) h.append(":").append(std::to_string(port));
    return h;
  }
  // HOST:PORT, [IPv6]:PORT.
  std::string authority() const {
    std::string h = host_text();
    h.append(":").append(std::to_string(port));
    return h;
  }
};

// wire::ip_addr -> the Asio address of the same family.
net::ip::address to_asio(const wire::ip_addr& a) {
  if (a.is_v4()) return net::ip::address_v4(a.v4().value);
  net::ip::address_v6::bytes_type b{};
  std::copy(a.v6().octets.begin(), a.v6().octets.end(), b.begin());
  return net::ip::address_v6(b);
}

// "1.2.3.4:80", "[fd00::2]:80".
std::string endpoint_text(const net::ip::tcp::endpoint& e) {
  std::string s;
  if (e.address().is_v6()) {
    s.append("[").append(e.address().to_string()).append("]");
  } else {
    s.append(e.address().to_string());
  }
  s.append(":").append(std::to_string(e.port()));
  return s;
}

url_parts parse_url(const std::string& url) {
  url_parts u;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    u.port = 443;
    rest = url.substr(8);
  } else {
    throw link::setup_error(link::setup_errc::invalid_argument,
                            "URL '" + url + "' must start with http:// or https://");
  }
  std::size_t slash = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (u.target.empty() || u.target[0] != '/') u.target = "/" + u.target;
  if (authority.find('@') != std::string::npos)
    throw link::setup_error(link::setup_errc::invalid_argument, "user:password@ in URLs is not supported");
  bool bracketed = false;
  std::optional<std::string> port_text;  // what follows the host's ':' (RFC 3986 3.2.3), if any
  if (!authority.empty() && authority.front() == '[') {  // [IPv6] or [IPv6]:PORT (RFC 3986 3.2.2)
    std::size_t close = authority.find(']');
    if (close == std::string::npos)
      throw link::setup_error(link::setup_errc::invalid_argument, "missing ']' in URL '" + url + "'");
    std::string literal = authority.substr(1, close - 1);
    auto a = wire::ip_addr::parse(literal);
    if (!a || !a->is_v6())
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "bad IPv6 literal '" + literal + "' in URL '" + url + "'");
    std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      throw link::setup_error(link::setup_errc::invalid_argument, "junk after ']' in URL '" + url + "'");
    if (!after.empty()) port_text = after.substr(1);
    authority = literal;
    bracketed = true;
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    if (authority.find(':') != colon)  // two colons or more: an IPv6 literal without brackets
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "an IPv6 address in a URL goes in brackets: http://[ADDR]:PORT/ ('" + url + "')");
    port_text = authority.substr(colon + 1);
    authority.resize(colon);
  }
  if (port_text) {
    char* end = nullptr;
    unsigned long v = std::strtoul(port_text->c_str(), &end, 10);
    if (port_text->empty() || *end != '\0' || v == 0 || v > 65535)
      throw link::setup_error(link::setup_errc::invalid_argument, "bad port in URL '" + url + "' (1-65535)");
    u.port = static_cast<std::uint16_t>(v);
  }
  if (authority.empty()) throw link::setup_error(link::setup_errc::invalid_argument, "URL '" + url + "' has no host");
  if (!bracketed && authority.find(':') != std::string::npos)
    throw link::setup_error(link::setup_errc::invalid_argument,
                            "an IPv6 address in a URL goes in brackets: http://[" + authority + "]:PORT/ ('" + url + "')");
  u.host = authority;
  return u;
}

// Resolves a Location header against the current URL.
std::string resolve_location(const url_parts& base, const std::string& loc) {
  if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) return loc;
  std::string origin = std::string(base.tls ? "https://" : "http://") + base.host_header();
  if (loc.rfind("//", 0) == 0) return std::string(base.tls ? "https:" : "http:") + loc;
  if (!loc.empty() && loc[0] == '/') return origin + loc;
  std::string dir = base.target.substr(0, base.target.rfind('/') + 1);
  return origin + dir + loc;
}

double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Records when the first byte of the response arrived (the first read that returned data).
template <class Stream>
class first_byte_stream {
public:
  using executor_type = typename Stream::executor_type;
  explicit first_byte_stream(Stream& s) : s_(s) {}
  executor_type get_executor() { return s_.get_executor(); }
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return net::async_initiate<Token, void(error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          s_.async_read_some(bufs, [this, h = std::move(handler)](error_code ec, std::size_t n) mutable {
            if (n > 0 && !first) first = clock_type::now();
            std::move(h)(ec, n);
          });
        },
        token, b);
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return s_.async_write_some(b, std::forward<Token>(token));
  }
  std::optional<clock_type::time_point> first;

private:
  Stream& s_;
};

struct outcome {
  int exit = exit_ok;
  std::string redirect;  // a Location to follow
};

// -O DIR: the file name for a URL, the last segment of its path (no query), "index.html" when
// that is empty, "." or "..".
std::string output_name(const std::string& url) {
  std::string target = parse_url(url).target;
  if (auto q = target.find('?'); q != std::string::npos) target.resize(q);
  std::string base = target.substr(target.rfind('/') + 1);
  if (base.empty() || base == "." || base == "..") base = "index.html";
  return base;
}

// What every download of one run shares: the stack (one engine, one interface), --pcap, --ladder.
class session {
public:
  session(const get_options& o, net::io_context& ctx) : o_(o), ctx_(ctx) {}

  synack::asio::stack& stack_for(const host_port& hp) {
    if (!stack_) {
      engine::options eo = to_engine_options(o_.common);
      // A bulk download: 512 ring slots, so the receive window (slots x MSS) is ~740 KB.
      eo.rx_ring_bytes = 32 << 20;
      if (o_.retries) eo.tcp.data_retries = *o_.retries;
      stack_.emplace(ctx_, eo, to_asio(hp.addr));  // the route hint: the address used (either family)
      if (o_.common.trace || o_.ladder)
        stack_->engine().on_segment([this](engine::direction d, tcp::instant at, const wire::four_tuple& t,
                                           const tcp::segment& s, tcp::state st) {
          if (o_.common.trace) std::fprintf(stderr, "%s\n", format_segment(d, t, s, st).c_str());
          if (o_.ladder) {
            ladder_.segment(d, at, t, s, st);
            if (std::find(ladder_order_.begin(), ladder_order_.end(), t) == ladder_order_.end())
              ladder_order_.push_back(t);
          }
        });
      if (!o_.common.pcap.empty()) {
        pcap_.emplace(o_.common.pcap);
        stack_->engine().on_frame([this](engine::direction d, tcp::instant, std::span<const std::byte> f) {
          pcap_->on_frame(stack_->engine(), d, f);
        });
      }
    }
    return *stack_;
  }
  bool has_stack() const { return stack_.has_value(); }
  synack::asio::stack& stack() { return *stack_; }

  void stop() {
    if (stack_ && !o_.stats_file.empty()) write_stats_file(o_.stats_file, stats_json(stack_->engine(), nullptr));
    if (stack_) stack_->stop();
  }
  // --ladder: every connection of the run (redirects and several URLs make several), in the order
  // they began.
  void print_ladders() {
    for (const auto& t : ladder_order_)
      if (ladder_.has(t)) std::fputs(ladder_.render(t).c_str(), stderr);
  }

private:
  const get_options& o_;
  net::io_context& ctx_;
  std::optional<synack::asio::stack> stack_;
  std::optional<pcap_writer> pcap_;
  ladder_recorder ladder_;
  std::vector<wire::four_tuple> ladder_order_;
};

// One URL: its redirects, its connection, its output. `prefix` ("URL: " when there are several)
// starts each of its stderr lines after "synack get: ".
class getter {
public:
  getter(const get_options& o, session& s, net::io_context& ctx, std::string url, std::string output,
         std::string prefix)
      : o_(o), session_(s), timer_(ctx), url_(std::move(url)), output_(std::move(output)), prefix_(std::move(prefix)) {}

  net::awaitable<int> run() {
    if (interrupted_) {
      say(std::string("not started: ") + interrupted_);
      co_return exit_network;
    }
    std::string url = url_;
    for (unsigned hop = 0;; ++hop) {
      url_parts u = parse_url(url);
      outcome r = co_await fetch(u);
      if (r.redirect.empty()) co_return r.exit;
      if (hop >= o_.max_redirects) {
        say(fmt::format("too many redirects ({})", o_.max_redirects));
        co_return exit_network;
      }
      url = resolve_location(u, r.redirect);
      say("following redirect to " + url);
    }
  }

  void interrupt(const char* why) {
    interrupted_ = why;
    if (socket_) {
      error_code ignored;
      socket_->close(ignored);
    }
  }
  const std::string& url() const { return url_; }

private:
  // "synack get: " PREFIX MESSAGE, one line on stderr.
  void say(const std::string& msg) {
    std::string line = "synack get: " + prefix_ + msg + "\n";
    std::fputs(line.c_str(), stderr);
  }

  net::awaitable<outcome> fetch(const url_parts& u) {
    host_port hp = resolve_host(u.host, o_.common.family);
    if (!hp.literal && hp.resolved.size() > 1) say("resolved " + hp.name + " to " + hp.addr.to_string());
    synack::asio::stack& st = session_.stack_for(hp);
    socket_.emplace(st);
    net::ip::tcp::endpoint peer(to_asio(hp.addr), u.port);

    auto t0 = clock_type::now();
    auto [cec] = co_await socket_->async_connect(peer, net::as_tuple(net::use_awaitable));
    if (cec) {
      // An ICMP error says who answered: "connect to H:P failed: Connection refused (ICMP port
      // unreachable from 10.88.2.2)".
      std::string what = "connect to " + u.authority();
      // The connection's own error event says whether ICMP ended it (not the engine's last ICMP
      // from that host, which may be stale: a plain RST or timeout shows no origin).
      if (auto icmp = socket_->error_icmp())
        co_return fail(what, cec, " (" + icmp_text(*icmp) + ")");
      co_return fail(what, cec);
    }
    auto t_conn = clock_type::now();
    say(fmt::format("connected {} -> {} via {}", endpoint_text(socket_->local_endpoint()), endpoint_text(peer),
                    st.engine().interface().name));

    outcome r;
    if (u.tls) {
      ssl::context tls(ssl::context::tls_client);
      if (o_.insecure) {
        tls.set_verify_mode(ssl::verify_none);
      } else {
        tls.set_verify_mode(ssl::verify_peer);
        error_code ec;
        if (o_.cacert.empty())
          tls.set_default_verify_paths(ec);
        else
          tls.load_verify_file(o_.cacert, ec);
        if (ec)
          throw link::setup_error(link::setup_errc::invalid_argument,
                                  "cannot load CA certificates" + (o_.cacert.empty() ? std::string() : " from " + o_.cacert) +
                                      ": " + ec.message());
      }
      ssl::stream<synack::asio::socket&> s(*socket_, tls);
      if (!o_.insecure) s.set_verify_callback(ssl::host_name_verification(u.host));
      // SNI for names only (RFC 6066 3: no IP literals, of either family).
      if (!wire::ip_addr::parse(u.host)) SSL_set_tlsext_host_name(s.native_handle(), u.host.c_str());  // SNI
      auto [hec] = co_await s.async_handshake(ssl::stream_base::client, net::as_tuple(net::use_awaitable));
      if (hec) {
        std::string hint = o_.insecure ? "" : " (pass --cacert FILE for a private CA, or --insecure)";
        co_return fail("TLS handshake with " + u.host + hint, hec);
      }
      auto t_tls = clock_type::now();
      r = co_await exchange(s, u, t0, t_conn, t_tls);
      if (r.exit == exit_ok || !r.redirect.empty()) {
        // close_notify both ways, bounded: a server may just close instead.
        co_await s.async_shutdown(net::as_tuple(net::use_awaitable));
      }
    } else {
      r = co_await exchange(*socket_, u, t0, t_conn, std::nullopt);
    }
    co_await finish_close();
    co_return r;
  }

  template <class Stream>
  net::awaitable<outcome> exchange(Stream& s, const url_parts& u, clock_type::time_point t0,
                                   clock_type::time_point t_conn, std::optional<clock_type::time_point> t_tls) {
    http::request<http::empty_body> req{http::verb::get, u.target, 11};
    req.set(http::field::host, u.host_header());
    req.set(http::field::user_agent, "synack/" SYNACK_VERSION);
    req.set(http::field::accept, "*/*");
    req.set(http::field::connection, "close");
    first_byte_stream<Stream> fs(s);
    auto [wec, wn] = co_await http::async_write(fs, req, net::as_tuple(net::use_awaitable));
    if (wec) co_return fail("sending the request", wec);

    boost::beast::flat_buffer buf;
    http::response_parser<http::buffer_body> p;
    p.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(fs, buf, p, net::as_tuple(net::use_awaitable));
    if (hec) co_return fail("reading the response header", hec);
    const auto& res = p.get();
    unsigned status = res.result_int();
    say(fmt::format("HTTP/{}.{} {} {}", res.version() / 10, res.version() % 10, status, std::string(res.reason())));

    outcome r;
    bool redirect = status >= 300 && status < 400 && res.find(http::field::location) != res.end();
    if (redirect) {
      std::string loc(res[http::field::location]);
      if (o_.follow) {
        r.redirect = loc;
        co_return r;  // the body of a redirect is not wanted
      }
      say("redirect to " + loc + " not followed (pass -L to follow)");
    }

    std::FILE* out = stdout;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
    if (!output_.empty()) {
      file.reset(std::fopen(output_.c_str(), "wb"));
      if (!file)
        throw link::setup_error(link::setup_errc::invalid_argument, "cannot write " + output_ + ": " + std::strerror(errno));
      out = file.get();
    }
    auto chunk = std::make_unique<std::array<char, 64 * 1024>>();
    // Beast reads at most capacity - size into `buf` (its read_size), and after the header that
    // capacity is ~1.5 KB: every read would take one segment's worth and hand the window back in
    // MSS-sized steps (measured: the peer stalled on a 1.5 KB window, 80 Mbit/s). 64 KiB reads.
    buf.reserve(chunk->size());
    std::uint64_t bytes = 0;
    while (!p.is_done()) {
      p.get().body().data = chunk->data();
      p.get().body().size = chunk->size();
      auto [ec, n] = co_await http::async_read(fs, buf, p, net::as_tuple(net::use_awaitable));
      if (ec == http::error::need_buffer) ec = {};
      std::size_t got = chunk->size() - p.get().body().size;
      if (got > 0 && std::fwrite(chunk->data(), 1, got, out) != got)
        throw link::setup_error(link::setup_errc::system, "writing the body failed: " + std::string(std::strerror(errno)));
      bytes += got;
      if (ec) co_return fail("reading the body after " + std::to_string(bytes) + " bytes", ec);
    }
    std::fflush(out);
    if (file && std::fclose(file.release()) != 0)
      throw link::setup_error(link::setup_errc::system, "writing " + output_ + " failed: " + std::strerror(errno));
    auto t_end = clock_type::now();

    double total_ms = ms(t_end - t0);
    std::string line = fmt::format("handshake {:.3f} ms", ms(t_conn - t0));
    if (t_tls) line += fmt::format(", tls {:.3f} ms", ms(*t_tls - t_conn));
    if (fs.first) line += fmt::format(", first byte {:.3f} ms", ms(*fs.first - t0));
    double rate = total_ms > 0 ? static_cast<double>(bytes) / (total_ms / 1000.0) : 0.0;
    line += fmt::format(", total {:.3f} ms, {} bytes, {:.0f} bytes/s ({:.1f} Mbit/s)", total_ms, bytes, rate,
                        rate * 8 / 1e6);
    if (auto t = socket_->tuple())
      if (tcp::connection* c = session_.stack().engine().find(*t))
        line += fmt::format(", {} retransmits", c->stats().retransmits);
    say(line);
    r.exit = (status >= 200 && status < 300) ? exit_ok : exit_network;
    co_return r;
  }

  // Graceful close, and a short wait for the four-way close so the peer is not left half-open.
  net::awaitable<void> finish_close() {
    std::optional<wire::four_tuple> t = socket_->tuple();
    error_code ignored;
    socket_->close(ignored);
    if (!t) co_return;
    auto until = clock_type::now() + std::chrono::milliseconds(500);
    while (clock_type::now() < until) {
      tcp::connection* c = session_.stack().engine().find(*t);
      if (!c || c->current_state() == tcp::state::time_wait || c->current_state() == tcp::state::closed) break;
      timer_.expires_after(std::chrono::milliseconds(2));
      co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  outcome fail(const std::string& what, error_code ec, const std::string& detail = {}) {
    if (interrupted_) ec = net::error::operation_aborted;
    std::string why = interrupted_ ? std::string(interrupted_) : ec.message() + detail;
    say(what + " failed: " + why);
    return {exit_network, {}};
  }

  const get_options& o_;
  session& session_;
  net::steady_timer timer_;
  std::string url_;
  std::string output_;  // empty: stdout
  std::string prefix_;
  std::optional<synack::asio::socket> socket_;
  const char* interrupted_ = nullptr;
};

// Several URLs share one stack, so one interface: without -I, every URL's host must be routed out
// of the same interface as the first one's.
void check_one_interface(const get_options& o) {
  if (o.urls.size() < 2 || !o.common.interface.empty()) return;
  link::netlink nl;
  std::optional<int> first;
  std::string first_url;
  for (const auto& url : o.urls) {
    url_parts u = parse_url(url);
    host_port hp = resolve_host(u.host, o.common.family);
    std::optional<link::route_info> r;
    int ifindex = -1;  // this host: synack's own tun device
    try {
      r = nl.route_to(hp.addr);
      if (!r)
        throw link::setup_error(link::setup_errc::no_route, "no route to " + hp.addr.to_string() + " (" + url +
                                                                "; check `ip route`, or pass -I IFACE)");
      ifindex = r->ifindex;
    } catch (const link::setup_error& e) {
      if (e.code() != link::setup_errc::own_address) throw;
    }
    auto name = [&](int index) { return index < 0 ? std::string("synack's tun (this host)") : nl.interface_by_index(index).name; };
    if (!first) {
      first = ifindex;
      first_url = url;
    } else if (ifindex != *first) {
      throw link::setup_error(
          link::setup_errc::invalid_argument,
          "all URLs of one run must be reached through the same interface (one stack): " + url + " leaves by " +
              name(ifindex) + ", " + first_url + " by " + name(*first) +
              " (run synack get once per interface, or pass -I IFACE)");
    }
  }
}

// The output file of each URL: -o FILE, stdout, or DIR/<name> with collisions within the run
// suffixed .1, .2, ... in argument order.
std::vector<std::string> output_paths(const get_options& o) {
  std::vector<std::string> paths;
  if (o.output_dir.empty()) {
    paths.push_back(o.output);  // one URL (checked): -o FILE, or stdout
    return paths;
  }
  std::set<std::string> taken;
  for (const auto& url : o.urls) {
    std::string base = output_name(url), name = base;
    for (unsigned n = 1; taken.count(name); ++n) name = base + "." + std::to_string(n);
    taken.insert(name);
    std::string dir = o.output_dir;
    if (dir.back() != '/') dir += '/';
    paths.push_back(dir + name);
  }
  return paths;
}

int run_get(const get_options& o) {
  net::io_context ctx(1);
  session sess(o, ctx);
  const bool several = o.urls.size() > 1;
  std::vector<std::string> outputs = output_paths(o);
  std::vector<std::unique_ptr<getter>> getters;
  for (std::size_t i = 0; i < o.urls.size(); ++i)
    getters.push_back(std::make_unique<getter>(o, sess, ctx, o.urls[i], outputs[i], several ? o.urls[i] + ": " : ""));
  std::vector<int> rcs(getters.size(), exit_setup);

  auto interrupt_all = [&](const char* why) {
    for (auto& g : getters) g->interrupt(why);
  };
  std::exception_ptr failure;
  net::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&](error_code ec, int) {
    if (!ec) interrupt_all("interrupted");
  });
  net::steady_timer deadline(ctx);
  if (o.max_time_s > 0) {
    deadline.expires_after(std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.max_time_s)));
    deadline.async_wait([&](error_code ec) {
      if (!ec) interrupt_all("timed out (--max-time)");
    });
  }

  // --parallel N: N workers, each taking the next URL when its current one is done.
  std::size_t workers = o.parallel == 0 ? getters.size() : std::min<std::size_t>(o.parallel, getters.size());
  std::size_t next = 0, running = workers;
  auto worker = [&]() -> net::awaitable<void> {
    while (next < getters.size()) {
      std::size_t i = next++;
      rcs[i] = co_await getters[i]->run();
    }
  };
  for (std::size_t w = 0; w < workers; ++w)
    net::co_spawn(ctx, worker(), [&](std::exception_ptr e) {
      if (e && !failure) {
        failure = e;  // a set-up error (cannot write a file, ...): the others are aborted
        next = getters.size();
        interrupt_all("aborted");
      }
      if (--running == 0) {
        signals.cancel();
        deadline.cancel();
        sess.stop();
      }
    });
  ctx.run();
  if (failure) std::rethrow_exception(failure);
  if (o.ladder) sess.print_ladders();
  std::size_t ok = static_cast<std::size_t>(std::count(rcs.begin(), rcs.end(), exit_ok));
  if (several) {
    std::fprintf(stderr, "synack get: %zu of %zu downloads complete with a 2xx%s\n", ok, rcs.size(),
                 ok == rcs.size() ? "" : "; failed:");
    for (std::size_t i = 0; i < rcs.size(); ++i)
      if (rcs[i] != exit_ok) std::fprintf(stderr, "synack get:   %s\n", o.urls[i].c_str());
  }
  return ok == rcs.size() ? exit_ok : exit_network;
}

}  // namespace

void add_get_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<get_options>();
  CLI::App* cmd = app.add_subcommand("get", "HTTP/1.1 GET over synack's own TCP (http:// and https://)");
  cmd->footer(
      "The body goes to stdout, or to FILE with -o; the status line and a timing breakdown go to stderr:\n"
      "TCP handshake, TLS handshake, first byte (from the start), total, bytes and rate.\n\n"
      "Examples:\n"
      "  synack get http://10.111.0.2:8080/index.html\n"
      "  synack get http://[fd00:111::2]:8080/index.html          IPv6 (names: -4 / -6 pick the family)\n"
      "  synack get https://example.net/ -o page.html             verified with the system CA store\n"
      "  synack get https://10.111.0.2:8443/big.bin --cacert ca.pem -o big.bin\n"
      "  synack get http://10.111.0.2:8080/old -L                 follow redirects\n"
      "  synack get http://10.111.0.2:8080/a.bin http://10.111.0.2:8080/b.bin -O dl/\n"
      "                                                           both at once, to dl/a.bin and dl/b.bin\n\n"
      "Several URLs: downloaded concurrently over one stack (one engine, one interface), each body to\n"
      "-O DIR, each stderr line prefixed by its URL, then a summary line. All the URLs' hosts must be\n"
      "reached through the same interface as the first one's (or pass -I IFACE); --parallel N bounds how\n"
      "many run at once.\n\n"
      "Exit status: 0 a 2xx response (for every URL), 1 the network or the server said no (refused,\n"
      "timed out, reset, TLS verification, non-2xx status; for any URL), 2 usage or set-up error.");
  cmd->add_option("url", o->urls,
                  "http://HOST[:PORT]/PATH, http://[IPv6]:PORT/PATH or https://...; several are downloaded at once (needs -O DIR)")
      ->required();
  cmd->add_option("-o,--output", o->output, "Write the body to FILE instead of stdout (one URL only)");
  cmd->add_option("-O,--output-dir", o->output_dir,
                  "Write each body to DIR/<last segment of the URL's path> (index.html when empty); names "
                  "used twice in one run get .1, .2, ... (existing files are overwritten)")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--parallel", o->parallel, "With several URLs, at most N downloads at once (default: all)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-L,--location", o->follow, "Follow redirects (3xx with Location)");
  cmd->add_option("--max-redirs", o->max_redirects, "Most redirects to follow with -L (default 10)");
  cmd->add_option("--cacert", o->cacert, "Verify the server against the CA certificates in FILE (PEM)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("-k,--insecure", o->insecure, "Do not verify the server's certificate");
  cmd->add_flag("--ladder", o->ladder,
                "After the transfer, draw each connection as a ladder diagram (us | peer) on stderr: one arrow "
                "per segment (a large download draws every segment; use a small URL to see the handshake and "
                "close)");
  cmd->add_option("-m,--max-time", o->max_time_s, "Give up after SECONDS in total (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--stats", o->stats_file,
                  "At exit, write the engine's counters (frames, drops by reason, TCP drops by reason) as one "
                  "JSON object to FILE")
      ->type_name("FILE");
  cmd->add_option("--retries", o->retries,
                  "Retransmissions of unacknowledged data (or unanswered zero-window probes) before the "
                  "connection fails with timed_out (default 15, like Linux tcp_retries2)")
      ->type_name("N")
      ->check(CLI::Range(1, 255));
  add_common_options(*cmd, o->common);
  cmd->callback([&action, o] {
    action = [o]() -> int {
      for (const auto& url : o->urls) parse_url(url);  // usage errors before anything else
      if (o->urls.size() > 1 && !o->output.empty())
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "-o FILE takes one URL; for several, use -O DIR (each body to DIR/<name>)");
      if (o->urls.size() > 1 && o->output_dir.empty())
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "several URLs need -O DIR (each body to DIR/<name>); stdout takes one body");
      if (!o->output.empty() && !o->output_dir.empty())
        throw link::setup_error(link::setup_errc::invalid_argument, "-o FILE and -O DIR exclude each other");
      link::require_net_raw_and_admin();
      check_one_interface(*o);
      return run_get(*o);
    };
  });
}

}  // namespace synack::tools
