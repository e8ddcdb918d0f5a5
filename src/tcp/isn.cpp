#include "synack/tcp/isn.hpp"

#include <array>
#include <bit>

#include "synack/wire/bytes.hpp"

namespace synack::tcp {

namespace {

std::uint64_t load_le64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
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

}  // namespace

std::uint64_t siphash_2_4(const siphash_key& key, std::span<const std::byte> message) {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  // Initialization: the constants spell "somepseudorandomlygeneratedbytes".
  sip_state s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
              k1 ^ 0x7465646279746573ULL};
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

std::uint32_t isn_generator::m(instant now) {
  const auto ticks = now.time_since_epoch() / std::chrono::microseconds{4};
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ticks));
}

std::uint32_t isn_generator::f(const wire::four_tuple& t) const {
  // The RFC 6528 argument order: local address, local port, remote address, remote port.
  std::array<std::byte, 12> msg{};
  wire::store_u32(msg, 0, t.local_addr.value);
  wire::store_u16(msg, 4, t.local_port);
  wire::store_u32(msg, 6, t.remote_addr.value);
  wire::store_u16(msg, 10, t.remote_port);
  return static_cast<std::uint32_t>(siphash_2_4(secret_, msg));
}

}  // namespace synack::tcp
