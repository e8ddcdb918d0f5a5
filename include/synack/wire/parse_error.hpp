// Why a received frame was not accepted, as one enum shared by every wire format, plus the
// small result type the parsers return and the per-reason drop counters the engine keeps.
#pragma once

#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace synack::wire {

// Every reason a frame can be refused. "Ignored" reasons describe well-formed traffic synack does
// not handle (see is_malformed); the others describe broken frames.
enum class parse_error : std::uint8_t {
  none,
  // Ethernet (IEEE 802.3)
  truncated_ethernet,
  vlan_tagged,            // ignored: 802.1Q / 802.1ad tags are not supported
  unsupported_ethertype,  // ignored: neither IPv4 nor ARP
  // ARP (RFC 826)
  truncated_arp,
  unsupported_arp,     // ignored: not Ethernet/IPv4 ARP
  unsupported_arp_op,  // ignored: neither request nor reply
  // IPv4 (RFC 791)
  truncated_ipv4,
  bad_ip_version,
  ihl_too_small,
  total_length_too_small,
  total_length_beyond_frame,
  bad_ip_checksum,
  ip_fragment,  // ignored: synack does not reassemble
  not_tcp,      // ignored: another IP protocol (neither TCP nor ICMP)
  // TCP (RFC 9293)
  truncated_tcp,
  data_offset_too_small,
  data_offset_beyond_segment,
  bad_tcp_checksum,
  syn_and_fin,
  syn_and_rst,
  option_length_zero,
  option_length_one,
  option_past_header,
  bad_option_length,
  // ICMP (RFC 792) errors about our TCP segments
  truncated_icmp,
  bad_icmp_checksum,
  unsupported_icmp,      // ignored: not destination unreachable, time exceeded or parameter problem
  icmp_quote_truncated,  // the quotation lacks an IPv4 header and 8 bytes of its payload
  icmp_quote_bad_header,
  icmp_quote_not_tcp,    // ignored: about another protocol
};

inline constexpr std::size_t parse_error_count = static_cast<std::size_t>(parse_error::icmp_quote_not_tcp) + 1;

// A short stable name, e.g. "bad_tcp_checksum", for logs and counters.
std::string_view to_string(parse_error e);

// True for broken frames, false for `none` and for well-formed frames synack merely ignores.
constexpr bool is_malformed(parse_error e) {
  switch (e) {
    case parse_error::none:
    case parse_error::vlan_tagged:
    case parse_error::unsupported_ethertype:
    case parse_error::unsupported_arp:
    case parse_error::unsupported_arp_op:
    case parse_error::ip_fragment:
    case parse_error::not_tcp:
    case parse_error::unsupported_icmp:
    case parse_error::icmp_quote_not_tcp:
      return false;
    default:
      return true;
  }
}

// Drop counters, one per reason. `none` is never counted.
struct parse_counters {
  std::array<std::uint64_t, parse_error_count> by_reason{};

  void count(parse_error e) {
    if (e != parse_error::none) ++by_reason[static_cast<std::size_t>(e)];
  }
  std::uint64_t operator[](parse_error e) const { return by_reason[static_cast<std::size_t>(e)]; }
  std::uint64_t total() const;
};

// What every parser returns: a value or the reason there is none (std::expected is C++23).
template <class T>
class parse_result {
public:
  parse_result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  parse_result(parse_error error) : error_(error) { assert(error != parse_error::none); }  // NOLINT

  bool has_value() const { return value_.has_value(); }
  explicit operator bool() const { return has_value(); }
  parse_error error() const { return error_; }  // parse_error::none when there is a value

  const T& value() const { assert(has_value()); return *value_; }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }

private:
  std::optional<T> value_;
  parse_error error_ = parse_error::none;
};

}  // namespace synack::wire
