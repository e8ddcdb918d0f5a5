// Robustness: random bytes and random mutations of a valid frame through parse_frame. Nothing may
// crash (ASan in CI catches out-of-bounds reads) and every result must be self-consistent.
// The seed is fixed for reproducibility; set SYNACK_FUZZ_SEED to try others. Failures print it.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <random>

#include "synack/wire/checksum.hpp"
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
  const bool accepted = p.kind == frame_kind::arp || p.kind == frame_kind::tcp || p.kind == frame_kind::icmp ||
                        p.kind == frame_kind::ndp;
  if (accepted != (p.error == parse_error::none)) return "kind and error disagree";
  if (!accepted && is_malformed(p.error) != (p.kind == frame_kind::malformed)) return "malformed/ignored mix-up";
  if (p.kind == frame_kind::arp && !p.arp) return "arp without repr";
  const bool v4 = p.ipv4 && p.ipv4_header, v6 = p.ipv6 && p.ipv6_header;
  if (p.ipv4 && p.ipv6) return "both families";
  if ((p.ipv4 || p.ipv6) && !p.ip) return "ip header without ip_info";
  if (p.kind == frame_kind::tcp && !((v4 || v6) && p.ip && p.tcp && p.tcp_segment)) return "tcp without reprs";
  if (p.kind == frame_kind::icmp && !((v4 && p.icmp && p.icmp_message) || (v6 && p.icmpv6 && p.icmpv6_message)))
    return "icmp without reprs";
  if (p.kind == frame_kind::ndp && !(v6 && p.ndp && p.icmpv6_message)) return "ndp without reprs";
  if (p.ip && p.ip->src.is_v4() != v4) return "ip_info of the wrong family";
  for (const icmp_quote* q : {p.icmp ? &p.icmp->quote : nullptr, p.icmpv6 ? &p.icmpv6->quote : nullptr}) {
    if (q && !within(q->transport, frame)) return "icmp quotation outside the frame";
    if (q && q->transport.size() < icmp_min_quote_transport) return "icmp quotation under 8 bytes";
  }
  if (p.tcp && !within(p.tcp->payload, frame)) return "tcp payload outside the frame";
  if (p.tcp && p.tcp->options.sack_count > 4) return "too many sack blocks";
  if (p.ipv4_header && !within(p.ipv4_header->raw(), frame)) return "ipv4 view outside the frame";
  if (p.ipv6_header && !within(p.ipv6_header->raw(), frame)) return "ipv6 view outside the frame";
  return nullptr;
}

// The IPv6 twin of wire_test::refresh_checksums: the TCP checksum after the extension headers, as
// far as the (possibly mutated) lengths allow.
void refresh_tcp6_checksum(byte_vec& f) {
  if (f.size() < ethernet_header_len) return;
  const auto view = ipv6_view::parse(bytes{f}.subspan(ethernet_header_len));
  if (!view) return;
  const auto upper = view->upper_layer();
  if (!upper || upper->protocol != ip_protocol::tcp || upper->data.size() < tcp_min_header_len) return;
  const std::size_t at = ethernet_header_len + ipv6_header_len + upper->offset;
  const mutable_bytes seg = mutable_bytes{f}.subspan(at, upper->data.size());
  store_u16(seg, tcp_view::field::checksum, 0);
  store_u16(seg, tcp_view::field::checksum, tcp_checksum_v6(view->src(), view->dst(), seg));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz)

BOOST_AUTO_TEST_CASE(random_and_mutated_frames_never_crash) {
  const std::uint32_t seed = fuzz_seed();
  BOOST_TEST_MESSAGE("fuzz seed " << seed);
  std::mt19937 rng(seed);
  const byte_vec base = wire_test::valid_syn_frame();
  // An IPv6 SYN behind hop-by-hop and destination options headers, so mutations reach the walk.
  byte_vec ext = wire_test::ext_header(60);
  const byte_vec dest = wire_test::ext_header(ip_protocol::tcp, 1);
  ext.insert(ext.end(), dest.begin(), dest.end());
  tcp_repr syn = *parse_frame(base, {}).tcp;
  const byte_vec base6 = wire_test::build_tcp6_frame(
      ipv6_repr{.src = *ipv6_addr::parse("fd00::1"), .dst = *ipv6_addr::parse("fd00::2"), .next_header = 0}, ext, syn);
  parse_counters counters;
  std::size_t accepted = 0;

  constexpr int iterations = 100'000;
  for (int i = 0; i < iterations; ++i) {
    byte_vec f;
    bool is6 = false;
    if (rng() % 4 == 0) {
      f.resize(rng() % 128);
      for (auto& b : f) b = static_cast<std::byte>(rng());
      static constexpr std::uint16_t types[] = {ethertype::ipv4, ethertype::arp, ethertype::ipv6};
      if (f.size() >= 14 && rng() % 2) store_u16(f, 12, types[rng() % 3]);
    } else {
      is6 = rng() % 2 == 0;
      f = is6 ? base6 : base;
      const unsigned flips = 1 + rng() % 4;
      for (unsigned k = 0; k < flips; ++k) f[rng() % f.size()] = static_cast<std::byte>(rng());
      if (rng() % 4 == 0) f.resize(rng() % (f.size() + 1));
      if (rng() % 2) is6 ? refresh_tcp6_checksum(f) : wire_test::refresh_checksums(f);
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
  BOOST_TEST(counters[parse_error::ipv6_ext_header_past_payload] > 0u);  // the IPv6 base is mutated too
}

BOOST_AUTO_TEST_SUITE_END()
