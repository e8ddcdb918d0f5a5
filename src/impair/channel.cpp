#include "synack/impair/channel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "synack/impair/checksum.hpp"

namespace synack::impair {

namespace {

constexpr std::size_t eth_header = 14;
constexpr std::size_t vlan_tag = 4;

std::uint16_t ether_type(std::span<const std::byte> f) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(f[12]) << 8) | std::to_integer<unsigned>(f[13]));
}

bool is_vlan_type(std::uint16_t t) { return t == 0x8100 || t == 0x88a8; }

}  // namespace

channel::channel(const direction_config& cfg, std::uint64_t stream)
    : cfg_(cfg),
      rng_(cfg.seed, stream),
      pool_(std::max<std::size_t>(cfg.limit, 1), cfg.max_frame + vlan_tag),
      wheel_(std::max<std::size_t>(cfg.limit, 1)) {}

bool channel::lose() noexcept {
  double u_state = rng_.uniform();
  double u_loss = rng_.uniform();
  if (!cfg_.loss_ge) return u_loss < cfg_.loss;
  const gilbert_elliott& ge = *cfg_.loss_ge;
  // Move the chain, then lose with the new state's probability (netem's order).
  if (ge_bad_) {
    if (u_state < ge.r) ge_bad_ = false;
  } else {
    if (u_state < ge.p) ge_bad_ = true;
  }
  return u_loss < (ge_bad_ ? ge.loss_bad : ge.loss_good);
}

std::optional<frame_pool::id> channel::copy_in(std::span<const std::byte> frame, const frame_meta& meta) {
  auto i = pool_.acquire();
  if (!i) return std::nullopt;
  std::span<std::byte> buf = pool_.buffer(*i);
  std::size_t n = frame.size();
  if (meta.vlan_tci) {  // MACs, the tag the kernel took out, then the rest
    std::memcpy(buf.data(), frame.data(), 12);
    buf[12] = std::byte(meta.vlan_tpid >> 8);
    buf[13] = std::byte(meta.vlan_tpid & 0xff);
    buf[14] = std::byte(*meta.vlan_tci >> 8);
    buf[15] = std::byte(*meta.vlan_tci & 0xff);
    std::memcpy(buf.data() + 16, frame.data() + 12, frame.size() - 12);
    n += vlan_tag;
  } else {
    std::memcpy(buf.data(), frame.data(), n);
  }
  pool_.set_length(*i, n);
  return i;
}

void channel::submit(instant now, std::span<const std::byte> frame, const frame_meta& meta) {
  ++stats_.received;
  if (frame.size() < eth_header) {
    ++stats_.runts;
    return;
  }
  std::size_t size = frame.size() + (meta.vlan_tci ? vlan_tag : 0);
  bool tagged = meta.vlan_tci || is_vlan_type(ether_type(frame));
  if (meta.truncated || size > cfg_.max_frame + (tagged ? vlan_tag : 0)) {
    ++stats_.oversize;
    return;
  }

  // Every decision is drawn up front, the same number of draws for every frame.
  const bool lost = lose();
  const bool dup = rng_.chance(cfg_.duplicate);
  const bool corrupt = rng_.chance(cfg_.corrupt);
  const std::uint64_t corrupt_bit = rng_.next();
  const bool reorder = rng_.chance(cfg_.reorder);
  const double u_jitter = rng_.uniform();

  if (lost) {
    ++stats_.dropped;
    return;
  }
  auto i = copy_in(frame, meta);
  if (!i) {
    ++stats_.queue_drops;
    return;
  }
  if (meta.checksum_partial && cfg_.complete_checksums && complete_l4_checksum(pool_.frame(*i)))
    ++stats_.checksums_completed;

  std::optional<frame_pool::id> copy;
  if (dup) {
    copy = pool_.acquire();
    if (copy) {
      auto src = pool_.frame(*i);
      std::memcpy(pool_.buffer(*copy).data(), src.data(), src.size());
      pool_.set_length(*copy, src.size());
      ++stats_.duplicated;
    }  // else: no room for the copy; the original still goes (counted nowhere: nothing was lost)
  }
  if (corrupt) {
    std::span<std::byte> f = pool_.frame(*i);
    if (f.size() > eth_header) {
      std::uint64_t bits = (f.size() - eth_header) * 8;
      std::uint64_t bit = corrupt_bit % bits;  // bias < bits / 2^64
      f[eth_header + bit / 8] ^= std::byte(1u << (bit % 8));
      ++stats_.corrupted;
    }
  }

  duration extra{};
  if (cfg_.jitter.count() > 0) {  // uniform in [-jitter, +jitter]
    double j = (2.0 * u_jitter - 1.0) * static_cast<double>(cfg_.jitter.count());
    extra = duration(static_cast<std::int64_t>(std::llround(j)));
  }
  if (reorder) ++stats_.reordered;
  schedule(now, *i, reorder, extra);
  if (copy) schedule(now, *copy, reorder, extra);
}

void channel::schedule(instant now, frame_pool::id i, bool reordered, duration extra) {
  instant leaves = now;
  if (cfg_.rate_bps > 0) {
    double bits = static_cast<double>(pool_.frame(i).size()) * 8.0;
    auto tx = duration(static_cast<std::int64_t>(std::llround(bits / cfg_.rate_bps * 1e9)));
    leaves = std::max(now, link_free_) + tx;
    link_free_ = leaves;
  }
  instant release = leaves;
  if (!reordered) {
    duration d = std::max(cfg_.delay + extra, duration::zero());
    release = std::max(leaves + d, last_release_);
    last_release_ = release;
  }
  wheel_.insert(i, release);
}

}  // namespace synack::impair
