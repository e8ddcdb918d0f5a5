// synack trace: a TCP traceroute over synack's raw socket, IPv4 or IPv6. SYN probes with TTL (IPv6:
// hop limit) 1, 2, ... from one fixed 4-tuple (Paris traceroute: the fields ECMP routers hash stay
// the same, so every probe takes one path; over IPv6 the flow label, which Linux and many routers
// hash too, is one value for the whole series; probes differ in sequence number and, IPv4, IP ID,
// IPv6, the timestamp option's TSval), each hop named by the source of the ICMP or ICMPv6 time
// exceeded its probe drew, timed from the kernel's transmit and receive timestamps, until the
// destination answers (SYN-ACK: open, answered with a RST; RST: closed) or a destination
// unreachable ends the path. Every quotation is compared with the probe as sent (trace_diff.hpp):
// what a middlebox changed is reported at the first hop that shows it.
//
// Why crafted segments rather than a connection per probe: a connection retransmits its SYN on its
// own timer and owns its port for TIME_WAIT, while a traceroute needs one SYN per probe, its own
// TTL and IP ID, and the same port for the whole series. The engine sends what the tool builds
// (engine::send_segment) from a port it reserves (engine::reserve_port), and the tool reads every
// frame from the frame observer; a SYN-ACK for the reserved port is answered with a RST by the
// engine, as by any closed port of synack's range, and the RST guard keeps the kernel quiet.
#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "pcap_writer.hpp"
#include "trace_diff.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"
#include "synack/wire/frame.hpp"

namespace synack::tools {

namespace {

using namespace std::chrono_literals;
using std::chrono::duration;
using std::chrono::duration_cast;
using ns = std::chrono::nanoseconds;

struct trace_options {
  common_options common;
  std::string target;
  std::uint16_t port = 80;
  unsigned first_ttl = 1;
  unsigned max_ttl = 30;
  unsigned probes = 3;
  double wait_s = 2.0;
  unsigned tos = 0;
  std::optional<std::uint32_t> flow_label;  // IPv6: the series' flow label (default: random, not 0)
  bool ecn = false;  // an ECN-setup SYN (ECE and CWR, RFC 3168 §6.1.1)
  bool json = false;
};

enum class reply_kind { none, time_exceeded, unreachable, syn_ack, rst };

const char* reply_name(reply_kind k) {
  switch (k) {
    case reply_kind::time_exceeded: return "time_exceeded";
    case reply_kind::unreachable: return "unreachable";
    case reply_kind::syn_ack: return "syn_ack";
    case reply_kind::rst: return "rst";
    default: return "none";
  }
}

// traceroute(8)'s annotations for a destination unreachable. IPv4: !N !H !P !S !F !X !V !C, else
// !<code>. IPv6 as Linux's traceroute -6 marks ICMPv6 codes: !N no route, !X administratively
// prohibited, !H beyond scope or address unreachable, else !<code> (5 source policy, 6 reject route,
// 4 port unreachable, which a TCP destination does not send).
std::string unreachable_mark(bool v6, std::uint8_t code) {
  if (v6) {
    namespace u6 = wire::icmpv6_unreach;
    switch (code) {
      case u6::no_route: return "!N";
      case u6::admin_prohibited: return "!X";
      case u6::beyond_scope:
      case u6::address: return "!H";
      default: return fmt::format("!{}", code);
    }
  }
  namespace u = wire::icmp_unreach;
  switch (code) {
    case u::net:
    case u::net_unknown:
    case u::host_isolated:
    case u::net_tos: return "!N";
    case u::host:
    case u::host_unknown:
    case u::host_tos: return "!H";
    case u::protocol: return "!P";
    case u::source_route_failed: return "!S";
    case u::frag_needed: return "!F";
    case u::net_prohibited:
    case u::host_prohibited:
    case u::admin_prohibited: return "!X";
    case u::host_precedence: return "!V";
    case u::precedence_cutoff: return "!C";
    default: return fmt::format("!{}", code);
  }
}

// The TSval of a probe's timestamps option: a per-probe value, the IPv6 probe's second tag.
std::uint32_t tsval_of(std::uint32_t seq) { return seq ^ 0x5a5a5a5au; }

struct probe {
  unsigned ttl = 0;
  std::uint32_t seq = 0;
  std::uint16_t ip_id = 0;  // IPv4
  sent_probe sent;
  ns before_send{};             // CLOCK_REALTIME just before the send
  std::optional<std::uint32_t> tx_id;
  std::optional<ns> tx;         // the kernel's software transmit timestamp
  reply_kind reply = reply_kind::none;
  wire::ip_addr from;
  std::uint8_t icmp_type = 0, icmp_code = 0;
  std::uint16_t next_hop_mtu = 0;
  ns rx{};                      // the reply's receive timestamp (CLOCK_REALTIME)
  std::optional<std::uint8_t> quoted_ttl;
  std::size_t quote_tcp_bytes = 0;
  bool quote_full_header = false;
  std::vector<header_change> changes;  // everything its quotation shows changed

  bool answered() const { return reply != reply_kind::none; }
  double rtt_us() const { return duration<double, std::micro>(rx - tx.value_or(before_send)).count(); }
};

struct hop {
  unsigned ttl = 0;
  std::vector<probe> probes;
  std::vector<header_change> changes;  // first seen at this hop
  unsigned since_hop = 0;              // the last earlier hop that quoted the probe (0: us)
};

nlohmann::json value_json(const std::string& v) {
  if (v.empty()) return nullptr;
  if (v.size() <= 9 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoul(v);
  return v;
}

class tracer {
public:
  tracer(const trace_options& o, const host_port& hp) : o_(o), hp_(hp), v6_(hp.addr.is_v6()) {
    port_ = hp.port ? *hp.port : o.port;
    engine::options eo = to_engine_options(o.common);
    eo.icmp = true;  // the packet filter admits the routers' time-exceeded and unreachables
    eo.tx_timestamps = o.common.busy_poll.empty();
    if (!o.common.pcap.empty()) pcap_.emplace(o.common.pcap);
    eng_.emplace(eo, hp.addr);
    eng_->on_frame([this](engine::direction d, tcp::instant, std::span<const std::byte> f) { on_frame(d, f); });
    eng_->on_segment([this](engine::direction d, tcp::instant, const wire::four_tuple& t, const tcp::segment& s,
                            tcp::state st) { on_segment(d, t, s, st); });
    eng_->on_tx_timestamp([this](std::uint32_t id, ns at) {
      if (auto it = tx_ids_.find(id); it != tx_ids_.end()) {
        if (probe* p = find_probe(it->second)) p->tx = at;
        tx_ids_.erase(it);
      }
    });
    std::uint32_t r[3] = {0x5eed, 0x1d, 0xf10};
    if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) r[1] = 0x1d;
    base_seq_ = r[0];
    base_id_ = static_cast<std::uint16_t>(r[1]);
    // One flow label for the series (RFC 6437: a flow's packets share it; ECMP hashes it), not 0
    // so a box that clears it shows.
    flow_label_ = o.flow_label ? *o.flow_label : (r[2] % wire::ipv6_view::flow_label_mask) + 1;
  }

  ~tracer() {
    if (local_port_) eng_->release_port(*local_port_);
  }
  tracer(const tracer&) = delete;
  tracer& operator=(const tracer&) = delete;

  int run() {
    local_port_ = eng_->reserve_port();
    if (!local_port_)
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "no free local port in synack's range (widen --ports)");
    const std::uint16_t mss = eng_->mss_for(hp_.addr);  // IPv4 MTU - 40, IPv6 MTU - 60
    if (!o_.json) {
      const std::string flow = v6_ ? fmt::format(", flow label 0x{:05x}", flow_label_) : "";
      std::printf("synack trace to %s (%s) port %u, %u hops max, %u probe%s per hop, SYN of %zu bytes from %s%s via %s\n",
                  hp_.name.c_str(), hp_.addr.to_string().c_str(), port_, o_.max_ttl, o_.probes, o_.probes == 1 ? "" : "s",
                  ip_header_len() + make_syn(0, mss).buffer_len(),
                  eng_->local_address().to_string(*local_port_).c_str(), flow.c_str(), eng_->interface().name.c_str());
      std::fflush(stdout);
    }
    std::string failure;
    for (unsigned ttl = o_.first_ttl; ttl <= o_.max_ttl && !stop_requested && failure.empty(); ++ttl) {
      hops_.push_back(hop{ttl, {}, {}, 0});
      for (unsigned i = 0; i < o_.probes && !stop_requested && failure.empty(); ++i) failure = run_probe(ttl, mss);
      if (!failure.empty()) hops_.back().probes.pop_back();  // it never left
      if ((stop_requested || !failure.empty()) && hops_.back().probes.empty()) {
        hops_.pop_back();
        break;
      }
      finish_hop(hops_.back());
      if (state_ != "no_reply") break;
    }
    if (!failure.empty()) {
      // The next hop never answered ARP: nothing left the machine. (Text: the outcome line says it.)
      state_ = "unreachable";
      if (o_.json) std::fprintf(stderr, "synack: %s\n", failure.c_str());
    }
    print_summary(failure);
    if (pcap_) pcap_->flush();
    return state_ == "open" || state_ == "closed" ? exit_ok : exit_network;
  }

private:
  std::size_t ip_header_len() const { return v6_ ? 40 : 20; }

  wire::tcp_repr make_syn(std::uint32_t seq, std::uint16_t mss) const {
    // The options of a Linux SYN, in its order: what middleboxes see every day.
    wire::tcp_repr r;
    r.src_port = local_port_.value_or(0);
    r.dst_port = port_;
    r.seq = seq;
    r.flags.syn = true;
    r.flags.ece = o_.ecn;
    r.flags.cwr = o_.ecn;
    r.window = 64240;
    r.options.mss = mss;
    r.options.sack_permitted = true;
    r.options.timestamps = wire::tcp_timestamps{tsval_of(seq), 0};
    r.options.window_scale = 7;
    return r;
  }

  probe* find_probe(std::size_t index) {
    std::size_t n = 0;
    for (auto& h : hops_) {
      if (index < n + h.probes.size()) return &h.probes[index - n];
      n += h.probes.size();
    }
    return nullptr;
  }

  // Sends one probe and waits for its answer (or -w). Returns a message when it could not be sent.
  std::string run_probe(unsigned ttl, std::uint16_t mss) {
    const std::uint32_t k = probe_count_++;
    probe p;
    p.ttl = ttl;
    p.seq = base_seq_ + k;
    p.ip_id = v6_ ? 0 : static_cast<std::uint16_t>(base_id_ + k);
    const wire::tcp_repr syn = make_syn(p.seq, mss);
    p.sent.src = eng_->local_address();
    p.sent.dst = hp_.addr;
    p.sent.ttl = static_cast<std::uint8_t>(ttl);
    p.sent.dscp_ecn = static_cast<std::uint8_t>(o_.tos);
    p.sent.identification = p.ip_id;
    p.sent.dont_fragment = true;
    p.sent.flow_label = v6_ ? flow_label_ : 0;
    p.sent.tcp.resize(syn.buffer_len());
    syn.emit(p.sent.tcp, p.sent.src, p.sent.dst);
    p.sent.total_length = static_cast<std::uint16_t>(ip_header_len() + p.sent.tcp.size());
    hop& h = hops_.back();
    h.probes.push_back(std::move(p));
    current_ = k;
    const engine::engine::raw_ip_fields ip{static_cast<std::uint8_t>(ttl), static_cast<std::uint8_t>(o_.tos),
                                           h.probes.back().ip_id, true, h.probes.back().sent.flow_label};
    // The first probe may wait for the next hop's MAC (our own ARP or neighbour solicitation when
    // the kernel has none; both retry every arp_interval).
    const tcp::instant arp_deadline =
        engine::engine::now() + eng_->settings().arp_interval * (eng_->settings().arp_tries + 1);
    for (;;) {
      std::error_code ec = eng_->send_segment(hp_.addr, syn, ip);
      if (!ec) break;
      if (stop_requested) return {};
      if (engine::engine::now() >= arp_deadline)
        return fmt::format("host unreachable: no {} from the next hop towards {} (check the route, or -I)",
                           v6_ ? "neighbour advertisement (NDP)" : "ARP reply", hp_.addr.to_string());
      eng_->run_once(20ms);
    }
    const tcp::instant deadline = engine::engine::now() + duration_cast<tcp::duration>(duration<double>(o_.wait_s));
    probe* cur = find_probe(k);
    while (!stop_requested && !cur->answered()) {
      const tcp::instant now = engine::engine::now();
      if (now >= deadline) break;
      eng_->run_once(std::clamp<ns>(deadline - now, 0ns, 100ms));
      cur = find_probe(k);
    }
    if (cur->answered() && cur->tx_id && !cur->tx) eng_->run_once(0ns);  // its transmit timestamp, if late
    current_.reset();
    return {};
  }

  void on_segment(engine::direction d, const wire::four_tuple& t, const tcp::segment& s, tcp::state st) {
    if (o_.common.trace) {
      std::FILE* out = o_.json ? stderr : stdout;
      std::fprintf(out, "%s\n", format_segment(d, t, s, st).c_str());
      std::fflush(out);
    }
    // Just before the probe's frame is sent: its transmit timestamp's id and the send time.
    if (d == engine::direction::out && s.syn && !s.ack_num && current_ && local_port_ && t.local_port == *local_port_) {
      if (probe* p = find_probe(*current_)) {
        p->before_send = pcap_writer::realtime_now();
        if (auto id = eng_->next_tx_id()) {
          p->tx_id = *id;
          tx_ids_[*id] = *current_;
        }
      }
    }
  }

  void on_frame(engine::direction d, std::span<const std::byte> f) {
    if (pcap_) pcap_->on_frame(*eng_, d, f);
    if (d != engine::direction::in || !current_) return;
    probe* p = find_probe(*current_);
    if (p == nullptr || p->answered()) return;
    const link::rx_frame* rx = eng_->current_rx_frame();
    wire::parse_options po;
    po.verify_checksums = rx == nullptr || (!rx->checksum_unverified && !rx->checksum_valid);
    const wire::parsed_frame pf = wire::parse_frame(f, po);
    const ns at = rx != nullptr && rx->kernel_timestamp.count() > 0 ? rx->kernel_timestamp : pcap_writer::realtime_now();
    if (pf.kind == wire::frame_kind::icmp && pf.quotation() && pf.ip && (pf.icmpv6.has_value() == v6_)) {
      const wire::icmp_quote& q = *pf.quotation();
      // The quote names our probe: its destination, and our source port with the sequence number
      // or a second tag, IPv4's IP ID or (IPv6 has none) the TSval of the timestamps option (either
      // may be rewritten on the way, and the diff reports it); a rewritten source port only when
      // both of those match (48 or 64 bits an off-path guess will not hit). The flow label is the
      // same for every probe of the series: it tells no probe apart.
      const bool to_target = q.dst == hp_.addr && q.dst_port == port_;
      const bool same_seq = q.seq == p->seq;
      const bool same_tag = v6_ ? quoted_tsval(q) == std::optional<std::uint32_t>{tsval_of(p->seq)}
                                : q.identification == p->ip_id;
      const bool our_port = local_port_ && q.src_port == *local_port_;
      const bool ours = to_target && ((our_port && (same_seq || same_tag)) || (same_seq && same_tag));
      if (!ours) return;
      const std::uint8_t type = v6_ ? pf.icmpv6->type : pf.icmp->type;
      const std::uint8_t code = v6_ ? pf.icmpv6->code : pf.icmp->code;
      if (type == (v6_ ? wire::icmpv6_type::time_exceeded : wire::icmp_type::time_exceeded))
        p->reply = reply_kind::time_exceeded;
      else if (type == (v6_ ? wire::icmpv6_type::dest_unreachable : wire::icmp_type::dest_unreachable))
        p->reply = reply_kind::unreachable;
      else
        return;  // packet too big, parameter problem, source quench: not a hop's answer
      p->from = pf.ip->src;
      p->icmp_type = type;
      p->icmp_code = code;
      p->next_hop_mtu = v6_ ? 0 : pf.icmp->next_hop_mtu;
      p->rx = at;
      p->quoted_ttl = q.ttl;
      const quote_coverage c = coverage(q);
      p->quote_tcp_bytes = c.tcp_bytes;
      p->quote_full_header = c.full_header;
      p->changes = diff_quote(p->sent, q,
                              v6_ ? quoted_flow_label(pf.icmpv6_message->payload()) : std::nullopt);
    } else if (pf.kind == wire::frame_kind::tcp && pf.tcp && pf.ip) {
      const wire::tcp_repr& s = *pf.tcp;
      if (pf.ip->src != hp_.addr || s.src_port != port_ || !local_port_ || s.dst_port != *local_port_) return;
      if (s.ack && *s.ack != p->seq + 1) return;  // an answer to an earlier probe
      if (s.flags.rst)
        p->reply = reply_kind::rst;
      else if (s.flags.syn && s.ack)
        p->reply = reply_kind::syn_ack;
      else
        return;
      p->from = pf.ip->src;
      p->rx = at;
    }
  }

  // After a hop's probes: which changes are new, what the hop ended (state_), and its line.
  void finish_hop(hop& h) {
    std::vector<header_change> all;
    for (const auto& p : h.probes)
      for (const auto& c : p.changes)
        if (std::find_if(all.begin(), all.end(), [&](const header_change& x) { return x.key == c.key; }) == all.end())
          all.push_back(c);
    h.changes = changes_.first_seen(all);
    h.since_hop = last_quoting_hop_;
    if (std::any_of(h.probes.begin(), h.probes.end(), [](const probe& p) { return p.quoted_ttl.has_value(); }))
      last_quoting_hop_ = h.ttl;
    for (const auto& p : h.probes) {
      if (p.reply == reply_kind::syn_ack) {
        state_ = "open";
      } else if (p.reply == reply_kind::rst && state_ != "open") {
        state_ = "closed";
      } else if (p.reply == reply_kind::unreachable && state_ == "no_reply") {
        state_ = "unreachable";
        end_probe_ = p;
      }
    }
    if (o_.json)
      print_hop_json(h);
    else
      print_hop_text(h);
  }

  void print_hop_text(const hop& h) {
    // As traceroute -n prints them: " 1  10.0.0.1  0.123 ms  0.101 ms", " 2  * * *".
    std::string line = fmt::format("{:2} ", h.ttl);
    std::optional<wire::ip_addr> last;
    for (const auto& p : h.probes) {
      if (!p.answered()) {
        line += " *";
        continue;
      }
      if (!last || *last != p.from) line += " " + p.from.to_string();
      last = p.from;
      line += fmt::format("  {:.3f} ms", p.rtt_us() / 1000.0);
      if (p.reply == reply_kind::unreachable) line += " " + unreachable_mark(v6_, p.icmp_code);
    }
    const bool open = std::any_of(h.probes.begin(), h.probes.end(), [](const probe& p) { return p.reply == reply_kind::syn_ack; });
    const bool closed = std::any_of(h.probes.begin(), h.probes.end(), [](const probe& p) { return p.reply == reply_kind::rst; });
    if (open)
      line += "  [open]";
    else if (closed)
      line += "  [closed]";
    if (!h.changes.empty()) {
      std::string c;
      for (const auto& x : h.changes) c += (c.empty() ? "" : ", ") + x.text;
      line += "  [" + c + "]";
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  nlohmann::json change_json(const header_change& c, const hop& h) const {
    return {{"field", c.field},   {"sent", value_json(c.sent)}, {"quoted", value_json(c.quoted)},
            {"text", c.text},     {"since_hop", h.since_hop},   {"hop", h.ttl}};
  }

  void print_hop_json(const hop& h) {
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& p : h.probes) {
      nlohmann::json j = {{"seq", p.seq}};
      if (v6_) {
        j["ip_id"] = nullptr;
        j["flow_label"] = p.sent.flow_label;
      } else {
        j["ip_id"] = p.ip_id;
      }
      if (!p.answered()) {
        j["from"] = nullptr;
        j["rtt_us"] = nullptr;
        j["reply"] = nullptr;
        j["icmp"] = nullptr;
      } else {
        j["from"] = p.from.to_string();
        j["rtt_us"] = p.rtt_us();
        j["wire_tx"] = p.tx ? "tx_timestamp" : "send_time";
        j["reply"] = reply_name(p.reply);
        if (p.reply == reply_kind::time_exceeded || p.reply == reply_kind::unreachable) {
          j["icmp"] = {{"type", p.icmp_type}, {"code", p.icmp_code}};
          if (p.reply == reply_kind::unreachable) {
            j["icmp"]["annotation"] = unreachable_mark(v6_, p.icmp_code);
            j["icmp"]["description"] = icmp_description(v6_, p.icmp_type, p.icmp_code);
          }
          j["quoted_ttl"] = *p.quoted_ttl;
          j["quote_tcp_bytes"] = p.quote_tcp_bytes;
          j["quote_full_header"] = p.quote_full_header;
        } else {
          j["icmp"] = nullptr;
        }
      }
      probes.push_back(std::move(j));
    }
    nlohmann::json changes = nlohmann::json::array();
    for (const auto& c : h.changes) changes.push_back(change_json(c, h));
    nlohmann::json rec = {{"type", "hop"}, {"ttl", h.ttl}, {"probes", probes}, {"changes", changes}};
    std::printf("%s\n", rec.dump().c_str());
    std::fflush(stdout);
  }

  void print_summary(const std::string& failure) {
    const bool reached = state_ == "open" || state_ == "closed";
    const unsigned hops = hops_.empty() ? 0 : hops_.back().ttl;
    if (o_.json) {
      nlohmann::json j = {{"type", "summary"},
                          {"destination", hp_.addr.to_string()},
                          {"family", v6_ ? "ipv6" : "ipv4"},
                          {"name", hp_.name},
                          {"port", port_},
                          {"reached", reached},
                          {"state", state_},
                          {"hops", hops},
                          {"local", eng_->local_address().to_string(local_port_.value_or(0))},
                          {"probes_sent", probe_count_},
                          {"interrupted", stop_requested.load()}};
      if (end_probe_) {
        j["from"] = end_probe_->from.to_string();
        j["icmp"] = {{"type", end_probe_->icmp_type},
                     {"code", end_probe_->icmp_code},
                     {"annotation", unreachable_mark(v6_, end_probe_->icmp_code)},
                     {"description", icmp_description(v6_, end_probe_->icmp_type, end_probe_->icmp_code)}};
      }
      if (!failure.empty()) j["error"] = failure;
      nlohmann::json changes = nlohmann::json::array();
      for (const auto& h : hops_)
        for (const auto& c : h.changes) changes.push_back(change_json(c, h));
      j["changes"] = changes;
      std::printf("%s\n", j.dump().c_str());
      std::fflush(stdout);
      return;
    }
    const std::string dest = hp_.addr.to_string(port_);
    if (state_ == "open")
      std::printf("--- %s is open (SYN-ACK, answered with RST), %u hops\n", dest.c_str(), hops);
    else if (state_ == "closed")
      std::printf("--- %s is closed (RST), %u hops\n", dest.c_str(), hops);
    else if (end_probe_)
      std::printf("--- %s unreachable at hop %u: %s %s (%s type %u code %u) from %s\n", dest.c_str(), end_probe_->ttl,
                  unreachable_mark(v6_, end_probe_->icmp_code).c_str(),
                  icmp_description(v6_, end_probe_->icmp_type, end_probe_->icmp_code), v6_ ? "ICMPv6" : "ICMP",
                  end_probe_->icmp_type, end_probe_->icmp_code, end_probe_->from.to_string().c_str());
    else if (!failure.empty())
      std::printf("--- %s not reached: %s\n", dest.c_str(), failure.c_str());
    else
      std::printf("--- %s not reached: no answer from it within %u hops%s\n", dest.c_str(), hops,
                  stop_requested ? " (interrupted)" : "");
    for (const auto& h : hops_)
      for (const auto& c : h.changes) {
        std::string where = h.since_hop == 0 ? fmt::format("between us and hop {}", h.ttl)
                                             : fmt::format("between hop {} and hop {}", h.since_hop, h.ttl);
        std::printf("    %s: changed %s\n", c.text.c_str(), where.c_str());
      }
    std::fflush(stdout);
  }

  const trace_options& o_;
  host_port hp_;
  bool v6_ = false;
  std::uint32_t flow_label_ = 0;  // IPv6: every probe's
  std::uint16_t port_ = 80;
  std::optional<pcap_writer> pcap_;
  std::optional<engine::engine> eng_;
  std::optional<std::uint16_t> local_port_;
  std::uint32_t base_seq_ = 0;
  std::uint16_t base_id_ = 0;
  std::uint32_t probe_count_ = 0;
  std::optional<std::uint32_t> current_;  // the probe in flight
  std::vector<hop> hops_;
  std::map<std::uint32_t, std::uint32_t> tx_ids_;  // transmit timestamp id -> probe index
  change_tracker changes_;
  unsigned last_quoting_hop_ = 0;
  std::string state_ = "no_reply";
  std::optional<probe> end_probe_;  // the unreachable that ended the trace
};

}  // namespace

void add_trace_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<trace_options>();
  CLI::App* cmd = app.add_subcommand("trace", "TCP traceroute: the path to HOST:PORT, and what middleboxes change on it");
  cmd->footer(
      "SYN probes with TTL (IPv6: hop limit) 1, 2, ... (-f to -m), -q per hop, all from one local\n"
      "port to one destination port (Paris traceroute: ECMP routers hash every probe onto the same\n"
      "path; over IPv6 the flow label is one value for the whole series too, --flow-label; probes\n"
      "differ in sequence number and IP ID, IPv6: in the timestamp option's TSval). IPv4 or IPv6:\n"
      "HOST is an address, [IPv6]:PORT or a name (-4 / -6 pick the family). Each hop is the source\n"
      "of the ICMP or ICMPv6 time exceeded its probes drew; the next probe goes as soon as the answer\n"
      "is in (-w at most). The trace ends when the destination answers (SYN-ACK: open, then synack\n"
      "sends RST; RST: closed) or a destination unreachable arrives, marked as traceroute does:\n"
      "IPv4 !N net, !H host, !P protocol, !X administratively prohibited, !S source route,\n"
      "!F fragmentation needed, !V !C precedence; IPv6 (as traceroute -6) !N no route,\n"
      "!X administratively prohibited, !H beyond scope or address unreachable; !<code> others.\n"
      "Times: the SYN's kernel transmit timestamp -> the answer's receive timestamp on the packet\n"
      "ring (CLOCK_REALTIME; with --busy-poll the time just before the send).\n\n"
      "Middleboxes: a router quotes the probe as it arrived there (Linux: all of the SYN, options\n"
      "included), so each quotation is compared with the probe as sent: MSS clamping, options\n"
      "stripped or added, TOS/ECN (IPv6: traffic class) rewritten, the IPv6 flow label rewritten,\n"
      "the source address, port or sequence number rewritten (NAT), DF (IPv4), window, flags, and a\n"
      "quoted TTL or hop limit other than 1. A change is reported once, at the\n"
      "first hop whose quotation shows it: it was made between the previous hop and that one\n"
      "(` 3  10.0.3.1  0.2 ms ...  [MSS 1460->1200]`: changed between hop 2 and hop 3).\n\n"
      "Output: one line per hop, ` 1  10.111.1.1  0.123 ms  0.101 ms  0.099 ms` (`*`: no answer\n"
      "within -w), then a line with the outcome. --json: one record per hop,\n"
      "  {\"type\":\"hop\",\"ttl\":1,\"probes\":[{\"from\":\"10.111.1.1\",\"rtt_us\":123.4,\"reply\":\"time_exceeded\",\n"
      "   \"icmp\":{\"type\":11,\"code\":0},\"quoted_ttl\":1,...},{\"from\":null,\"rtt_us\":null,...}],\n"
      "   \"changes\":[{\"field\":\"mss\",\"sent\":1460,\"quoted\":1200,\"text\":\"MSS 1460->1200\",\"since_hop\":2,\"hop\":3}]}\n"
      "then {\"type\":\"summary\",\"destination\":..,\"family\":\"ipv4\"|\"ipv6\",\"port\":..,\"reached\":true,\n"
      "\"state\":\"open\"|\"closed\"|\"unreachable\"|\"no_reply\",\"hops\":N,...} (with \"from\" and \"icmp\" when an\n"
      "unreachable ended it). IPv6: the same records (\"ttl\" and \"quoted_ttl\" are hop limits, \"icmp\" has\n"
      "ICMPv6 types: 3 time exceeded, 1 unreachable), each probe with \"flow_label\" and \"ip_id\":null;\n"
      "changes traffic_class (for tos), flow_label, quoted_hop_limit (for quoted_ttl), never ip_id or df.\n\n"
      "Examples:\n"
      "  synack trace 10.111.4.2 -p 8080          the path to a web server\n"
      "  synack trace example.net:443 -q 1 -w 1   one probe per hop, 1 s each\n"
      "  synack trace 10.111.4.2:22 --json        NDJSON\n"
      "  synack trace -6 example.net -p 443       over IPv6 (AAAA)\n"
      "  synack trace [fd00:111:4::2]:8080        an IPv6 literal with a port\n\n"
      "Exit status: 0 the destination answered (open or closed), 1 it did not (unreachable, no\n"
      "reply within -m hops, interrupted), 2 usage or set-up error.");
  cmd->add_option("host", o->target, "HOST, HOST:PORT or [IPv6]:PORT (IPv4 or IPv6 address, or name)")->required();
  cmd->add_option("-p,--port", o->port, "Destination port (default 80)")->check(CLI::Range(1, 65535));
  cmd->add_option("-f,--first-ttl", o->first_ttl, "TTL (IPv6: hop limit) of the first hop probed (default 1)")->check(CLI::Range(1, 255));
  cmd->add_option("-m,--max-ttl", o->max_ttl, "Largest TTL (IPv6: hop limit) probed (default 30)")->check(CLI::Range(1, 255));
  cmd->add_option("-q,--queries", o->probes, "Probes per hop (default 3)")->check(CLI::Range(1, 10));
  cmd->add_option("-w,--wait", o->wait_s, "Seconds to wait for each probe's answer (default 2)")
      ->check(CLI::Range(0.001, 60.0));
  cmd->add_option("--tos", o->tos, "The probes' TOS byte, IPv6: traffic class (DSCP and ECN bits; default 0)")
      ->check(CLI::Range(0, 255));
  cmd->add_option("--flow-label", o->flow_label,
                  "IPv6: the flow label of every probe (0-0xfffff; default a random non-zero one per run)")
      ->check(CLI::Range(0, 0xfffff));
  cmd->add_flag("--ecn", o->ecn,
                "Send ECN-setup SYNs (ECE and CWR set, RFC 3168): shows boxes that clear them");
  cmd->add_flag("--json", o->json, "NDJSON records on stdout (hop and summary)");
  add_common_options(*cmd, o->common);
  cmd->callback([&action, o] {
    action = [o]() -> int {
      if (o->first_ttl > o->max_ttl)
        throw link::setup_error(link::setup_errc::invalid_argument,
                                fmt::format("--first-ttl {} is above --max-ttl {}", o->first_ttl, o->max_ttl));
      host_port hp = resolve_host(o->target, o->common.family);
      if (o->flow_label && hp.addr.is_v4())
        throw link::setup_error(link::setup_errc::invalid_argument,
                                fmt::format("--flow-label is for IPv6 only ({} is IPv4; -6 for a name's AAAA)",
                                            hp.addr.to_string()));
      link::require_net_raw_and_admin();
      keep_capabilities_for_children();
      install_signal_handlers();
      tracer t(*o, hp);
      return t.run();
    };
  });
}

}  // namespace synack::tools
