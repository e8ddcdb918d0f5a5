// Drives ONE tcp::connection (synack's side, active open) through N complete lifecycles against
// pre-built peer segments, for counting the TCP core's instructions per handshake + close under
// callgrind (bench/callgrind_core.sh runs it with two N and divides the difference, so set-up
// costs cancel).
//
// One lifecycle, driven as the engine drives a connection (after every input: poll_transmit()
// until it has nothing, poll_event() until the queue is empty, next_deadline() once):
//
//   connect(now)                          CLOSED -> SYN_SENT (ISN: RFC 6528 SipHash-2-4)
//   poll_transmit -> SYN                  MSS, SACK-permitted, timestamps, window scale
//   on_segment(SYN-ACK)                   -> ESTABLISHED, poll_transmit -> ACK
//   close()                               -> FIN_WAIT_1, poll_transmit -> FIN
//   on_segment(ACK of our FIN)            -> FIN_WAIT_2
//   on_segment(peer's FIN)                -> TIME_WAIT, poll_transmit -> ACK
//   on_timer(now + 2 MSL)                 -> CLOSED (the next connect() reuses the object)
//
// What counts as "the core": everything in tcp::connection, the ISN included. What does not:
// the peer (its segments are built once; only the fields that must echo ours, ACK = ISS + 1 and
// TSecr, are patched in, a handful of stores), and the wire layer (frame parse and emit, checksums:
// the micro-benchmarks in bench/micro measure those separately). The segments come out as
// tcp::segment values, the representation the engine turns into frame bytes.
//
// Usage: core_handshake N   (prints the final state and a checksum of what was sent, so the
// compiler cannot drop the work; exits non-zero if a lifecycle did not go as scripted).
#include <cstdio>
#include <cstdlib>

#include "lifecycle.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: core_handshake N\n");
    return 2;
  }
  const unsigned n = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
  synack::bench::lifecycle_driver d;
  for (unsigned i = 0; i < n; ++i)
    if (const char* bad = d.run_once()) {
      std::fprintf(stderr, "core_handshake: lifecycle %u: %s\n", i, bad);
      return 1;
    }
  std::printf("lifecycles=%u segments=%u events=%u sum=%llu\n", n, d.segments, d.events,
              static_cast<unsigned long long>(d.sum));
  return 0;
}
