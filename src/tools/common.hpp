// Shared pieces of the synack subcommands: signals, common options, errors, trace lines.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "synack/engine/engine.hpp"
#include "synack/wire/address.hpp"

namespace synack::tools {

// Exit statuses of the command-line contract.
inline constexpr int exit_ok = 0;
inline constexpr int exit_network = 1;  // refused, timed out, unreachable, reset
inline constexpr int exit_setup = 2;    // usage or set-up error

// Set by SIGINT/SIGTERM. The handlers are installed without SA_RESTART so a blocking wait
// returns, and every loop checks this flag and unwinds normally: destructors remove the rules.
extern std::atomic<bool> stop_requested;
void install_signal_handlers();

// Which address family a name may resolve to: the tools' -4 / -6 (any: the resolver's first answer,
// which getaddrinfo orders by RFC 6724 so a reachable family comes first).
enum class family_preference { any, v4, v6 };

struct common_options {
  std::string interface;
  std::string source;
  std::string ports;
  bool no_rst_guard = false;
  bool this_host = false;  // --this-host: synack on its own tun device, reachable from this host
  bool trace = false;
  std::string pcap;  // --pcap FILE
  std::string busy_poll;  // --busy-poll[=US]: empty (off), "true" (bare: the whole wait) or microseconds
  family_preference family = family_preference::any;  // -4 / -6
};
void add_common_options(CLI::App& app, common_options& o);  // includes add_family_flags
// -4 / -6 (mutually exclusive): which family a name resolves to.
void add_family_flags(CLI::App& app, family_preference& f);
// Throws link::setup_error on a bad value.
engine::options to_engine_options(const common_options& o);

// With file capabilities (setcap cap_net_raw,cap_net_admin+ep) and no root, the iptables that the
// RST guard runs would start without them: raise CAP_NET_RAW and CAP_NET_ADMIN into the inheritable
// and ambient sets so children keep them. No-op as root or without the capabilities.
void keep_capabilities_for_children() noexcept;

// "IPv4" / "IPv6" / "any".
std::string to_string(family_preference f);
// Does ADDR's family satisfy F?
bool family_matches(const wire::ip_addr& addr, family_preference f);

// A target split into its host and port, nothing resolved yet:
//   HOST, HOST:PORT, 1.2.3.4, 1.2.3.4:80, fd00::2 (a bare IPv6 literal is never split at a colon),
//   [fd00::2], [fd00::2]:8080.
// Throws link::setup_error: "missing ']' in '[fd00::2'", "bad port in 'h:x' (1-65535)",
// "bad IPv6 literal 'fd00:::2' in '...'", "missing host in ':80'".
struct host_spec {
  std::string host;                  // without brackets
  std::optional<std::uint16_t> port;
  bool bracketed = false;            // written [IPv6]: must be an IPv6 literal
};
host_spec split_host_port(const std::string& text);

// Every address NAME resolves to (getaddrinfo, A and AAAA, its RFC 6724 order, duplicates
// dropped) of the family F allows. Throws link::setup_error "cannot resolve 'NAME': ..." (when the
// family excluded every answer: "cannot resolve 'NAME': 'NAME' has no IPv6 address (AAAA) ...").
std::vector<wire::ip_addr> resolve_name(const std::string& name, family_preference f = family_preference::any);

// A target resolved: HOST[:PORT] as split_host_port reads it, a name resolved with resolve_name; the
// address used is the first that F allows (say which: addr.to_string()).
struct host_port {
  wire::ip_addr addr;                  // the address used
  std::optional<std::uint16_t> port;
  std::string name;                    // the host as written (no brackets, no port)
  bool literal = false;                // the host was an address literal (nothing resolved)
  std::vector<wire::ip_addr> resolved; // every address the name had in F (addr first); {addr} for a literal
};
host_port resolve_host(const std::string& text, family_preference f = family_preference::any);  // throws link::setup_error

// serve --listen: [ADDR]:PORT, ADDR:PORT, :PORT or PORT (ADDR: an IPv4 or IPv6 literal or a name).
// addr is empty for :PORT / PORT (every address). Throws link::setup_error ("needs a port", "bad
// port", the errors of split_host_port and resolve_name).
struct listen_spec {
  std::optional<wire::ip_addr> addr;   // empty: every address
  std::uint16_t port = 0;
  std::string name;                    // the address as written (empty for :PORT)
};
listen_spec parse_listen(const std::string& text, family_preference f = family_preference::any);

// "connection_refused", "timed_out", ... as in the JSON contract.
std::string error_name(std::error_code ec);
// What answered with an ICMP error: "ICMP port unreachable from 10.88.2.2".
// An ICMP type and code in words, from the ICMPv6 table when `v6` (ICMPv6 type 1 is destination
// unreachable, ICMPv4 type 1 is unassigned).
const char* icmp_description(bool v6, std::uint8_t type, std::uint8_t code);
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
