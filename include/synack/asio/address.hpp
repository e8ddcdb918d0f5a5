// Conversions between Asio's addresses and synack's wire addresses.
#pragma once

#include <boost/asio/ip/address.hpp>

#include "synack/wire/address.hpp"

namespace synack::asio {

// An Asio address as synack's wire address; a v4-mapped IPv6 address is IPv4, as a Linux AF_INET6
// socket treats it (wire::ip_addr stores IPv4 v4-mapped).
inline wire::ip_addr to_wire(const boost::asio::ip::address& a) {
  if (a.is_v4()) return wire::ipv4_addr{a.to_v4().to_uint()};
  return wire::ipv6_addr{a.to_v6().to_bytes()};
}

}  // namespace synack::asio
