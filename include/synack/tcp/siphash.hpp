// SipHash-2-4, the keyed 64-bit PRF of J.-P. Aumasson and D. J. Bernstein, "SipHash: a fast
// short-input PRF", INDOCRYPT 2012 (https://www.aumasson.jp/siphash/siphash.pdf). Two compression
// rounds per 8-byte message word, four finalization rounds. Used as the F of RFC 6528.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace synack::tcp {

using siphash_key = std::array<std::byte, 16>;

// The 64-bit output of the paper, as an integer (the reference code stores it little-endian).
std::uint64_t siphash_2_4(const siphash_key& key, std::span<const std::byte> message);

}  // namespace synack::tcp
