// Initial sequence numbers per RFC 6528 §3:
//     ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
// M is a timer ticking every 4 microseconds, read from the `instant` the caller passes (the core
// reads no clock); F is SipHash-2-4 keyed with a 128-bit secret the owner draws from a random
// source once (the core makes no syscalls). Distinct four-tuples get unrelated ISNs, and a reused
// four-tuple gets a larger ISN than before, which keeps old duplicates out of the new incarnation.
#pragma once

#include <array>
#include <cstdint>

#include "synack/tcp/seq.hpp"
#include "synack/tcp/siphash.hpp"
#include "synack/tcp/time.hpp"
#include "synack/wire/address.hpp"

namespace synack::tcp {

class isn_generator {
public:
  // Keys SipHash once: the key's part of the initial state is kept, not the key.
  explicit isn_generator(const siphash_key& secret);

  seq generate(const wire::four_tuple& tuple, instant now) const { return seq{m(now) + f(tuple)}; }

  // The two terms, public so tests can check each one.
  static std::uint32_t m(instant now);               // 4 µs ticks since the epoch, mod 2^32
  std::uint32_t f(const wire::four_tuple& tuple) const;  // low 32 bits of SipHash-2-4

private:
  std::array<std::uint64_t, 4> keyed_;  // SipHash v0..v3 after initialization with the secret
};

}  // namespace synack::tcp
