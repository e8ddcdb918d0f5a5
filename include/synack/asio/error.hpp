// synack's own error codes for the Asio front end, and the mapping of the TCP core's errors to the
// codes a kernel-backed boost::asio::ip::tcp::socket reports.
//
// Kernel-equivalent failures use Asio's own values (boost::asio::error::connection_refused, ...,
// system category), so code written against ip::tcp::socket compares them unchanged. Only what a
// kernel socket cannot produce has a synack code (category "synack.asio").
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

namespace synack::asio {

namespace error {

enum class errc {
  stack_stopped = 1,      // the stack was stopped or destroyed: it no longer drives any connection
  option_after_connect,   // this option only takes effect before async_connect (buffers, MSS)
  option_not_supported,   // the TCP core does not implement this setting (yet)
  setup_failed,           // the link layer refused (see the stack's exception for set-up errors)
  port_outside_range,     // an acceptor's port is outside the stack's ports (engine::options::ports)
};

const boost::system::error_category& get_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), get_category()};
}

// The TCP core's std::errc values, as a kernel socket reports them:
//   connection_refused -> connection_refused (RST answering our SYN)
//   connection_reset   -> connection_reset   (RST on a synchronized connection)
//   timed_out          -> timed_out          (SYN retries / retransmissions / keepalive exhausted)
//   host_unreachable   -> host_unreachable   (no ARP answer for the next hop; ICMP, below)
// ICMP errors (issue 13) give what Linux's tcp_v4_err gives a kernel socket (icmp_err_convert),
// at once while connecting, and in place of timed_out when an established connection later times
// out after one (the remembered "soft" error; engine option tcp.icmp_hard_errors_abort makes the
// hard ones end it at once). Destination unreachable, by code:
//   0 net, 6 net unknown, 9 net prohibited, 11 net for TOS  -> network_unreachable (ENETUNREACH)
//   1 host, 10 host prohibited, 12 host for TOS,
//   13 communication prohibited, 14, 15 precedence          -> host_unreachable (EHOSTUNREACH)
//   2 protocol                                              -> no_protocol_option (ENOPROTOOPT)
//   3 port                                                  -> connection_refused (ECONNREFUSED)
//   4 fragmentation needed (only below the PMTU floor)      -> message_size (EMSGSIZE)
//   5 source route failed                                   -> operation_not_supported (EOPNOTSUPP)
//   7 host unknown                                          -> EHOSTDOWN (no Asio name)
//   8 host isolated                                         -> ENONET (no Asio name)
// Time exceeded -> host_unreachable; parameter problem -> EPROTO (no Asio name).
// Anything else keeps its errno value in the system category.
inline boost::system::error_code from_core(std::error_code ec) noexcept {
  if (!ec) return {};
  return {ec.value(), boost::asio::error::get_system_category()};
}

}  // namespace error

}  // namespace synack::asio

namespace boost::system {
template <>
struct is_error_code_enum<synack::asio::error::errc> : std::true_type {};
}  // namespace boost::system
