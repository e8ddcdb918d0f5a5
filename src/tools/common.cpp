#include "common.hpp"

#include <linux/capability.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "synack/link/error.hpp"
#include "synack/wire/icmp.hpp"

namespace synack::tools {

std::atomic<bool> stop_requested{false};

namespace {
extern "C" void on_stop_signal(int) { stop_requested.store(true); }
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the loop sees the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

void add_family_flags(CLI::App& app, family_preference& f) {
  auto* v4 = app.add_flag_callback("-4", [&f] { f = family_preference::v4; },
                                   "IPv4 only: use the name's IPv4 address (A record)");
  auto* v6 = app.add_flag_callback("-6", [&f] { f = family_preference::v6; },
                                   "IPv6 only: use the name's IPv6 address (AAAA record)");
  v4->excludes(v6);
  v6->excludes(v4);
}

void add_common_options(CLI::App& app, common_options& o) {
  add_family_flags(app, o.family);
  app.add_option("-I,--interface", o.interface, "Interface to send from (default: the route's)");
  app.add_option("--source", o.source, "Source address, IPv4 or IPv6, of the destination's family (default: the route's preferred source)");
  app.add_option("--ports", o.ports,
                 "Local port range LO-HI synack may use (default: outside the kernel's ephemeral range)");
  app.add_flag("--no-rst-guard", o.no_rst_guard,
               "Install no firewall rule (you keep the kernel from answering with RSTs yourself)");
  app.add_flag("--trace", o.trace, "Print every segment sent and received and every state change");
  app.add_option("--pcap", o.pcap,
                 "Write every frame sent and received to FILE (pcap, nanosecond timestamps; tshark reads it)");
  app.add_flag("--busy-poll", o.busy_poll,
               "--busy-poll[=US]: while waiting, spin on the receive ring for up to US microseconds before "
               "sleeping in poll(); bare --busy-poll spins for the whole wait (a core stays busy). "
               "Default: no spinning");
}

void keep_capabilities_for_children() noexcept {
  if (::geteuid() == 0) return;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return;
  const unsigned caps[] = {CAP_NET_RAW, CAP_NET_ADMIN};
  for (unsigned c : caps)
    if (((data[c / 32].permitted >> (c % 32)) & 1U) == 0) return;  // not ours to pass on
  for (unsigned c : caps) data[c / 32].inheritable |= 1U << (c % 32);
  if (::syscall(SYS_capset, &header, data) != 0) return;
  for (unsigned c : caps) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
}

engine::options to_engine_options(const common_options& o) {
  engine::options e;
  e.interface = o.interface;
  if (!o.source.empty()) {
    auto a = wire::ip_addr::parse(o.source);
    if (!a)
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "--source '" + o.source + "' is not an IPv4 or IPv6 address");
    e.source = *a;
  }
  if (!o.ports.empty()) e.ports = link::parse_port_range(o.ports);
  e.rst_guard = !o.no_rst_guard;
  e.this_host = o.this_host;
  if (o.busy_poll == "true") {
    e.busy_poll = engine::options::busy_poll_whole_wait;
  } else if (!o.busy_poll.empty()) {
    char* end = nullptr;
    double us = std::strtod(o.busy_poll.c_str(), &end);
    if (end == o.busy_poll.c_str() || *end != '\0' || !(us >= 0) || us > 1e9)
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "--busy-poll='" + o.busy_poll + "' is not a number of microseconds (e.g. --busy-poll=50)");
    e.busy_poll = std::chrono::nanoseconds{static_cast<std::int64_t>(us * 1000.0)};
  }
  // Benchmarking knobs (bench/RESULTS.md measures each lever with them on and off).
  if (const char* v = std::getenv("SYNACK_TX_BATCH"); v != nullptr && std::string(v) == "0") e.tx_batching = false;
  if (const char* v = std::getenv("SYNACK_QDISC_BYPASS"); v != nullptr && std::string(v) == "1") e.qdisc_bypass = true;
  return e;
}

namespace {

[[noreturn]] void bad_target(const std::string& msg) {
  throw link::setup_error(link::setup_errc::invalid_argument, msg);
}

// PORT: decimal digits only, 1-65535.
std::uint16_t parse_port(std::string_view p, const std::string& text) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || ec != std::errc{} || ptr != p.data() + p.size() || v == 0 || v > 65535)
    bad_target("bad port in '" + text + "' (1-65535)");
  return static_cast<std::uint16_t>(v);
}

std::string family_record(family_preference f) { return f == family_preference::v6 ? "AAAA" : "A"; }

}  // namespace

std::string to_string(family_preference f) {
  switch (f) {
    case family_preference::v4: return "IPv4";
    case family_preference::v6: return "IPv6";
    case family_preference::any: break;
  }
  return "any";
}

bool family_matches(const wire::ip_addr& addr, family_preference f) {
  return f == family_preference::any || (f == family_preference::v4) == addr.is_v4();
}

host_spec split_host_port(const std::string& text) {
  host_spec hs;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) bad_target("missing ']' in '" + text + "' (write [IPv6]:PORT)");
    hs.host = text.substr(1, close - 1);
    hs.bracketed = true;
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad_target("bad port in '" + text + "' (write [IPv6]:PORT)");
      hs.port = parse_port(std::string_view(rest).substr(1), text);
    }
    auto a = wire::ipv6_addr::parse(hs.host);
    if (hs.host.empty() || !a) bad_target("bad IPv6 literal '" + hs.host + "' in '" + text + "'");
    return hs;
  }
  if (text.find(']') != std::string::npos) bad_target("missing '[' in '" + text + "' (write [IPv6]:PORT)");
  const auto first = text.find(':');
  if (first == std::string::npos) {
    hs.host = text;
  } else if (text.find(':', first + 1) != std::string::npos) {
    // Two colons or more: an IPv6 literal, whole (never HOST:PORT; that is [IPv6]:PORT).
    hs.host = text;
    if (!wire::ipv6_addr::parse(text))
      bad_target("bad IPv6 literal '" + text + "' (an IPv6 address with a port is written [ADDR]:PORT)");
    return hs;
  } else {
    hs.host = text.substr(0, first);
    hs.port = parse_port(std::string_view(text).substr(first + 1), text);
  }
  if (hs.host.empty()) bad_target("missing host in '" + text + "'");
  return hs;
}

std::vector<wire::ip_addr> resolve_name(const std::string& name, family_preference f) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA; the family filter below says what -4/-6 excluded
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::string why = rc == EAI_SYSTEM ? std::string(std::strerror(errno)) : std::string(gai_strerror(rc));
    if (res != nullptr) ::freeaddrinfo(res);
    bad_target("cannot resolve '" + name + "': " + why + " (check the name or give an address)");
  }
  std::vector<wire::ip_addr> all;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    wire::ip_addr a;
    if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      a = wire::ipv4_addr{ntohl(sin->sin_addr.s_addr)};
    } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      wire::ipv6_addr v6;
      std::memcpy(v6.octets.data(), &sin6->sin6_addr, 16);
      a = v6;
    } else {
      continue;
    }
    if (std::find(all.begin(), all.end(), a) == all.end()) all.push_back(a);
  }
  ::freeaddrinfo(res);
  std::vector<wire::ip_addr> out;
  for (const auto& a : all)
    if (family_matches(a, f)) out.push_back(a);
  if (out.empty()) {
    if (all.empty()) bad_target("cannot resolve '" + name + "': no IPv4 or IPv6 address");
    bad_target("cannot resolve '" + name + "': '" + name + "' has no " + to_string(f) + " address (" +
               family_record(f) + "), only " + (all.front().is_v4() ? "IPv4 " : "IPv6 ") +
               all.front().to_string() + " (drop " + (f == family_preference::v6 ? "-6" : "-4") + ")");
  }
  return out;
}

host_port resolve_host(const std::string& text, family_preference f) {
  const host_spec hs = split_host_port(text);
  host_port hp;
  hp.port = hs.port;
  hp.name = hs.host;
  if (auto a = wire::ip_addr::parse(hs.host)) {
    if (!family_matches(*a, f))
      bad_target("'" + hs.host + "' is an " + (a->is_v4() ? "IPv4" : "IPv6") + " address, but " +
                 (f == family_preference::v6 ? "-6" : "-4") + " asks for " + to_string(f));
    hp.addr = *a;
    hp.literal = true;
    hp.resolved = {*a};
    return hp;
  }
  if (hs.host.find(':') != std::string::npos || hs.host.find('%') != std::string::npos)
    bad_target("bad IPv6 literal '" + hs.host + "' in '" + text + "'");
  hp.resolved = resolve_name(hs.host, f);
  hp.addr = hp.resolved.front();
  return hp;
}

listen_spec parse_listen(const std::string& text, family_preference f) {
  listen_spec ls;
  if (text.empty()) bad_target("--listen needs [ADDR]:PORT, ADDR:PORT, :PORT or PORT");
  if (text.find_first_not_of("0123456789") == std::string::npos) {  // PORT
    ls.port = parse_port(text, text);
    return ls;
  }
  if (text.front() == ':' && text.find(':', 1) == std::string::npos) {  // :PORT
    ls.port = parse_port(std::string_view(text).substr(1), text);
    return ls;
  }
  const host_port hp = resolve_host(text, f);
  if (!hp.port) bad_target("'" + text + "' needs a port ([ADDR]:PORT, ADDR:PORT, :PORT or PORT)");
  ls.addr = hp.addr;
  ls.port = *hp.port;
  ls.name = hp.name;
  return ls;
}

std::string error_name(std::error_code ec) {
  if (!ec) return "none";
  if (ec == std::errc::connection_refused) return "connection_refused";
  if (ec == std::errc::timed_out) return "timed_out";
  if (ec == std::errc::host_unreachable) return "host_unreachable";
  if (ec == std::errc::network_unreachable) return "network_unreachable";
  if (ec == std::errc::connection_reset) return "connection_reset";
  if (ec == std::errc::connection_aborted) return "connection_aborted";
  if (ec == std::errc::broken_pipe) return "broken_pipe";
  std::string m = ec.message();
  for (char& c : m) c = (c == ' ') ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return m;
}

const char* icmp_description(bool v6, std::uint8_t type, std::uint8_t code) {
  return v6 ? wire::icmpv6_describe(type, code) : wire::icmp_describe(type, code);
}

std::string icmp_text(const tcp::icmp_origin& o) {
  return fmt::format("ICMP {} from {}", icmp_description(!o.from.is_v4(), o.type, o.code), o.from.to_string());
}

std::string error_text(std::error_code ec, const std::optional<tcp::icmp_origin>& icmp) {
  if (!icmp) return error_name(ec);
  return error_name(ec) + ": " + icmp_text(*icmp);
}

nlohmann::json icmp_json(const std::optional<tcp::icmp_origin>& icmp) {
  if (!icmp) return nullptr;
  return {{"from", icmp->from.to_string()},
          {"type", icmp->type},
          {"code", icmp->code},
          {"description", icmp_description(!icmp->from.is_v4(), icmp->type, icmp->code)}};
}

namespace {

std::string wall_clock() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:06}", tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
}

// In the order Linux lays options out on the wire (which is also how synack emits them), with the
// NOP padding tcpdump shows, so a trace reads like `tcpdump -nn -S`.
std::string format_options(const wire::tcp_options& o) {
  std::string s;
  auto add = [&](const std::string& part) {
    if (!s.empty()) s += ',';
    s += part;
  };
  if (o.mss) add(fmt::format("mss {}", *o.mss));
  if (o.sack_permitted) add("sackOK");
  if (o.timestamps) {
    if (!o.mss && !o.sack_permitted) add("nop,nop");
    add(fmt::format("TS val {} ecr {}", o.timestamps->tsval, o.timestamps->tsecr));
  }
  if (o.window_scale) add(fmt::format("nop,wscale {}", *o.window_scale));
  if (o.sack_count > 0) {
    std::string blocks;
    for (std::size_t i = 0; i < o.sack_count; ++i) blocks += fmt::format("{{{}:{}}}", o.sack[i].left, o.sack[i].right);
    add(fmt::format("nop,nop,sack {} {}", o.sack_count, blocks));
  }
  return s;
}

}  // namespace

std::string format_segment(engine::direction dir, const wire::four_tuple& t, const tcp::segment& seg,
                           tcp::state st) {
  bool out = dir == engine::direction::out;
  std::string src = fmt::format("{}.{}", (out ? t.local_addr : t.remote_addr).to_string(),
                                out ? t.local_port : t.remote_port);
  std::string dst = fmt::format("{}.{}", (out ? t.remote_addr : t.local_addr).to_string(),
                                out ? t.remote_port : t.local_port);
  std::string flags;
  if (seg.syn) flags += 'S';
  if (seg.fin) flags += 'F';
  if (seg.rst) flags += 'R';
  if (seg.psh) flags += 'P';
  if (seg.ack_num) flags += '.';
  std::string line = fmt::format("{} {} > {}: Flags [{}], seq {}", wall_clock(), src, dst, flags,
                                 seg.seq_num.value());
  if (seg.ack_num) line += fmt::format(", ack {}", seg.ack_num->value());
  line += fmt::format(", win {}", seg.window);
  std::string opts = format_options(seg.options);
  if (!opts.empty()) line += fmt::format(", options [{}]", opts);
  line += fmt::format(", length {}  {}", seg.payload.size(), tcp::to_string(st));
  return line;
}

std::string format_state_change(const wire::four_tuple& t, tcp::state from, tcp::state to) {
  return fmt::format("{} {}.{} state {} -> {}", wall_clock(), t.local_addr.to_string(), t.local_port,
                     tcp::to_string(from), tcp::to_string(to));
}

}  // namespace synack::tools
