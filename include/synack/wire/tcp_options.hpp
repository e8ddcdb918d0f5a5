// The TCP options synack understands, as a plain value (RFC 9293 §3.2, RFC 7323, RFC 2018).
// Parsing and emitting live in tcp.hpp; this header is the value both the wire and the TCP core use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace synack::wire {

struct sack_block {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // sequence number just past the block
  friend constexpr bool operator==(const sack_block&, const sack_block&) = default;
};

struct tcp_timestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  friend constexpr bool operator==(const tcp_timestamps&, const tcp_timestamps&) = default;
};

struct tcp_options {
  std::optional<std::uint16_t> mss;          // kind 2, SYN only
  std::optional<std::uint8_t> window_scale;  // kind 3, SYN only; shift count (capped at 14 by the user)
  bool sack_permitted = false;               // kind 4, SYN only
  std::optional<tcp_timestamps> timestamps;  // kind 8
  std::array<sack_block, 4> sack{};          // kind 5: the first sack_count entries are valid
  std::uint8_t sack_count = 0;

  friend constexpr bool operator==(const tcp_options&, const tcp_options&) = default;
};

}  // namespace synack::wire
