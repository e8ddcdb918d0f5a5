// The model's pseudo-random numbers: xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
// Small, fast, and with a fixed, documented output on every platform, so a seed replays the same
// decisions everywhere (std::uniform_real_distribution is implementation-defined; this is not).
#pragma once

#include <array>
#include <cstdint>

namespace synack::impair {

class xoshiro256ss {
 public:
  // One stream per (seed, stream): the box uses stream 0 for a2b and 1 for b2a, so the two
  // directions of one seed are independent.
  explicit xoshiro256ss(std::uint64_t seed, std::uint64_t stream = 0) noexcept {
    std::uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (auto& s : s_) s = splitmix64(x);
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // True with probability p (p <= 0: never, p >= 1: always); always consumes one number.
  bool chance(double p) noexcept { return uniform() < p; }
  // Uniform in [0, n) for n > 0 (modulo; the bias is < n / 2^64, far below anything measured).
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace synack::impair
