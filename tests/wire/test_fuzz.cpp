// Robustness: random bytes and random mutations of a valid frame through parse_frame. Nothing may
// crash (ASan in CI catches out-of-bounds reads) and every result must be self-consistent.
// The seed is fixed for reproducibility; set SYNACK_FUZZ_SEED to try others. Failures print it.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <random>

#include "synack/wire/frame.hpp"
#include "wire/helpers.hpp"

using namespace synack::wire;
using wire_test::byte_vec;

namespace {

std::uint32_t fuzz_seed() {
  const char* env = std::getenv("SYNACK_FUZZ_SEED");
  return env ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 0)) : 20240601u;
}

bool within(bytes inner, bytes outer) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

// The result's claims agree with each other and point inside the frame. Returns what is wrong.
const char* inconsistency(const parsed_frame& p, bytes frame) {
  const bool accepted = p.kind == frame_kind::arp || p.kind == frame_kind::tcp || p.kind == frame_kind::icmp;
  if (accepted != (p.error == parse_error::none)) return "kind and error disagree";
  if (!accepted && is_malformed(p.error) != (p.kind == frame_kind::malformed)) return "malformed/ignored mix-up";
  if (p.kind == frame_kind::arp && !p.arp) return "arp without repr";
  if (p.kind == frame_kind::tcp && !(p.ipv4 && p.tcp && p.tcp_segment && p.ipv4_header)) return "tcp without reprs";
  if (p.kind == frame_kind::icmp && !(p.ipv4 && p.icmp && p.icmp_message && p.ipv4_header)) return "icmp without reprs";
  if (p.icmp && !within(p.icmp->quote.transport, frame)) return "icmp quotation outside the frame";
  if (p.icmp && p.icmp->quote.transport.size() < icmp_min_quote_transport) return "icmp quotation under 8 bytes";
  if (p.tcp && !within(p.tcp->payload, frame)) return "tcp payload outside the frame";
  if (p.tcp && p.tcp->options.sack_count > 4) return "too many sack blocks";
  if (p.ipv4_header && !within(p.ipv4_header->raw(), frame)) return "ipv4 view outside the frame";
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz)

BOOST_AUTO_TEST_CASE(random_and_mutated_frames_never_crash) {
  const std::uint32_t seed = fuzz_seed();
  BOOST_TEST_MESSAGE("fuzz seed " << seed);
  std::mt19937 rng(seed);
  const byte_vec base = wire_test::valid_syn_frame();
  parse_counters counters;
  std::size_t accepted = 0;

  constexpr int iterations = 100'000;
  for (int i = 0; i < iterations; ++i) {
    byte_vec f;
    if (rng() % 4 == 0) {
      f.resize(rng() % 128);
      for (auto& b : f) b = static_cast<std::byte>(rng());
      if (f.size() >= 14 && rng() % 2) store_u16(f, 12, rng() % 2 ? ethertype::ipv4 : ethertype::arp);
    } else {
      f = base;
      const unsigned flips = 1 + rng() % 4;
      for (unsigned k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<std::byte>(rng());
      if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
      if (rng() % 2) wire_test::refresh_checksums(f);
    }
    const parse_options opts{.verify_checksums = rng() % 2 == 0};
    const parsed_frame p = parse_frame(f, opts);
    counters.count(p.error);
    if (p.error == parse_error::none) ++accepted;
    if (const char* what = inconsistency(p, f)) {
      BOOST_ERROR("fuzz seed " << seed << " iteration " << i << ": " << what << " in " << wire_test::to_hex(f));
      break;
    }
  }
  BOOST_TEST(counters.total() + accepted == static_cast<std::uint64_t>(iterations));
  BOOST_TEST(accepted > 0u);  // the mutations reach past the checks, not only the first one
  BOOST_TEST(counters[parse_error::syn_and_fin] + counters[parse_error::bad_option_length] > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
