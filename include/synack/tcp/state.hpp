// The eleven connection states of RFC 9293 §3.3.2.
#pragma once

#include <cstdint>
#include <string_view>

namespace synack::tcp {

enum class state : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};

// "SYN_SENT", "ESTABLISHED", ... as netstat and the seeds print them.
constexpr std::string_view to_string(state s) {
  switch (s) {
    case state::closed: return "CLOSED";
    case state::listen: return "LISTEN";
    case state::syn_sent: return "SYN_SENT";
    case state::syn_received: return "SYN_RCVD";
    case state::established: return "ESTABLISHED";
    case state::fin_wait_1: return "FIN_WAIT_1";
    case state::fin_wait_2: return "FIN_WAIT_2";
    case state::close_wait: return "CLOSE_WAIT";
    case state::closing: return "CLOSING";
    case state::last_ack: return "LAST_ACK";
    case state::time_wait: return "TIME_WAIT";
  }
  return "?";
}

// RFC 9293: the states after the handshake in which sequence numbers are synchronized.
constexpr bool is_synchronized(state s) {
  return s != state::closed && s != state::listen && s != state::syn_sent;
}

}  // namespace synack::tcp
