// A TCP segment as the connection state machine sees it: sequence space, control bits, window,
// options and a payload view. Ports and addresses are the connection's, not the segment's; the
// engine converts between this and the wire representation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "synack/tcp/seq.hpp"
#include "synack/wire/tcp_options.hpp"

namespace synack::tcp {

struct segment {
  seq seq_num;                 // SEG.SEQ
  std::optional<seq> ack_num;  // SEG.ACK, present if and only if the ACK bit is set
  bool syn = false;
  bool fin = false;
  bool rst = false;
  bool psh = false;
  std::uint16_t window = 0;  // SEG.WND as on the wire (not yet scaled)
  wire::tcp_options options;
  std::span<const std::byte> payload;

  // SEG.LEN: payload plus one for each of SYN and FIN.
  std::uint32_t len() const {
    return static_cast<std::uint32_t>(payload.size()) + (syn ? 1u : 0u) + (fin ? 1u : 0u);
  }
};

}  // namespace synack::tcp
