// The ladder diagram of a connection: two columns (us, peer), one arrow per segment with its flags,
// sequence and acknowledgment numbers and length, and our state beside each step: the picture every
// textbook draws of the three-way handshake and the four-way close.
//
// The renderer is a pure function over a recorded list of steps (tests feed it a known exchange and
// compare with a golden file); ladder_recorder builds that list from the engine's observers and
// events, for any subcommand (`ping --ladder`, later `get --ladder`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "synack/engine/engine.hpp"

namespace synack::tools {

struct ladder_step {
  enum class kind : std::uint8_t { segment, state };
  kind what = kind::segment;
  double t_us = 0;  // since the first step
  // kind::segment
  engine::direction dir = engine::direction::out;
  bool syn = false, fin = false, rst = false, psh = false;
  std::uint32_t seq = 0;
  std::optional<std::uint32_t> ack;
  std::uint32_t len = 0;  // payload bytes
  // Our state after the step; for kind::state, `from` is the state left.
  tcp::state state = tcp::state::closed;
  tcp::state from = tcp::state::closed;
};

struct ladder_ends {
  std::string us;    // "10.111.0.1:61000"
  std::string peer;  // "10.111.0.2:80"
};

// "SYN", "SYN,ACK", "ACK", "FIN,ACK", "PSH,ACK", "RST", "RST,ACK".
std::string ladder_flags(const ladder_step& s);

// The whole diagram, one line per step after a two-line header, each line ending in '\n'.
std::string render_ladder(const ladder_ends& ends, const std::vector<ladder_step>& steps);

// Records the steps of connections as they happen. Feed it from the engine's segment observer and
// event handler; render one connection when it is done.
class ladder_recorder {
 public:
  void segment(engine::direction dir, tcp::instant at, const wire::four_tuple& t, const tcp::segment& seg,
               tcp::state after);
  // A state change the segments do not show (the end of TIME_WAIT, say).
  void state_change(tcp::instant at, const wire::four_tuple& t, tcp::state from, tcp::state to);

  bool has(const wire::four_tuple& t) const;
  std::string render(const wire::four_tuple& t) const;
  const std::vector<ladder_step>* steps(const wire::four_tuple& t) const;
  void erase(const wire::four_tuple& t);

 private:
  struct record {
    tcp::instant start{};
    std::vector<ladder_step> steps;
  };
  record& get(const wire::four_tuple& t, tcp::instant at);
  std::vector<std::pair<wire::four_tuple, record>> conns_;  // few connections: a flat list
};

}  // namespace synack::tools
