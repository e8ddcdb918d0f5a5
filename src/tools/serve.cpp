// synack serve: a TCP server on synack's passive open — echo, discard or a tiny HTTP page — for
// kernel clients (curl, socat, Python). SIGUSR1 prints the connection table like `ss -tan`;
// SIGINT/SIGTERM close every connection (FIN, then RST after a grace period) and remove the rules.
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "common.hpp"
#include "pcap_writer.hpp"
#include "stats_file.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"
#include "synack/link/ports.hpp"

namespace synack::tools {

namespace {

using namespace std::chrono_literals;

enum class mode : std::uint8_t { echo, discard, http };

struct serve_options {
  common_options common;
  std::string listen;
  bool echo = false;
  bool discard = false;
  bool http = false;
  std::size_t backlog = 128;
  std::size_t max_connections = 0;
  std::size_t max_half_open = 256;
  bool no_syn_cookies = false;
  double grace_s = 2.0;
  double idle_timeout_s = 0.0;
  double msl_s = 30.0;
  std::size_t max_table = 65536;                   // --max-table: engine::options::max_connections
  std::size_t max_buffered_bytes = 0;              // --max-buffered-bytes (0 = unlimited)
  std::string stats_file;         // --stats FILE: counters as JSON on SIGUSR1 and at exit
  std::optional<unsigned> retries;  // --retries N: data retransmissions before timed_out
};

std::atomic<bool> dump_requested{false};
extern "C" void on_usr1(int) { dump_requested.store(true); }

void install_usr1_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the wait returns and the loop prints at once
  sigaction(SIGUSR1, &sa, nullptr);
}

// The interface that owns `addr` (the kernel's route to a local address is via `lo`), and the
// broadcast address of its subnet: the engine's route hint (a route to our own address is refused).
struct owner {
  std::string name;
  wire::ipv4_addr broadcast;
};
std::optional<owner> interface_owning(wire::ipv4_addr addr) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<owner> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (ntohl(sin->sin_addr.s_addr) != addr.value) continue;
    std::uint32_t mask = 0xffffffff;
    if (i->ifa_netmask) mask = ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr);
    const std::uint32_t bcast = mask >= 0xfffffffe ? 0xffffffff : (addr.value | ~mask);
    found = owner{i->ifa_name, wire::ipv4_addr{bcast}};
  }
  ::freeifaddrs(list);
  return found;
}

// The same for IPv6 (getifaddrs, AF_INET6): the interface, and as the route hint the prefix's
// address with every host bit set (IPv6 has no broadcast; any address of the on-link prefix that
// is not ours routes out of the interface). A /128 (no host bits): the address with its last bit
// flipped (the engine takes the interface by name then, whatever the route says).
struct owner6 {
  std::string name;
  wire::ipv6_addr hint;
};
std::optional<owner6> interface_owning(const wire::ipv6_addr& addr) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<owner6> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6) continue;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    if (std::memcmp(&sin6->sin6_addr, addr.octets.data(), 16) != 0) continue;
    wire::ipv6_addr hint = addr;
    if (i->ifa_netmask) {
      std::array<std::uint8_t, 16> mask{};
      std::memcpy(mask.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_netmask)->sin6_addr, 16);
      for (std::size_t b = 0; b < 16; ++b) hint.octets[b] = static_cast<std::uint8_t>(addr.octets[b] | ~mask[b]);
    }
    if (hint == addr) hint.octets[15] ^= 1;
    found = owner6{i->ifa_name, hint};
  }
  ::freeifaddrs(list);
  return found;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A fixed small page for any GET (HEAD gets its headers).
const std::string http_body =
    "<!doctype html>\n<html><head><title>synack</title></head>\n"
    "<body><h1>Hello from synack</h1><p>Served by a user-space TCP over AF_PACKET.</p></body></html>\n";

// `ss -tan` names states with dashes; the seeds (and netstat) with underscores: we print the
// seeds' names.
std::string state_name(tcp::state s) { return std::string(tcp::to_string(s)); }

class server {
public:
  server(const serve_options& o, wire::ip_addr addr, std::uint16_t port, mode m)
      : o_(o), addr_(addr), port_(port), mode_(m) {
    engine::options eo = to_engine_options(o.common);
    // The engine's destination hint picks the family of its primary address (the listen address);
    // the interface is the one owning the address (a route to our own address goes via lo).
    wire::ip_addr hint = wire::ipv4_addr{0xffffffff};
    bool owned = false;
    if (eo.this_host) {
      // synack's own tun device: the address is one the kernel does not own (0.0.0.0 or :: picks
      // one), reachable by this host's kernel clients through the tun's route.
      hint = addr;
      owned = true;
      const bool any = addr.is_v4() ? addr.v4().value == 0 : addr.v6().is_unspecified();
      if (!any) eo.source = addr;
    } else if (eo.own_address) {
      hint = addr;  // own-address mode: the macvlan's parent is -I or the route's to the address
      owned = true;
    } else if (addr.is_v4()) {
      if (auto own = interface_owning(addr.v4())) {
        if (eo.interface.empty()) eo.interface = own->name;
        hint = own->broadcast;
        owned = true;
      }
    } else {
      // Not the address itself: a route to our own address is refused (type local, via lo).
      // The source is --source = the address either way.
      wire::ipv6_addr h = addr.v6();
      h.octets[15] ^= 1;  // not owned (-I IFACE): a neighbour's address, for the hint only
      hint = h;
      if (auto own = interface_owning(addr.v6())) {
        if (eo.interface.empty()) eo.interface = own->name;
        hint = own->hint;
        owned = true;
      }
    }
    if (!eo.this_host && eo.interface == "lo")
      throw link::setup_error(link::setup_errc::invalid_argument,
                              addr.to_string() + " is on lo, where synack cannot listen; for this host's own "
                                                 "clients use --this-host --listen 198.18.0.10:" + std::to_string(port) +
                                                 " (an address on synack's own tun device; 0.0.0.0 picks one)");
    if (!owned && eo.interface.empty()) {
      throw link::setup_error(link::setup_errc::invalid_argument,
                              addr.to_string() +
                                  " is not an address of any interface here (pass -I IFACE to serve on an "
                                  "address the kernel does not own; synack then answers ARP or NDP for it)");
    }
    if (!eo.this_host) eo.source = addr;
    eo.ports = link::port_range{port, port};
    // A server's ring absorbs bursts (many clients each sending a first window at once): 4,096
    // slots of 2 KiB (a GRO/TSO super-frame larger than a slot is read whole from the socket's
    // receive queue: packet_socket copy_oversized). Not more: under a SYN flood every frame waits
    // behind the whole ring, so a deeper one only delays the real clients' SYNs (32,768 slots:
    // ~0.4 s per handshake for an instrumented server in test_serve_flood).
    eo.rx_ring_bytes = std::size_t{8} << 20;
    eo.rx_frame_size = 2048;
    eo.tcp.msl = std::chrono::duration_cast<tcp::duration>(std::chrono::duration<double>(o.msl_s));
    eo.max_connections = o.max_table;
    eo.max_buffered_bytes = o.max_buffered_bytes;
    if (o.retries) eo.tcp.data_retries = *o.retries;
    if (!o.common.pcap.empty()) pcap_.emplace(o.common.pcap);
    eng_.emplace(eo, hint);
    if (eo.this_host) addr_ = eng_->local_address();  // the address picked when --listen said 0.0.0.0 or ::
    eng_->on_event([this](const wire::four_tuple& t, const tcp::event& ev) { on_event(t, ev); });
    eng_->on_acceptable([this](std::uint16_t) { accept_more(); });
    if (o.common.trace)
      eng_->on_segment([](engine::direction d, tcp::instant, const wire::four_tuple& t, const tcp::segment& s,
                          tcp::state st) { std::printf("%s\n", format_segment(d, t, s, st).c_str()); });
    if (pcap_)
      eng_->on_frame([this](engine::direction d, tcp::instant, std::span<const std::byte> f) {
        pcap_->on_frame(*eng_, d, f);
      });
    engine::listen_options lo;
    lo.backlog = o.backlog;
    lo.max_half_open = o.max_half_open;
    lo.syn_cookies = !o.no_syn_cookies;
    eng_->listen(port, lo);
  }

  int run() {
    static constexpr const char* names[] = {"echo", "discard", "http"};
    std::printf("synack serve: listening on %s via %s (%s, backlog %zu, max-connections %s)\n",
                addr_.to_string(port_).c_str(), eng_->interface().name.c_str(),
                names[static_cast<int>(mode_)], o_.backlog,
                o_.max_connections ? std::to_string(o_.max_connections).c_str() : "unlimited");
    std::fflush(stdout);
    tcp::instant next_idle_check = engine::engine::now();
    while (!stop_requested) {
      eng_->run_once(100ms);
      if (dump_requested.exchange(false)) {
        print_table();
        write_stats();
      }
      const tcp::instant now = engine::engine::now();
      if (o_.idle_timeout_s > 0 && now >= next_idle_check) {
        close_idle(now);
        next_idle_check = now + 100ms;
      }
    }
    shut_down();
    if (dump_requested.exchange(false)) print_table();
    write_stats();
    std::printf("synack serve: stopped; %s\n", counters().c_str());
    std::fflush(stdout);
    if (pcap_) pcap_->flush();
    return exit_ok;
  }

private:
  void write_stats() {
    if (o_.stats_file.empty()) return;
    const engine::listener_stats* l = eng_->listener_statistics(port_);
    write_stats_file(o_.stats_file, stats_json(*eng_, l ? l : &last_stats_));
  }

  struct session {
    std::vector<std::byte> out;  // to send (echo data, HTTP responses)
    std::size_t out_off = 0;
    std::string request;         // HTTP: bytes of requests not yet answered
    bool peer_eof = false;
    bool close_after_send = false;
    bool closing = false;
    tcp::instant last_activity{};
  };

  static constexpr std::size_t echo_high_water = 256 * 1024;  // stop reading while this much waits

  void accept_more() {
    while (o_.max_connections == 0 || sessions_.size() < o_.max_connections) {
      auto t = eng_->accept(port_);
      if (!t) break;
      // A fresh session: the tuple may have served an earlier connection (a new SYN ends TIME_WAIT).
      session& s = sessions_.insert_or_assign(*t, session{}).first->second;
      s.last_activity = engine::engine::now();
      if (const tcp::connection* c = eng_->find(*t)) {
        const tcp::state st = c->current_state();
        s.peer_eof = st == tcp::state::close_wait || st == tcp::state::last_ack || st == tcp::state::closing;
      }
      service(*t, s);  // data (and a FIN) may have come with the handshake
    }
  }

  void on_event(const wire::four_tuple& t, const tcp::event& ev) {
    if (o_.common.trace && ev.what == tcp::event::kind::state_changed)
      std::printf("%s\n", format_state_change(t, ev.from, ev.to).c_str());
    auto it = sessions_.find(t);
    if (it == sessions_.end()) return;  // a half-open or queued child: not ours yet
    switch (ev.what) {
      case tcp::event::kind::eof:
        it->second.peer_eof = true;
        [[fallthrough]];
      case tcp::event::kind::readable:
      case tcp::event::kind::writable:
      case tcp::event::kind::connected:
        service(t, it->second);
        break;
      case tcp::event::kind::state_changed:
        if (ev.to != tcp::state::time_wait) break;
        [[fallthrough]];  // nothing left to do for it: TIME_WAIT is the engine's alone
      case tcp::event::kind::closed:
      case tcp::event::kind::error:
        sessions_.erase(it);
        accept_more();
        break;
      default:
        break;
    }
  }

  // Move bytes: receive what the mode wants, send what is pending, until neither moves; then
  // close when the peer is done and everything went out (or the HTTP exchange asked for it).
  void service(const wire::four_tuple& t, session& s) {
    for (;;) {
      bool progress = false;
      const std::size_t pending = s.out.size() - s.out_off;
      if (mode_ != mode::echo || pending < echo_high_water) {
        // buf_ is shared by every session: safe because no handler runs inside an engine call
        // (the engine's re-entrancy rule), so nothing can service another session into it
        // between receive() and the copy below.
        std::size_t n = eng_->receive(t, buf_);
        if (n > 0) {
          progress = true;
          if (mode_ == mode::echo) {
            s.out.insert(s.out.end(), buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
          } else if (mode_ == mode::http) {
            s.request.append(reinterpret_cast<const char*>(buf_.data()), n);
            answer_requests(s);
          }
        }
      }
      if (s.out_off < s.out.size()) {
        std::size_t n = eng_->send(t, std::span<const std::byte>(s.out).subspan(s.out_off));
        if (n > 0) {
          progress = true;
          s.out_off += n;
          if (s.out_off == s.out.size()) {
            s.out.clear();
            s.out_off = 0;
          } else if (s.out_off > s.out.size() / 2) {
            s.out.erase(s.out.begin(), s.out.begin() + static_cast<std::ptrdiff_t>(s.out_off));
            s.out_off = 0;
          }
        }
      }
      if (!progress) break;
      s.last_activity = engine::engine::now();
    }
    const tcp::connection* c = eng_->find(t);
    if (!c || s.closing) return;
    const bool drained = s.out_off >= s.out.size() && c->available() == 0;
    if (drained && (s.peer_eof || s.close_after_send)) {
      s.closing = true;
      eng_->close(t);
    }
  }

  void answer_requests(session& s) {
    for (;;) {
      const auto end = s.request.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (s.request.size() > 64 * 1024) {  // no end of headers in sight
          respond(s, "431 Request Header Fields Too Large", false, true);
          s.request.clear();
        }
        return;
      }
      const std::string head = s.request.substr(0, end);
      s.request.erase(0, end + 4);
      const std::string first = head.substr(0, head.find("\r\n"));
      const std::string method = first.substr(0, first.find(' '));
      const std::string h = lower(head);
      const bool http10 = first.size() >= 8 && first.compare(first.size() - 8, 8, "HTTP/1.0") == 0;
      bool close = http10 ? h.find("connection: keep-alive") == std::string::npos
                          : h.find("connection: close") != std::string::npos;
      if (method == "GET" || method == "HEAD") {
        respond(s, "200 OK", method == "HEAD", close);
      } else {
        respond(s, "405 Method Not Allowed", false, true);
        close = true;
      }
      if (close) {
        s.close_after_send = true;
        s.request.clear();
        return;
      }
    }
  }

  void respond(session& s, const std::string& status, bool head_only, bool close) {
    const bool ok = status.starts_with("200");
    const std::string body = ok ? http_body : status + "\n";
    std::string r = fmt::format(
        "HTTP/1.1 {}\r\nServer: synack\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n", status,
        ok ? "text/html" : "text/plain", body.size(), close ? "close" : "keep-alive");
    if (!head_only) r += body;
    const auto* p = reinterpret_cast<const std::byte*>(r.data());
    s.out.insert(s.out.end(), p, p + r.size());
  }

  void close_idle(tcp::instant now) {
    const auto idle = std::chrono::duration_cast<tcp::duration>(std::chrono::duration<double>(o_.idle_timeout_s));
    std::vector<wire::four_tuple> due;
    for (auto& [t, s] : sessions_) {
      if (s.closing) continue;
      // Not idle while bytes wait to go out or to be acknowledged (a stalled peer, a retransmission
      // backing off): a FIN then would cut the echo short and look like a clean end. Such a
      // connection ends by the TCP retransmission limit instead (timed_out), and its idle time
      // starts when the last byte is acknowledged (to within this check's 100 ms).
      const tcp::connection* c = eng_->find(t);
      if (s.out_off < s.out.size() || (c && (c->send_queued() > 0 || c->available() > 0)))
        s.last_activity = now;
      else if (now - s.last_activity >= idle)
        due.push_back(t);
    }
    for (const auto& t : due) {
      auto it = sessions_.find(t);
      if (it == sessions_.end()) continue;
      it->second.closing = true;
      eng_->close(t);  // may deliver events that erase sessions: look each one up again
    }
  }

  // FIN on every connection, wait up to the grace period for them to finish, RST the rest.
  void shut_down() {
    if (const auto* l = eng_->listener_statistics(port_)) last_stats_ = *l;  // the exit line reports them
    eng_->stop_listening(port_);  // half-open and queued children are reset
    std::vector<wire::four_tuple> open;
    for (auto& [t, s] : sessions_) open.push_back(t);
    for (const auto& t : open) {
      auto it = sessions_.find(t);
      if (it == sessions_.end() || it->second.closing) continue;
      it->second.closing = true;
      eng_->close(t);
    }
    stop_requested = false;
    const tcp::instant until =
        engine::engine::now() + std::chrono::duration_cast<tcp::duration>(std::chrono::duration<double>(o_.grace_s));
    while (!stop_requested && engine::engine::now() < until && !all_done()) {
      eng_->run_once(50ms);
      if (dump_requested.exchange(false)) {
        print_table();
        write_stats();
      }
    }
    std::vector<wire::four_tuple> rest;
    eng_->for_each_connection([&](const tcp::connection& c) {
      if (c.current_state() != tcp::state::time_wait && c.current_state() != tcp::state::closed)
        rest.push_back(c.tuple());
    });
    for (const auto& t : rest) eng_->abort(t);
    if (!rest.empty()) std::printf("synack serve: reset %zu connections after the grace period\n", rest.size());
  }

  bool all_done() const {
    bool done = true;
    eng_->for_each_connection([&](const tcp::connection& c) {
      if (c.current_state() != tcp::state::time_wait && c.current_state() != tcp::state::closed) done = false;
    });
    return done;
  }

  std::string counters() const {
    const engine::listener_stats* l = eng_->listener_statistics(port_);
    engine::listener_stats z{};
    const engine::tcp_totals tcp = eng_->tcp_statistics();
    if (!l) l = &last_stats_;
    if (!l) l = &z;
    return fmt::format(
        "syn_received={} half_open_created={} half_open_dropped={} syn_dropped={} cookies_sent={} "
        "cookies_validated={} cookies_rejected={} accept_queue_overflows={} accepted={} half_open={} "
        "accept_queue={} connections={} sessions={} rst_sent_no_connection={} syn_dropped_table_full={} "
        "syn_dropped_buffers_full={} buffers_shrunk={} buffered_bytes_reserved={} link_down={} rx_ring_drops={} "
        "icmp_received={} icmp_matched={} icmp_no_connection={} icmp_out_of_window={} icmp_rate_limited={} "
        "icmp_ignored={} pmtu_lowered={} pmtu_clamped={} blackholes_detected={} mtu_probes_sent={} "
        "mtu_probes_succeeded={}",
        l->syn_received, l->half_open_created, l->half_open_dropped, l->syn_dropped, l->cookies_sent,
        l->cookies_validated, l->cookies_rejected, l->accept_queue_overflows, l->accepted, l->half_open,
        l->accept_queue, eng_->connection_count(), sessions_.size(), eng_->stats().segments_no_connection,
        eng_->stats().syn_dropped_table_full, eng_->stats().syn_dropped_buffers_full, eng_->stats().buffers_shrunk,
        eng_->buffered_bytes_reserved(), eng_->stats().link_down, eng_->stats().rx_ring_drops,
        eng_->stats().icmp_received, eng_->stats().icmp_matched, eng_->stats().icmp_no_connection,
        eng_->stats().icmp_out_of_window, eng_->stats().icmp_rate_limited, eng_->stats().icmp_ignored,
        eng_->stats().pmtu_lowered, eng_->stats().pmtu_clamped, tcp.blackholes_detected, tcp.mtu_probes_sent,
        tcp.mtu_probes_succeeded);
  }

  // Like `ss -tan`: the listener first (Recv-Q = accept queue, Send-Q = backlog), then every
  // connection with its queues, retransmissions and smoothed RTT.
  void print_table() {
    if (const auto* l = eng_->listener_statistics(port_)) last_stats_ = *l;
    std::string out = fmt::format("{:<12} {:>7} {:>7} {:<22} {:<22} {:>7} {:>9}\n", "State", "Recv-Q", "Send-Q",
                                  "Local Address:Port", "Peer Address:Port", "Retrans", "RTT(ms)");
    if (const auto* l = eng_->listener_statistics(port_))
      out += fmt::format("{:<12} {:>7} {:>7} {:<22} {:<22} {:>7} {:>9}\n", "LISTEN", l->accept_queue, o_.backlog,
                         addr_.to_string(port_), addr_.is_v4() ? "0.0.0.0:*" : "[::]:*", "-", "-");
    std::vector<std::string> rows;
    std::map<std::string, unsigned> by_state;
    eng_->for_each_connection([&](const tcp::connection& c) {
      const auto& t = c.tuple();
      const tcp::state st = c.current_state();
      const auto& tcb = c.tcb();
      std::size_t send_q = static_cast<std::uint32_t>(tcb.snd_nxt - tcb.snd_una);
      send_q = std::max(send_q, c.send_queued());
      const auto rtt = c.srtt();
      ++by_state[state_name(st)];
      if (st == tcp::state::listen) return;  // a child between requests (about to be retired)
      rows.push_back(fmt::format(
          "{:<12} {:>7} {:>7} {:<22} {:<22} {:>7} {:>9}\n", state_name(st), c.available(), send_q,
          t.local_addr.to_string(t.local_port), t.remote_addr.to_string(t.remote_port), c.stats().retransmits,
          rtt ? fmt::format("{:.3f}", std::chrono::duration<double, std::milli>(*rtt).count()) : std::string("-")));
    });
    std::sort(rows.begin(), rows.end());
    for (const auto& r : rows) out += r;
    std::string summary = "states:";
    for (const auto& [name, n] : by_state) summary += fmt::format(" {}={}", name, n);
    out += summary + "\n";
    out += "counters: " + counters() + "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
  }

  serve_options o_;
  wire::ip_addr addr_;
  std::uint16_t port_;
  mode mode_;
  std::optional<pcap_writer> pcap_;
  std::optional<engine::engine> eng_;
  std::unordered_map<wire::four_tuple, session, wire::four_tuple_hash> sessions_;
  std::array<std::byte, 65536> buf_{};
  engine::listener_stats last_stats_{};
};

}  // namespace

void add_serve_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<serve_options>();
  CLI::App* cmd = app.add_subcommand("serve", "A TCP server on synack's stack: echo, discard or a small HTTP page");
  cmd->footer(
      "Passive opens: every SYN to the port makes a SYN_RCVD child in a bounded half-open queue\n"
      "(--max-half-open); when that is full, SYN cookies answer instead (unless --no-syn-cookies).\n"
      "Children that complete the handshake wait in the accept queue (--backlog); while it is full,\n"
      "SYNs and final ACKs are dropped as Linux drops them. --max-connections stops accepting at N\n"
      "open connections (the rest wait in the accept queue).\n\n"
      "Resource limits: --max-table caps the connection table (half-open, queued, open, closing and\n"
      "TIME_WAIT entries alike); at the cap new SYNs are dropped (syn_dropped_table_full) and the\n"
      "clients' SYN retransmissions get in once connections close. --max-buffered-bytes caps the sum\n"
      "of every connection's send + receive buffer caps: full buffers while the total stays within\n"
      "half of it, then the minimum (4 x MSS each way: a small window, buffers_shrunk), then SYNs are\n"
      "dropped (syn_dropped_buffers_full).\n\n"
      "Signals: SIGUSR1 prints the connection table (like `ss -tan`, with the seeds' state names)\n"
      "and the listener's counters (and writes --stats FILE); SIGINT/SIGTERM stop listening, send FIN on every connection,\n"
      "wait --grace seconds, reset what is left, remove the firewall rule and exit 0.\n\n"
      "Examples:\n"
      "  synack serve --listen 10.111.0.1:8080 --echo\n"
      "  synack serve --listen 10.111.0.1:8080 --http --backlog 512     then: curl http://10.111.0.1:8080/\n"
      "  synack serve --listen [fd00:111::1]:8080 --echo                IPv6 (and the interface's IPv4 too)\n"
      "  synack serve --listen :8080 --own-address 10.111.0.50 -I eth0 --echo\n"
      "                                    a host of its own on eth0's link (macvlan, no firewall rule);\n"
      "                                    kernel clients on other hosts only, not on this one\n"
      "  kill -USR1 $(pidof synack)                                       the connection table");
  cmd->add_option("--listen", o->listen,
                  "IP:PORT or [IPv6]:PORT to listen on (an address of a local interface; a name resolves with "
                  "-4 / -6)")
      ->required();
  add_family_flags(*cmd, o->common.family);
  auto* echo = cmd->add_flag("--echo", o->echo, "Send back every byte received");
  auto* discard = cmd->add_flag("--discard", o->discard, "Read and drop everything");
  auto* http = cmd->add_flag("--http", o->http, "Answer every GET with a small fixed HTML page (HTTP/1.1, keep-alive)");
  echo->excludes(discard)->excludes(http);
  discard->excludes(http);
  cmd->add_option("--backlog", o->backlog, "Accept queue length (default 128)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-connections", o->max_connections, "Open connections at most; 0 = unlimited (default)");
  cmd->add_option("--max-half-open", o->max_half_open,
                  "SYN_RCVD children at most before SYN cookies take over (default 256; 0 = cookies for every SYN)");
  cmd->add_flag("--no-syn-cookies", o->no_syn_cookies, "Drop SYNs when the half-open queue is full");
  cmd->add_option("--grace", o->grace_s, "Seconds to wait for FIN exchanges at exit before RST (default 2)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--idle-timeout", o->idle_timeout_s,
                  "Close (FIN) a connection idle this many seconds (nothing received, nothing waiting to be sent or acknowledged); 0 = never (default)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--msl", o->msl_s, "Maximum segment lifetime in seconds; TIME_WAIT lasts 2*MSL (default 30)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--stats", o->stats_file,
                  "Write the counters (frames, drops by reason, TCP drops by reason, the listener's) as one JSON "
                  "object to FILE on SIGUSR1 and at exit (atomically: FILE.tmp, then rename)")
      ->type_name("FILE");
  cmd->add_option("--retries", o->retries,
                  "Retransmissions of unacknowledged data (or unanswered zero-window probes) before a connection "
                  "fails with timed_out (default 15, like Linux tcp_retries2)")
      ->type_name("N")
      ->check(CLI::Range(1, 255));
  cmd->add_option("--max-table", o->max_table,
                  "Connections of every kind the engine holds at most (half-open, queued, open, closing, "
                  "TIME_WAIT); SYNs beyond it are dropped. 0 = unlimited (default 65536)");
  cmd->add_option("--max-buffered-bytes", o->max_buffered_bytes,
                  "Send + receive buffer caps summed over every connection at most (K/M/G suffixes, powers "
                  "of 1024), e.g. 256M; 0 = unlimited (default)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("-I,--interface", o->common.interface, "Interface (default: the one that owns the address)");
  cmd->add_flag("--this-host", o->common.this_host,
                "Serve this host's own kernel clients: synack gets a tun device of its own and the --listen address "
                "(one the kernel does not own, e.g. 198.18.0.10; 0.0.0.0 or [::] picks one in 198.18.0.0/15 or "
                "2001:2::/48), routed to the tun; no firewall rule. Gone at exit, even after SIGKILL");
  cmd->add_flag("--no-rst-guard", o->common.no_rst_guard,
                "Install no firewall rule (you keep the kernel from answering with RSTs yourself)");
  add_own_address_option(*cmd, o->common.own_address);
  cmd->add_flag("--trace", o->common.trace, "Print every segment sent and received and every state change");
  cmd->add_option("--pcap", o->common.pcap, "Write every frame sent and received to FILE (pcap)");
  cmd->callback([&action, o] {
    action = [o]() -> int {
      const int modes = int{o->echo} + int{o->discard} + int{o->http};
      if (modes != 1)
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "pick exactly one of --echo, --discard, --http");
      const listen_spec ls = parse_listen(o->listen, o->common.family);
      std::optional<engine::options::own_address_spec> own;
      if (!o->common.own_address.empty()) own = parse_own_address(o->common.own_address);
      if (!ls.addr && !own)
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "--listen '" + o->listen + "' needs an address (IP:PORT or [IPv6]:PORT)");
      const wire::ip_addr listen_addr = ls.addr ? *ls.addr : own->address;
      if (own && listen_addr != own->address)
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "--listen " + listen_addr.to_string() + " and --own-address " +
                                    own->address.to_string() + " differ (serve on the own address, or give just :PORT)");
      // The kernel's ports matter only on an address the kernel shares with us (not an own address).
      const auto kernel = own ? std::vector<std::uint16_t>{} : link::kernel_tcp_ports();
      if (std::find(kernel.begin(), kernel.end(), ls.port) != kernel.end())
        throw link::setup_error(link::setup_errc::invalid_argument,
                                "port " + std::to_string(ls.port) +
                                    " is in use by the kernel's TCP here (address_in_use; pick another port)");
      link::require_net_raw_and_admin();
      keep_capabilities_for_children();
      install_signal_handlers();
      install_usr1_handler();
      const mode m = o->echo ? mode::echo : o->discard ? mode::discard : mode::http;
      server s(*o, listen_addr, ls.port, m);
      return s.run();
    };
  });
}

}  // namespace synack::tools
