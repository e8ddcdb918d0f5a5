// Shared pieces of the synack subcommands: signals, common options, errors, trace lines.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "synack/engine/engine.hpp"

namespace synack::tools {

// Exit statuses of the command-line contract.
inline constexpr int exit_ok = 0;
inline constexpr int exit_network = 1;  // refused, timed out, unreachable, reset
inline constexpr int exit_setup = 2;    // usage or set-up error

// Set by SIGINT/SIGTERM. The handlers are installed without SA_RESTART so a blocking wait
// returns, and every loop checks this flag and unwinds normally: destructors remove the rules.
extern std::atomic<bool> stop_requested;
void install_signal_handlers();

struct common_options {
  std::string interface;
  std::string source;
  std::string ports;
  bool no_rst_guard = false;
  bool trace = false;
  std::string pcap;  // --pcap FILE
  std::string busy_poll;  // --busy-poll[=US]: empty (off), "true" (bare: the whole wait) or microseconds
};
void add_common_options(CLI::App& app, common_options& o);
// Throws link::setup_error on a bad value.
engine::options to_engine_options(const common_options& o);

// With file capabilities (setcap cap_net_raw,cap_net_admin+ep) and no root, the iptables that the
// RST guard runs would start without them: raise CAP_NET_RAW and CAP_NET_ADMIN into the inheritable
// and ambient sets so children keep them. No-op as root or without the capabilities.
void keep_capabilities_for_children() noexcept;

// HOST or HOST:PORT; a hostname is resolved with the system resolver (IPv4).
struct host_port {
  wire::ipv4_addr addr;
  std::optional<std::uint16_t> port;
  std::string name;
};
host_port resolve_host(const std::string& text);  // throws link::setup_error

// "connection_refused", "timed_out", ... as in the JSON contract.
std::string error_name(std::error_code ec);
// What answered with an ICMP error: "ICMP port unreachable from 10.88.2.2".
std::string icmp_text(const tcp::icmp_origin& o);
// The error as the text output shows it: "connection_refused: ICMP port unreachable from
// 10.88.2.2", or just the name without an ICMP origin.
std::string error_text(std::error_code ec, const std::optional<tcp::icmp_origin>& icmp);
// The JSON contract's `icmp` field: {"from": "a.b.c.d", "type": N, "code": N}, or null.
nlohmann::json icmp_json(const std::optional<tcp::icmp_origin>& icmp);

// tcpdump-like lines for --trace.
std::string format_segment(engine::direction dir, const wire::four_tuple& t, const tcp::segment& seg,
                           tcp::state st);
std::string format_state_change(const wire::four_tuple& t, tcp::state from, tcp::state to);

}  // namespace synack::tools
