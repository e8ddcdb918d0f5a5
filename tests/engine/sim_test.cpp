// Deterministic simulation: two engines over a memory link, each direction through a seeded
// impair::channel (loss, duplication, reordering, delay with jitter), on a virtual clock. Engine A
// opens hundreds of connections to a listener on engine B at once; every connection carries its
// own random payload each way, half of the clients half-close right after sending, and every byte
// is checked at both ends. A wrong byte range is named by whose bytes it holds.
//
// Seeds: the default suite runs seeds 1..5. SYNACK_SIM_SEED=N replays one seed; SYNACK_SIM_SEEDS=K
// runs seeds 1..K (soak). Every failure message starts with its seed.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "synack/engine/engine.hpp"
#include "synack/impair/channel.hpp"
#include "synack/impair/random.hpp"
#include "synack/link/error.hpp"
#include "synack/link/memory_link.hpp"
#include "synack/wire/checksum.hpp"

namespace {

using namespace synack;
using namespace std::chrono_literals;

constexpr std::uint16_t server_port = 7000;
const wire::ipv4_addr addr_a = wire::ipv4_addr::from_octets(10, 99, 0, 1);
const wire::ipv4_addr addr_b = wire::ipv4_addr::from_octets(10, 99, 0, 2);
const wire::ipv6_addr addr6_a = *wire::ipv6_addr::parse("fd00:99::1");
const wire::ipv6_addr addr6_b = *wire::ipv6_addr::parse("fd00:99::2");

// --- the checker -------------------------------------------------------------------------------

// One byte stream the simulation expects somewhere: its name ("connection 17 A->B") and bytes.
struct named_stream {
  std::string name;
  const std::vector<std::byte>* bytes;
};

// Compares what one end received with what it should have, and on a difference says where and,
// if the wrong bytes are some other stream's, whose and from which offset. Empty: identical.
std::optional<std::string> check_stream(const std::string& who, const std::vector<std::byte>& got,
                                        const std::vector<std::byte>& want, const std::vector<named_stream>& all) {
  const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  if (g == got.end() && w == want.end()) return std::nullopt;
  const std::size_t at = static_cast<std::size_t>(g - got.begin());
  std::string msg = who + ": received " + std::to_string(got.size()) + " of " + std::to_string(want.size()) +
                    " bytes, first difference at offset " + std::to_string(at);
  if (g == got.end()) return msg + " (short)";
  if (w == want.end()) return msg + " (extra bytes)";
  // Whose bytes are these? Search every stream for the next 32 bytes received there.
  const std::size_t len = std::min<std::size_t>(32, got.size() - at);
  std::size_t run = 0;  // how long the wrong range is: up to the next byte that matches again
  while (at + run < got.size() && at + run < want.size() && got[at + run] != want[at + run]) ++run;
  msg += " (" + std::to_string(run) + "+ bytes differ)";
  auto whose = [&](std::size_t from, std::size_t n) -> std::optional<std::string> {
    const auto first = got.begin() + static_cast<std::ptrdiff_t>(from);
    for (const auto& s : all) {
      auto hit = std::search(s.bytes->begin(), s.bytes->end(), first, first + static_cast<std::ptrdiff_t>(n));
      if (hit != s.bytes->end()) return s.name + " from its offset " + std::to_string(hit - s.bytes->begin());
    }
    return std::nullopt;
  };
  if (len >= 8) {
    if (auto owner = whose(at, len)) return msg + ": foreign bytes of " + *owner;
    // A seam inside the window (a byte too many or too few, a mix): whose are the bytes after it?
    for (std::size_t skip = 1; skip < 32 && at + skip + 16 <= got.size(); ++skip)
      if (auto owner = whose(at + skip, 16))
        return msg + ": bytes of no stream of this run, then from offset " + std::to_string(at + skip) + " bytes of " + *owner;
  }
  return msg + ": bytes of no stream of this run";
}

// --- one end of one connection -----------------------------------------------------------------

struct session {
  std::size_t index = 0;                 // connection number (A's connect order)
  const std::vector<std::byte>* out = nullptr;  // what this end sends
  std::size_t sent = 0;
  std::vector<std::byte> in;             // what this end received
  bool eof = false;
  bool close_called = false;
  bool closed = false;  // `closed` event (orderly end, TIME_WAIT over)
  std::optional<std::error_code> error;
  tcp::state last = tcp::state::closed;
  tcp::state closed_from = tcp::state::closed;  // the state CLOSED was entered from
  std::string at_close;  // the connection's counters when it closed
};

struct sim_options {
  std::uint64_t seed = 1;
  std::size_t connections = 300;
  std::size_t max_payload = 64 * 1024;
  impair::direction_config link;
  // Negative control: the harness copies 64 payload bytes of one connection's A->B data segment
  // into another connection's segment (checksum fixed up), once.
  bool swap_payloads = false;
  // Every connection over IPv6 (both engines also have their IPv4 address: dual-stack engines);
  // neighbours found by the engines' own neighbour discovery.
  bool ipv6 = false;
  tcp::duration time_limit = 600s;  // virtual
};

struct sim_result {
  std::vector<std::string> failures;
  std::optional<std::size_t> swapped_from, swapped_into;  // the negative control's two connections
  tcp::duration virtual_time{};
  std::uint64_t frames = 0;
  impair::counters ab, ba;
};

std::vector<std::byte> random_payload(std::uint64_t seed, std::uint64_t stream, std::size_t max) {
  impair::xoshiro256ss rng(seed, stream);
  std::vector<std::byte> v(static_cast<std::size_t>(rng.below(max + 1)));
  for (std::size_t i = 0; i < v.size(); i += 8) {
    std::uint64_t x = rng.next();
    for (std::size_t k = 0; k < 8 && i + k < v.size(); ++k) v[i + k] = static_cast<std::byte>(x >> (8 * k));
  }
  return v;
}

// A's client i: even ones half-close right after sending, odd ones once B's FIN came.
// B's server: sends all of Y, then closes once A's FIN came, or at once for odd i and i % 4 == 2
// (so some connections close simultaneously, some with A first, some with B first).
bool client_closes_early(std::size_t i) { return i % 2 == 0; }
bool server_closes_early(std::size_t i) { return i % 2 == 1 || i % 4 == 2; }

// Moves data for one session: sends what fits, reads what came, closes when its policy says.
void pump(engine::engine& e, const wire::four_tuple& t, session& s, bool client, std::vector<std::byte>& scratch) {
  while (s.sent < s.out->size()) {
    std::size_t n = e.send(t, std::span<const std::byte>(*s.out).subspan(s.sent));
    if (n == 0) break;
    s.sent += n;
  }
  for (std::size_t n; (n = e.receive(t, scratch)) > 0;) s.in.insert(s.in.end(), scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(n));
  if (s.close_called || s.sent < s.out->size()) return;
  const bool early = client ? client_closes_early(s.index) : server_closes_early(s.index);
  if (early || s.eof) {
    s.close_called = true;
    e.close(t);
  }
}

// Fixes the TCP checksum of an Ethernet + IPv4 + TCP frame in place.
void fix_tcp_checksum(std::span<std::byte> f) {
  const std::size_t ihl = (std::to_integer<std::size_t>(f[14]) & 0xf) * 4;
  const std::size_t total = std::to_integer<std::size_t>(f[16]) << 8 | std::to_integer<std::size_t>(f[17]);
  auto addr = [&](std::size_t at) {
    return wire::ipv4_addr::from_octets(std::to_integer<std::uint8_t>(f[at]), std::to_integer<std::uint8_t>(f[at + 1]),
                                        std::to_integer<std::uint8_t>(f[at + 2]), std::to_integer<std::uint8_t>(f[at + 3]));
  };
  auto seg = f.subspan(14 + ihl, total - ihl);
  seg[16] = seg[17] = std::byte{0};
  const std::uint16_t c = wire::tcp_checksum(addr(14 + 12), addr(14 + 16), seg);
  seg[16] = static_cast<std::byte>(c >> 8);
  seg[17] = static_cast<std::byte>(c & 0xff);
}

// The TCP payload of an Ethernet + IPv4 + TCP frame (empty for anything else) and its source port.
std::span<std::byte> tcp_payload(std::span<std::byte> f, std::uint16_t& src_port) {
  if (f.size() < 54 || f[12] != std::byte{0x08} || f[13] != std::byte{0x00} || f[23] != std::byte{6}) return {};
  const std::size_t ihl = (std::to_integer<std::size_t>(f[14]) & 0xf) * 4;
  const std::size_t total = std::to_integer<std::size_t>(f[16]) << 8 | std::to_integer<std::size_t>(f[17]);
  const std::size_t tcp = 14 + ihl;
  const std::size_t doff = (std::to_integer<std::size_t>(f[tcp + 12]) >> 4) * 4;
  src_port = static_cast<std::uint16_t>(std::to_integer<unsigned>(f[tcp]) << 8 | std::to_integer<unsigned>(f[tcp + 1]));
  if (14 + total > f.size() || ihl + doff > total) return {};
  return f.subspan(tcp + doff, total - ihl - doff);
}

sim_result run_simulation(const sim_options& so) {
  sim_result res;
  const std::string tag = "seed " + std::to_string(so.seed) + ": ";
  tcp::instant now{std::chrono::hours{1}};

  // Payloads, by connection number: X_i (A->B) and Y_i (B->A), distinct streams of one seed.
  std::vector<std::vector<std::byte>> xs(so.connections), ys(so.connections);
  std::vector<named_stream> all;
  for (std::size_t i = 0; i < so.connections; ++i) {
    xs[i] = random_payload(so.seed, 2 * i + 100, so.max_payload);
    ys[i] = random_payload(so.seed, 2 * i + 101, so.max_payload);
  }
  for (std::size_t i = 0; i < so.connections; ++i) {
    all.push_back({"connection " + std::to_string(i) + " A->B", &xs[i]});
    all.push_back({"connection " + std::to_string(i) + " B->A", &ys[i]});
  }

  // Two engines on two memory links, impair channels between them.
  engine::options eo;
  eo.clock = [&now] { return now; };
  eo.arp_tries = 10;
  eo.tcp.msl = 1s;  // TIME_WAIT 2 s of virtual time: every connection reaches CLOSED
  auto link_a = std::make_unique<link::memory_link>();
  auto link_b = std::make_unique<link::memory_link>();
  link::memory_link& la = *link_a;
  link::memory_link& lb = *link_b;
  link::link_facts fa{wire::mac_addr{{0x02, 0, 0, 0, 0, 0x0a}}, 1500, addr_a, 24, std::nullopt, std::nullopt, 64, std::nullopt};
  link::link_facts fb{wire::mac_addr{{0x02, 0, 0, 0, 0, 0x0b}}, 1500, addr_b, 24, std::nullopt, std::nullopt, 64, std::nullopt};
  fa.address6 = addr6_a;
  fb.address6 = addr6_b;
  engine::options oa = eo, ob = eo;
  oa.seed = so.seed * 2 + 1;
  oa.ports = link::port_range{20000, 29999};
  ob.seed = so.seed * 2 + 2;
  ob.ports = link::port_range{server_port, server_port};
  engine::engine a(oa, std::move(link_a), fa);
  engine::engine b(ob, std::move(link_b), fb);
  impair::direction_config dc = so.link;
  dc.seed = so.seed;
  impair::channel ab(dc, 0), ba(dc, 1);

  std::map<wire::four_tuple, session> client, server;
  std::map<std::uint16_t, std::size_t> index_of_port;  // A's local port -> connection number
  std::vector<std::byte> scratch(64 * 1024);

  auto on_event = [&](engine::engine& e, std::map<wire::four_tuple, session>& sessions, bool is_client) {
    return [&e, &sessions, is_client, &scratch, &res, &tag](const wire::four_tuple& t, const tcp::event& ev) {
      auto it = sessions.find(t);
      if (it == sessions.end()) return;  // a child not accepted yet: accept() pumps it
      session& s = it->second;
      using k = tcp::event::kind;
      switch (ev.what) {
        case k::state_changed:
          if (ev.to == tcp::state::closed) s.closed_from = ev.from;
          s.last = ev.to;
          break;
        case k::eof: s.eof = true; [[fallthrough]];
        case k::connected:
        case k::readable:
        case k::writable: pump(e, t, s, is_client, scratch); break;
        case k::error:
          s.error = ev.ec;
          // A RST in LAST_ACK or CLOSING is connection_reset (Linux tcp_reset): here the peer's
          // TIME_WAIT (2 s with this MSL) ended before our FIN's retransmission got through. Not
          // a failure by itself: every byte of the connection is still checked at both ends.
          if (ev.ec == std::errc::connection_reset &&
              (s.closed_from == tcp::state::last_ack || s.closed_from == tcp::state::closing))
            break;
          res.failures.push_back(tag + "connection " + std::to_string(s.index) + (is_client ? " at A" : " at B") +
                                 ": error " + ev.ec.message());
          break;
        case k::closed:
          s.closed = true;
          if (auto* c = e.find(t))  // for the failure messages
            s.at_close = "TCP sent " + std::to_string(c->stats().bytes_sent) + ", received " +
                         std::to_string(c->stats().bytes_received) + ", retransmits " + std::to_string(c->stats().retransmits);
          break;
      }
    };
  };
  a.on_event(on_event(a, client, true));
  b.on_event(on_event(b, server, false));
  b.listen(server_port, engine::listen_options{1024, 1024, true});
  b.on_acceptable([&](std::uint16_t port) {
    while (auto t = b.accept(port)) {
      auto p = index_of_port.find(t->remote_port);
      if (p == index_of_port.end()) {
        res.failures.push_back(tag + "B accepted an unknown port " + std::to_string(t->remote_port));
        continue;
      }
      session& s = server[*t];
      s.index = p->second;
      s.out = &ys[p->second];
      if (auto* c = b.find(*t)) {
        s.last = c->current_state();
        // Events before accept() reached no session: the FIN may already be in.
        s.eof = s.last == tcp::state::close_wait || s.last == tcp::state::last_ack || s.last == tcp::state::closing ||
                s.last == tcp::state::time_wait;
      }
      pump(b, *t, s, false, scratch);
    }
  });

  for (std::size_t i = 0; i < so.connections; ++i) {
    const wire::four_tuple t = so.ipv6 ? a.connect(addr6_b, server_port) : a.connect(addr_b, server_port);
    if (so.ipv6 != t.remote_addr.is_v6()) res.failures.push_back(tag + "connect() picked the wrong family");
    index_of_port[t.local_port] = i;
    session& s = client[t];
    s.index = i;
    s.out = &xs[i];
  }

  // The negative control's state: 64 bytes of the first eligible segment, and whose.
  std::optional<std::pair<std::uint16_t, std::array<std::byte, 64>>> swap_source;
  bool swapped = false;
  std::vector<std::byte> frame_copy;
  auto deliver_to_b = [&](std::span<const std::byte> f) {
    ++res.frames;
    if (!so.swap_payloads || swapped) {
      lb.deliver(f);
      return;
    }
    frame_copy.assign(f.begin(), f.end());
    std::uint16_t port = 0;
    auto payload = tcp_payload(frame_copy, port);
    if (payload.size() >= 64) {
      if (!swap_source) {
        swap_source.emplace(port, std::array<std::byte, 64>{});
        std::copy_n(payload.begin(), 64, swap_source->second.begin());
      } else if (swap_source->first != port) {
        std::copy_n(swap_source->second.begin(), 64, payload.begin());
        fix_tcp_checksum(frame_copy);
        swapped = true;
        res.swapped_from = index_of_port.at(swap_source->first);
        res.swapped_into = index_of_port.at(port);
      }
    }
    lb.deliver(frame_copy);
  };

  auto all_done = [&] {
    if (server.size() < so.connections) return false;
    for (const auto* side : {&client, &server})
      for (const auto& [t, s] : *side)
        if (!s.closed && !s.error) return false;
    return true;
  };

  const tcp::instant start = now;
  for (std::uint64_t steps = 0;; ++steps) {
    a.process(now);
    b.process(now);
    la.take_sent([&](std::span<const std::byte> f) { ab.submit(now, f); });
    lb.take_sent([&](std::span<const std::byte> f) { ba.submit(now, f); });
    std::size_t moved = ab.release_due(now, deliver_to_b);
    moved += ba.release_due(now, [&](std::span<const std::byte> f) {
      ++res.frames;
      la.deliver(f);
    });
    if (all_done()) break;
    if (moved > 0 || la.ready() || lb.ready()) continue;  // same instant: let the engines read
    std::optional<tcp::instant> next;
    for (auto d : {a.next_deadline(), b.next_deadline(), ab.next_deadline(), ba.next_deadline()})
      if (d && (!next || *d < *next)) next = d;
    if (!next) {
      res.failures.push_back(tag + "stalled: nothing in flight, no timer armed, not every connection ended");
      break;
    }
    now = std::max(*next, now + 1us);  // an early deadline (timer wheels may be early) moves on
    if (now - start > so.time_limit || steps > 50'000'000) {
      res.failures.push_back(tag + "not done after " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - start).count()) +
                             " s of virtual time");
      break;
    }
  }
  res.virtual_time = now - start;
  res.ab = ab.stats();
  res.ba = ba.stats();

  // Every byte of every connection, at both ends; every connection ended cleanly.
  std::vector<const session*> at_b(so.connections, nullptr);
  for (const auto& [t, s] : server) at_b[s.index] = &s;
  for (const auto& [t, s] : client) {
    const std::string name = tag + "connection " + std::to_string(s.index) + " (A port " + std::to_string(t.local_port) + ")";
    if (auto m = check_stream(name + " B->A at A", s.in, ys[s.index], all))
      res.failures.push_back(*m + "; at close A: " + s.at_close + (s.eof ? "" : "; A saw no EOF"));
    if (!s.closed && !s.error) res.failures.push_back(name + " at A: not closed (state " + std::string(tcp::to_string(s.last)) + ")");
    if (s.sent != xs[s.index].size()) res.failures.push_back(name + " at A: sent only " + std::to_string(s.sent));
    const session* sb = at_b[s.index];
    if (!sb) {
      res.failures.push_back(name + ": never accepted at B");
      continue;
    }
    if (auto m = check_stream(name + " A->B at B", sb->in, xs[s.index], all))
      res.failures.push_back(*m + "; at close A: " + s.at_close + "; B: " + sb->at_close + (sb->eof ? "" : "; B saw no EOF"));
    if (!sb->closed && !sb->error) res.failures.push_back(name + " at B: not closed (state " + std::string(tcp::to_string(sb->last)) + ")");
  }
  if (a.connection_count() != 0 || b.connection_count() != 0)
    res.failures.push_back(tag + "connections left in the tables: A " + std::to_string(a.connection_count()) + ", B " +
                           std::to_string(b.connection_count()));
  return res;
}

impair::direction_config impaired() {
  impair::direction_config c;
  c.loss = 0.02;
  c.duplicate = 0.01;
  c.reorder = 0.05;
  c.delay = 3ms;
  c.jitter = 2ms;  // 1-5 ms
  c.limit = 8192;
  // Soak knobs (not for the default suite): SYNACK_SIM_LOSS / _DUP / _REORDER override the rates.
  if (const char* v = std::getenv("SYNACK_SIM_LOSS")) c.loss = std::strtod(v, nullptr);
  if (const char* v = std::getenv("SYNACK_SIM_DUP")) c.duplicate = std::strtod(v, nullptr);
  if (const char* v = std::getenv("SYNACK_SIM_REORDER")) c.reorder = std::strtod(v, nullptr);
  return c;
}

std::vector<std::uint64_t> seeds() {
  if (const char* one = std::getenv("SYNACK_SIM_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::uint64_t k = 5;
  if (const char* many = std::getenv("SYNACK_SIM_SEEDS")) k = std::strtoull(many, nullptr, 10);
  std::vector<std::uint64_t> v;
  for (std::uint64_t s = 1; s <= k; ++s) v.push_back(s);
  return v;
}

void report(const sim_result& r, std::uint64_t seed) {
  BOOST_TEST_MESSAGE("seed " << seed << ": " << r.frames << " frames delivered in "
                             << std::chrono::duration_cast<std::chrono::milliseconds>(r.virtual_time).count()
                             << " ms of virtual time; A->B lost " << r.ab.dropped << " dup " << r.ab.duplicated
                             << " reordered " << r.ab.reordered << "; B->A lost " << r.ba.dropped << " dup "
                             << r.ba.duplicated << " reordered " << r.ba.reordered);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(simulation)

BOOST_AUTO_TEST_CASE(checker_names_foreign_bytes) {
  std::vector<std::byte> x = random_payload(7, 1, 4096), y = random_payload(7, 2, 4096);
  x.resize(std::max<std::size_t>(x.size(), 200));
  y.resize(std::max<std::size_t>(y.size(), 200));
  std::vector<named_stream> all{{"connection 0 A->B", &x}, {"connection 1 A->B", &y}};
  BOOST_TEST(!check_stream("x", x, x, all));
  std::vector<std::byte> got = x;
  std::copy_n(y.begin() + 40, 64, got.begin() + 100);
  auto m = check_stream("x", got, x, all);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->find("offset 100") != std::string::npos, *m);
  BOOST_TEST(m->find("foreign bytes of connection 1 A->B from its offset 40") != std::string::npos, *m);
  got.assign(x.begin(), x.end() - 1);
  m = check_stream("x", got, x, all);
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->find("(short)") != std::string::npos, *m);
}

// The harness's own swap of 64 bytes between two connections' segments is caught, and the
// checker names the connection the bytes came from.
BOOST_AUTO_TEST_CASE(negative_control_swapped_payload_is_detected) {
  sim_options so;
  so.seed = 42;
  so.connections = 20;
  so.link.delay = 2ms;
  so.link.limit = 8192;
  so.swap_payloads = true;
  const sim_result r = run_simulation(so);
  BOOST_TEST_REQUIRE(r.swapped_from.has_value());
  const std::string want = "foreign bytes of connection " + std::to_string(*r.swapped_from) + " A->B";
  const std::string into = "connection " + std::to_string(*r.swapped_into) + " ";
  bool found = false;
  for (const auto& f : r.failures) {
    BOOST_TEST_MESSAGE("negative control: " << f);
    found = found || (f.find(want) != std::string::npos && f.find(into) != std::string::npos);
  }
  BOOST_TEST(found, "the swapped bytes were not reported as " << want << " in " << into);
  BOOST_TEST(r.failures.size() == 1u);  // nothing else went wrong
}

BOOST_AUTO_TEST_CASE(hundreds_of_connections_both_ways_over_an_impaired_link) {
  for (std::uint64_t seed : seeds()) {
    sim_options so;
    so.seed = seed;
    so.link = impaired();
    const sim_result r = run_simulation(so);
    report(r, seed);
    std::string first;
    for (std::size_t i = 0; i < std::min<std::size_t>(r.failures.size(), 10); ++i) first += "\n  " + r.failures[i];
    BOOST_TEST(r.failures.empty(), "seed " << seed << " (replay: SYNACK_SIM_SEED=" << seed << "): "
                                           << r.failures.size() << " failures" << first);
  }
}

BOOST_AUTO_TEST_CASE(hundreds_of_ipv6_connections_both_ways_over_an_impaired_link) {
  for (std::uint64_t seed : seeds()) {
    sim_options so;
    so.seed = seed;
    so.link = impaired();
    so.ipv6 = true;
    so.connections = 200;
    const sim_result r = run_simulation(so);
    report(r, seed);
    std::string first;
    for (std::size_t i = 0; i < std::min<std::size_t>(r.failures.size(), 10); ++i) first += "\n  " + r.failures[i];
    BOOST_TEST(r.failures.empty(), "IPv6 seed " << seed << " (replay: SYNACK_SIM_SEED=" << seed << "): "
                                                << r.failures.size() << " failures" << first);
  }
}

BOOST_AUTO_TEST_CASE(engine_on_a_handed_link_refuses_null_io_and_off_link_destinations_without_gateway) {
  tcp::instant now{std::chrono::hours{1}};
  engine::options o;
  o.clock = [&now] { return now; };
  o.seed = 1;
  link::link_facts f{wire::mac_addr{{0x02, 0, 0, 0, 0, 0x0a}}, 1500, addr_a, 24, std::nullopt, std::nullopt, 64, std::nullopt};
  BOOST_CHECK_THROW(engine::engine(o, nullptr, f), std::invalid_argument);
  engine::engine e(o, std::make_unique<link::memory_link>(), f);
  BOOST_TEST(e.fd() == -1);
  BOOST_TEST(e.tcp_config().mss == 1460);
  BOOST_TEST((e.ports() == link::port_range{61000, 65535}));
  BOOST_CHECK_THROW(e.connect(wire::ipv4_addr::from_octets(192, 0, 2, 1), 80), link::setup_error);
  // On-link: an ARP request goes out at the engine's clock, none answers, it fails after the tries.
  const wire::four_tuple t = e.connect(addr_b, 80);
  auto& io = static_cast<link::memory_link&>(e.link_io());
  BOOST_TEST(io.take_sent([](std::span<const std::byte> fr) { BOOST_TEST(fr.size() == 42u); }) == 1u);
  std::optional<std::error_code> failed;
  e.on_event([&](const wire::four_tuple& tt, const tcp::event& ev) {
    if (tt == t && ev.what == tcp::event::kind::error) failed = ev.ec;
  });
  for (int i = 0; i < 10 && !failed; ++i) {
    auto d = e.next_deadline();
    BOOST_TEST_REQUIRE(d.has_value());
    now = *d;
    e.process(now);
  }
  BOOST_TEST_REQUIRE(failed.has_value());
  BOOST_TEST((*failed == std::errc::host_unreachable));
  BOOST_TEST(e.stats().arp_requests_sent == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
