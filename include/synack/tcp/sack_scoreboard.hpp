// The sender's SACK scoreboard and the RFC 6675 queries over it. It records which sequence ranges
// above SND.UNA the peer has SACKed; the connection asks it
//   IsLost(SeqNum) (§4): more than (DupThresh - 1) * SMSS bytes, or DupThresh discontiguous
//                   ranges, SACKed above SeqNum. Lost-ness only falls as SeqNum rises, so one
//                   boundary splits the unSACKed bytes: below it lost, at or above it not.
//   SetPipe()   (§4): unSACKed octets not lost count once, octets retransmitted (below HighRxt)
//                   count once more.
//   NextSeg()   (§4, rule 1): the first unSACKed, lost octet at or above HighRxt.
// SACK information is advisory (RFC 2018 §8): data is only released by the cumulative ACK, and
// the scoreboard is cleared on a retransmission timeout. Bounded like the receiver's queue: a
// SACKed range that needs a slot beyond the capacity is forgotten, which only costs an
// unnecessary retransmission.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "synack/tcp/range_set.hpp"
#include "synack/wire/tcp_options.hpp"

namespace synack::tcp {

class sack_scoreboard {
public:
  static constexpr std::size_t max_ranges = 32;
  static constexpr std::uint32_t dup_thresh = 3;  // RFC 6675 DupThresh

  sack_scoreboard() : sacked_(max_ranges) {}

  // Record the SACK blocks of an ACK; parts outside (snd_una, snd_max] are ignored (a block
  // below SND.UNA is a D-SACK, RFC 2883, which we do not use). Returns the newly SACKed bytes.
  std::uint32_t update(seq snd_una, seq snd_max, std::span<const wire::sack_block> blocks);
  // The cumulative ACK moved to snd_una.
  void acked(seq snd_una) {
    if (!sacked_.empty()) sacked_.erase_below(snd_una);  // (usually nothing is SACKed)
  }
  void clear() { sacked_.clear(); }
  bool empty() const { return sacked_.empty(); }
  const range_set& ranges() const { return sacked_; }
  std::uint32_t sacked_bytes() const;

  // Unsacked sequence numbers below the returned one are lost (IsLost); returns snd_una if none is.
  seq lost_boundary(seq snd_una, std::uint32_t smss) const;
  bool is_lost(seq s, seq snd_una, std::uint32_t smss) const { return s < lost_boundary(snd_una, smss); }
  // RFC 6675 pipe.
  std::uint32_t pipe(seq snd_una, seq snd_max, seq high_rxt, std::uint32_t smss) const;
  // NextSeg rule 1: the first unSACKed sequence number >= from that is lost.
  std::optional<seq> next_lost(seq from, seq snd_una, std::uint32_t smss) const;
  // The end of the unSACKed run starting at s (the next SACKed range's start, or `limit`).
  seq hole_end(seq s, seq limit) const;
  // If s falls inside a SACKed range, its end; otherwise s.
  seq skip_sacked(seq s) const;

private:
  range_set sacked_;
};

}  // namespace synack::tcp
