#include "trace_diff.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "synack/wire/ipv6.hpp"

namespace synack::tools {

namespace {

// TCP header offsets (RFC 9293 §3.1).
namespace tcp_at {
constexpr std::size_t src_port = 0;
constexpr std::size_t dst_port = 2;
constexpr std::size_t seq = 4;
constexpr std::size_t ack = 8;
constexpr std::size_t data_offset = 12;  // high nibble; the low nibble and byte 13 hold the flags
constexpr std::size_t window = 14;
constexpr std::size_t options = 20;
}  // namespace tcp_at

namespace kind {
constexpr std::uint8_t eol = 0;
constexpr std::uint8_t nop = 1;
constexpr std::uint8_t mss = 2;
constexpr std::uint8_t wscale = 3;
constexpr std::uint8_t sack_permitted = 4;
constexpr std::uint8_t sack = 5;
constexpr std::uint8_t timestamps = 8;
}  // namespace kind

std::uint16_t u16(wire::bytes b, std::size_t at) { return wire::load_u16(b, at); }
std::uint32_t u32(wire::bytes b, std::size_t at) { return wire::load_u32(b, at); }

std::size_t header_len(wire::bytes tcp) { return static_cast<std::size_t>(wire::load_u8(tcp, tcp_at::data_offset) >> 4) * 4; }

// The field name and the short name of an option kind (the names tcpdump prints).
struct option_name {
  const char* field;
  std::string text;
};
option_name name_of(std::uint8_t k) {
  switch (k) {
    case kind::mss: return {"mss", "MSS"};
    case kind::wscale: return {"wscale", "wscale"};
    case kind::sack_permitted: return {"sack_permitted", "sackOK"};
    case kind::sack: return {"options", "SACK"};
    case kind::timestamps: return {"timestamps", "TS"};
    case 19: return {"options", "md5"};
    case 29: return {"options", "TCP-AO"};
    case 30: return {"options", "MPTCP"};
    case 34: return {"options", "TFO"};
    default: return {"options", fmt::format("option {}", k)};
  }
}

std::string hex_bytes(const std::vector<std::byte>& d) {
  std::string s;
  for (std::byte b : d) s += fmt::format("{:02x}", static_cast<unsigned>(b));
  return s;
}

// An option's value as text (MSS and window scale as numbers, timestamps as "val/ecr").
std::string option_value(const raw_tcp_option& o) {
  wire::bytes d{o.data};
  if (o.kind == kind::mss && d.size() == 2) return std::to_string(u16(d, 0));
  if (o.kind == kind::wscale && d.size() == 1) return std::to_string(wire::load_u8(d, 0));
  if (o.kind == kind::timestamps && d.size() == 8) return fmt::format("{}/{}", u32(d, 0), u32(d, 4));
  if (o.kind == kind::sack_permitted && d.empty()) return "on";
  return hex_bytes(o.data);
}

std::string flags_text(std::uint16_t f) {
  // The 12 bits after the data offset: 3 reserved, AE (ex-NS), CWR, ECE, URG, ACK, PSH, RST, SYN, FIN.
  static constexpr std::pair<std::uint16_t, const char*> names[] = {
      {0x800, "R3"}, {0x400, "R2"}, {0x200, "R1"}, {0x100, "AE"}, {0x80, "CWR"}, {0x40, "ECE"},
      {0x20, "URG"}, {0x10, "ACK"}, {0x08, "PSH"}, {0x04, "RST"}, {0x02, "SYN"}, {0x01, "FIN"}};
  std::string s;
  for (auto [bit, name] : names) {
    if (!(f & bit)) continue;
    if (!s.empty()) s += '|';
    s += name;
  }
  return s.empty() ? "none" : s;
}

const char* ecn_text(std::uint8_t ecn) {
  switch (ecn & 3) {
    case 0: return "not-ECT";
    case 1: return "ECT(1)";
    case 2: return "ECT(0)";
    default: return "CE";
  }
}

void diff_options(wire::bytes sent_area, wire::bytes quoted_area, std::vector<header_change>& out) {
  auto s = parse_raw_tcp_options(sent_area);
  auto q = parse_raw_tcp_options(quoted_area);
  if (!s) return;  // ours are well-formed; be safe
  if (!q) {
    out.push_back({"options", hex_bytes({sent_area.begin(), sent_area.end()}),
                   hex_bytes({quoted_area.begin(), quoted_area.end()}), "options mangled", "options:mangled"});
    return;
  }
  auto real = [](const raw_tcp_option& o) { return o.kind != kind::nop && o.kind != kind::eol; };
  auto find = [&](const std::vector<raw_tcp_option>& v, std::uint8_t k) {
    return std::find_if(v.begin(), v.end(), [&](const raw_tcp_option& o) { return o.kind == k; });
  };
  for (const auto& o : *s) {
    if (!real(o)) continue;
    option_name n = name_of(o.kind);
    auto it = find(*q, o.kind);
    if (it == q->end()) {
      out.push_back({n.field, option_value(o), "", n.text + " stripped", std::string(n.field) + ":" +
                                                                               std::to_string(o.kind) + ":stripped"});
      continue;
    }
    if (it->data == o.data) continue;
    const std::string sv = option_value(o), qv = option_value(*it);
    if (o.kind == kind::mss || o.kind == kind::wscale) {
      out.push_back({n.field, sv, qv, fmt::format("{} {}->{}", n.text, sv, qv), std::string(n.field) + ":" + qv});
    } else if (o.kind == kind::timestamps) {
      // Values differ per probe: the key says only that they were rewritten.
      out.push_back({n.field, sv, qv, "TS rewritten", "timestamps:rewritten"});
    } else {
      out.push_back({n.field, sv, qv, n.text + " changed", std::string(n.field) + ":" + std::to_string(o.kind) +
                                                               ":" + qv});
    }
  }
  for (const auto& o : *q) {
    if (!real(o) || find(*s, o.kind) != s->end()) continue;
    option_name n = name_of(o.kind);
    const std::string qv = option_value(o);
    out.push_back({n.field, "", qv, n.text + " added", std::string(n.field) + ":" + std::to_string(o.kind) + ":added"});
  }
}

}  // namespace

std::optional<std::vector<raw_tcp_option>> parse_raw_tcp_options(wire::bytes area) {
  std::vector<raw_tcp_option> v;
  std::size_t i = 0;
  while (i < area.size()) {
    const std::uint8_t k = wire::load_u8(area, i);
    if (k == kind::eol) {
      v.push_back({k, {}});
      break;
    }
    if (k == kind::nop) {
      v.push_back({k, {}});
      ++i;
      continue;
    }
    if (i + 1 >= area.size()) return std::nullopt;
    const std::size_t len = wire::load_u8(area, i + 1);
    if (len < 2 || i + len > area.size()) return std::nullopt;
    v.push_back({k, {area.begin() + static_cast<std::ptrdiff_t>(i + 2), area.begin() + static_cast<std::ptrdiff_t>(i + len)}});
    i += len;
  }
  return v;
}

quote_coverage coverage(const wire::icmp_quote& quote) {
  quote_coverage c;
  c.tcp_bytes = quote.transport.size();
  if (c.tcp_bytes > tcp_at::data_offset) {
    const std::size_t hl = header_len(quote.transport);
    c.full_header = hl >= tcp_at::options && hl <= c.tcp_bytes;
  }
  return c;
}

std::vector<header_change> diff_quote(const sent_probe& sent, const wire::icmp_quote& quote,
                                      std::optional<std::uint32_t> quoted_flow_label) {
  std::vector<header_change> out;
  auto add = [&](std::string field, std::string s, std::string q, std::string text, std::string key) {
    out.push_back({std::move(field), std::move(s), std::move(q), std::move(text), std::move(key)});
  };
  const bool v6 = sent.dst.is_v6();
  // IP header.
  if (quote.src != sent.src)
    add("src", sent.src.to_string(), quote.src.to_string(),
        fmt::format("src {}->{}", sent.src.to_string(), quote.src.to_string()), "src:" + quote.src.to_string());
  if (quote.dst != sent.dst)
    add("dst", sent.dst.to_string(), quote.dst.to_string(),
        fmt::format("dst {}->{}", sent.dst.to_string(), quote.dst.to_string()), "dst:" + quote.dst.to_string());
  if ((quote.dscp_ecn >> 2) != (sent.dscp_ecn >> 2)) {
    // IPv4's TOS byte and IPv6's traffic class hold the same DSCP and ECN bits (RFC 2474, 3168).
    const std::string s = fmt::format("0x{:02x}", sent.dscp_ecn & 0xfc), q = fmt::format("0x{:02x}", quote.dscp_ecn & 0xfc);
    const char* field = v6 ? "traffic_class" : "tos";
    add(field, s, q, fmt::format("{} {}->{}", v6 ? "TC" : "TOS", s, q), std::string(field) + ":" + q);
  }
  if ((quote.dscp_ecn & 3) != (sent.dscp_ecn & 3)) {
    const std::string s = ecn_text(sent.dscp_ecn), q = ecn_text(quote.dscp_ecn);
    add("ecn", s, q, fmt::format("ECN {}->{}", s, q), "ecn:" + q);
  }
  if (v6) {
    if (quoted_flow_label && *quoted_flow_label != sent.flow_label)
      add("flow_label", std::to_string(sent.flow_label), std::to_string(*quoted_flow_label),
          fmt::format("flow label 0x{:05x}->0x{:05x}", sent.flow_label, *quoted_flow_label),
          "flow_label:" + std::to_string(*quoted_flow_label));
    // The payload length (the quotation's total_length is 40 + it).
    if (quote.total_length != sent.total_length) {
      const auto plen = [](std::uint16_t total) { return total >= 40 ? total - 40 : 0; };
      add("length", std::to_string(plen(sent.total_length)), std::to_string(plen(quote.total_length)),
          fmt::format("plen {}->{}", plen(sent.total_length), plen(quote.total_length)),
          "length:" + std::to_string(quote.total_length));
    }
    if (quote.ttl != expected_quoted_ttl)
      add("quoted_hop_limit", std::to_string(expected_quoted_ttl), std::to_string(quote.ttl),
          fmt::format("qhlim {}", quote.ttl), "quoted_hop_limit:" + std::to_string(quote.ttl));
  } else {
    if (quote.identification != sent.identification)
      add("ip_id", std::to_string(sent.identification), std::to_string(quote.identification), "IP ID rewritten",
          "ip_id:rewritten");
    if (quote.dont_fragment != sent.dont_fragment)
      add("df", sent.dont_fragment ? "set" : "clear", quote.dont_fragment ? "set" : "clear",
          quote.dont_fragment ? "DF set" : "DF cleared", quote.dont_fragment ? "df:set" : "df:cleared");
    if (quote.total_length != sent.total_length)
      add("length", std::to_string(sent.total_length), std::to_string(quote.total_length),
          fmt::format("length {}->{}", sent.total_length, quote.total_length),
          "length:" + std::to_string(quote.total_length));
    if (quote.ttl != expected_quoted_ttl)
      add("quoted_ttl", std::to_string(expected_quoted_ttl), std::to_string(quote.ttl), fmt::format("qttl {}", quote.ttl),
          "quoted_ttl:" + std::to_string(quote.ttl));
  }

  // TCP header, as far as it is quoted.
  const wire::bytes s{sent.tcp};
  const wire::bytes q = quote.transport;
  if (q.size() >= tcp_at::seq && s.size() >= tcp_at::options) {
    if (u16(q, tcp_at::src_port) != u16(s, tcp_at::src_port)) {
      const std::string sv = std::to_string(u16(s, tcp_at::src_port)), qv = std::to_string(u16(q, tcp_at::src_port));
      add("src_port", sv, qv, fmt::format("sport {}->{}", sv, qv), "src_port:" + qv);
    }
    if (u16(q, tcp_at::dst_port) != u16(s, tcp_at::dst_port)) {
      const std::string sv = std::to_string(u16(s, tcp_at::dst_port)), qv = std::to_string(u16(q, tcp_at::dst_port));
      add("dst_port", sv, qv, fmt::format("dport {}->{}", sv, qv), "dst_port:" + qv);
    }
  }
  if (q.size() >= tcp_at::ack && s.size() >= tcp_at::options && u32(q, tcp_at::seq) != u32(s, tcp_at::seq)) {
    // Sequence-number randomization (some firewalls and NATs): the same offset for every probe.
    const std::uint32_t delta = u32(q, tcp_at::seq) - u32(s, tcp_at::seq);
    add("seq", std::to_string(u32(s, tcp_at::seq)), std::to_string(u32(q, tcp_at::seq)),
        fmt::format("seq rewritten (+{})", delta), fmt::format("seq:+{}", delta));
  }
  if (q.size() >= tcp_at::data_offset && s.size() >= tcp_at::options && u32(q, tcp_at::ack) != u32(s, tcp_at::ack))
    add("ack", std::to_string(u32(s, tcp_at::ack)), std::to_string(u32(q, tcp_at::ack)), "ack field rewritten",
        "ack:" + std::to_string(u32(q, tcp_at::ack)));
  if (q.size() >= tcp_at::window && s.size() >= tcp_at::options) {
    const std::uint16_t sf = u16(s, tcp_at::data_offset) & 0x0fff, qf = u16(q, tcp_at::data_offset) & 0x0fff;
    if (sf != qf)
      add("tcp_flags", flags_text(sf), flags_text(qf), fmt::format("flags {}->{}", flags_text(sf), flags_text(qf)),
          "tcp_flags:" + flags_text(qf));
  }
  if (q.size() >= tcp_at::window + 2 && s.size() >= tcp_at::options && u16(q, tcp_at::window) != u16(s, tcp_at::window)) {
    const std::string sv = std::to_string(u16(s, tcp_at::window)), qv = std::to_string(u16(q, tcp_at::window));
    add("window", sv, qv, fmt::format("win {}->{}", sv, qv), "window:" + qv);
  }
  if (coverage(quote).full_header && s.size() >= tcp_at::options) {
    const std::size_t shl = std::min(header_len(s), s.size());
    diff_options(s.subspan(tcp_at::options, shl - tcp_at::options),
                 q.subspan(tcp_at::options, header_len(q) - tcp_at::options), out);
  }
  return out;
}

std::optional<std::uint32_t> quoted_flow_label(wire::bytes quoted) {
  using f = wire::ipv6_view::field;
  if (quoted.size() < f::ver_tc_flow + 4 || (wire::load_u8(quoted, f::ver_tc_flow) >> 4) != 6) return std::nullopt;
  return wire::load_u32(quoted, f::ver_tc_flow) & wire::ipv6_view::flow_label_mask;
}

std::optional<std::uint32_t> quoted_tsval(const wire::icmp_quote& quote) {
  if (!coverage(quote).full_header) return std::nullopt;
  const wire::bytes q = quote.transport;
  const auto opts = parse_raw_tcp_options(q.subspan(tcp_at::options, header_len(q) - tcp_at::options));
  if (!opts) return std::nullopt;
  for (const auto& o : *opts)
    if (o.kind == kind::timestamps && o.data.size() == 8) return u32(wire::bytes{o.data}, 0);
  return std::nullopt;
}

std::vector<header_change> change_tracker::first_seen(const std::vector<header_change>& at_hop) {
  std::vector<header_change> fresh;
  for (const auto& c : at_hop)
    if (seen_.insert(c.key).second) fresh.push_back(c);
  return fresh;
}

}  // namespace synack::tools
