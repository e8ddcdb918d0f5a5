#include "common.hpp"

#include <linux/capability.h>
#include <netdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

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

void add_common_options(CLI::App& app, common_options& o) {
  app.add_option("-I,--interface", o.interface, "Interface to send from (default: the route's)");
  app.add_option("--source", o.source, "Source IPv4 address (default: the route's preferred source)");
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
    auto a = wire::ipv4_addr::parse(o.source);
    if (!a)
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "--source '" + o.source + "' is not an IPv4 address");
    e.source = *a;
  }
  if (!o.ports.empty()) e.ports = link::parse_port_range(o.ports);
  e.rst_guard = !o.no_rst_guard;
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

host_port resolve_host(const std::string& text) {
  host_port hp;
  std::string host = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    std::string p = text.substr(colon + 1);
    char* end = nullptr;
    unsigned long v = std::strtoul(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v == 0 || v > 65535)
      throw link::setup_error(link::setup_errc::invalid_argument, "bad port in '" + text + "' (1-65535)");
    hp.port = static_cast<std::uint16_t>(v);
  }
  hp.name = host;
  if (auto a = wire::ipv4_addr::parse(host)) {
    hp.addr = *a;
    return hp;
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr)
    throw link::setup_error(link::setup_errc::invalid_argument,
                            "cannot resolve '" + host + "': " + gai_strerror(rc) + " (check the name or use an IPv4 address)");
  auto* sin = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  hp.addr = wire::ipv4_addr{ntohl(sin->sin_addr.s_addr)};
  freeaddrinfo(res);
  return hp;
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

std::string icmp_text(const tcp::icmp_origin& o) {
  return fmt::format("ICMP {} from {}", wire::icmp_describe(o.type, o.code), o.from.to_string());
}

std::string error_text(std::error_code ec, const std::optional<tcp::icmp_origin>& icmp) {
  if (!icmp) return error_name(ec);
  return error_name(ec) + ": " + icmp_text(*icmp);
}

nlohmann::json icmp_json(const std::optional<tcp::icmp_origin>& icmp) {
  if (!icmp) return nullptr;
  return {{"from", icmp->from.to_string()}, {"type", icmp->type}, {"code", icmp->code}};
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
