#include "synack/tcp/isn.hpp"

#include <array>
#include <bit>
#include <cstring>

#include "synack/wire/bytes.hpp"

namespace synack::tcp {

namespace {

std::uint64_t load_le64(const std::byte* p) {
  if constexpr (std::endian::native == std::endian::little) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
    return v;
  }
}

struct sip_state {
  std::uint64_t v0, v1, v2, v3;

  // SipRound, §2 of the paper.
  void round() {
    v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
    v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
  }
  void compress(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

// Initialization: the constants spell "somepseudorandomlygeneratedbytes".
sip_state keyed_state(const siphash_key& key) {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  return {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
          k1 ^ 0x7465646279746573ULL};
}

std::uint64_t siphash_from(sip_state s, std::span<const std::byte> message) {
  const std::size_t whole = message.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.compress(load_le64(message.data() + i));
  // Last word: the remaining bytes, little-endian, with the length mod 256 in the top byte.
  std::uint64_t last = std::uint64_t{message.size() & 0xff} << 56;
  for (std::size_t i = whole; i < message.size(); ++i)
    last |= std::uint64_t{static_cast<std::uint8_t>(message[i])} << (8 * (i - whole));
  s.compress(last);
  // Finalization: four rounds.
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace

std::uint64_t siphash_2_4(const siphash_key& key, std::span<const std::byte> message) {
  return siphash_from(keyed_state(key), message);
}

isn_generator::isn_generator(const siphash_key& secret) {
  const sip_state s = keyed_state(secret);
  keyed_ = {s.v0, s.v1, s.v2, s.v3};
}

std::uint32_t isn_generator::m(instant now) {
  const auto ticks = now.time_since_epoch() / std::chrono::microseconds{4};
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ticks));
}

std::uint32_t isn_generator::f(const wire::four_tuple& t) const {
  if (t.local_addr.is_v6() || t.remote_addr.is_v6()) {
    // IPv6 (the rare path): SipHash-2-4 of the 36-byte message local address, local port,
    // remote address, remote port, each big-endian (RFC 6528 over the IPv6 tuple).
    std::array<std::byte, 36> msg{};
    std::memcpy(msg.data(), t.local_addr.raw.octets.data(), 16);
    msg[16] = std::byte(t.local_port >> 8);
    msg[17] = std::byte(t.local_port & 0xff);
    std::memcpy(msg.data() + 18, t.remote_addr.raw.octets.data(), 16);
    msg[34] = std::byte(t.remote_port >> 8);
    msg[35] = std::byte(t.remote_port & 0xff);
    sip_state s{keyed_[0], keyed_[1], keyed_[2], keyed_[3]};
    return static_cast<std::uint32_t>(siphash_from(s, msg));
  }
  // IPv4: SipHash-2-4 of the 12-byte message local address, local port, remote address, remote port
  // (RFC 6528 order, each big-endian), as siphash_2_4() computes it, with the two message words
  // assembled from the fields directly: m0 holds bytes 0-7 and the last word bytes 8-11 plus the
  // length, each read little-endian. (The tests compare this with siphash_2_4 of the bytes.)
  // A big-endian field read little-endian is the field byte-swapped (GCC and Clang compile these
  // two helpers to single instructions).
  const auto swap16 = [](std::uint32_t v) { return ((v >> 8) & 0xffu) | ((v & 0xffu) << 8); };
  const auto swap32 = [](std::uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
  };
  const std::uint32_t la = swap32(t.local_addr.v4().value), ra = swap32(t.remote_addr.v4().value);
  const std::uint64_t m0 =
      std::uint64_t{la} | std::uint64_t{swap16(t.local_port)} << 32 | std::uint64_t{ra & 0xffff} << 48;
  const std::uint64_t m1 = std::uint64_t{(ra >> 16) | swap16(t.remote_port) << 16} | std::uint64_t{12} << 56;
  sip_state s{keyed_[0], keyed_[1], keyed_[2], keyed_[3]};
  s.compress(m0);
  s.compress(m1);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return static_cast<std::uint32_t>(s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

}  // namespace synack::tcp
