// The receiver's out-of-order queue (RFC 9293 §3.10.7.4 step 7, "segments with higher beginning
// sequence numbers ... may be held for later processing"). The bytes live in the receive ring, in
// the free space past its end at their distance from RCV.NXT (byte_ring::write_at); this type only
// records which sequence ranges are present. When RCV.NXT reaches a range, the ring takes it in
// with commit() and the range is forgotten.
//
// Bounded twice: by the ring (bytes beyond its free space are not stored) and by at most
// `max_ranges` holes' worth of ranges; a segment that would need a further range is dropped (the
// peer retransmits it). Duplicates and overlaps cost nothing: the bytes are written again in place
// and the ranges merge. The ranges double as the SACK blocks we report (RFC 2018 §4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "synack/tcp/byte_ring.hpp"
#include "synack/tcp/range_set.hpp"
#include "synack/wire/tcp_options.hpp"

namespace synack::tcp {

class reassembly {
public:
  static constexpr std::size_t max_ranges = 32;

  reassembly() : ranges_(max_ranges) {}

  // Keep `data`, which starts at `start` > rcv_nxt, in `ring`. Returns the bytes stored (fewer than
  // offered where the ring ends, 0 if no range slot is left).
  std::size_t insert(byte_ring& ring, seq rcv_nxt, seq start, std::span<const std::byte> data);
  // RCV.NXT moved to `rcv_nxt` by in-order data: how many further bytes, already in the ring,
  // now follow it contiguously. The caller commits them to the ring and advances RCV.NXT.
  std::uint32_t take_contiguous(seq rcv_nxt);

  bool empty() const { return ranges_.empty(); }
  std::size_t size() const { return ranges_.size(); }
  const range_set& ranges() const { return ranges_; }
  void clear() { ranges_.clear(); }

  // Up to out.size() SACK blocks, the most recently changed range first (RFC 2018 §4: the first
  // block holds the segment that triggered the ACK; the rest repeat the most recent ones).
  std::size_t sack_blocks(std::span<wire::sack_block> out) const;

private:
  range_set ranges_;
};

}  // namespace synack::tcp
