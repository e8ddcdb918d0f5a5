// synack bench: many handshakes, concurrently, through synack's TCP and/or the kernel's.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "kernel_probe.hpp"
#include "histogram.hpp"
#include "pcap_writer.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"

namespace synack::tools {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Open loop behind schedule: connections opened in one go before the engine runs again.
constexpr unsigned max_open_loop_burst = 128;

struct bench_options {
  common_options common;
  std::string target;
  std::uint16_t port = 80;
  std::uint64_t connections = 0;  // 0: 1000 unless --duration
  unsigned concurrency = 64;
  double duration_s = 0;
  double rate = 0;
  std::string engine = "synack";
  std::string close_mode = "fin";
  std::string request;
  std::uint64_t echo_size = 0;  // --echo SIZE: bytes each connection sends and checks (0: off)
  std::string json_file;
  std::string plot_file;
  std::string hdr_file;
  double timeout_s = 3.0;
  double msl_s = 0.1;
  // --max-time-wait: synack's TIME_WAIT cap (engine::options::max_time_wait); -1: this network
  // namespace's net.ipv4.tcp_max_tw_buckets, the rule the kernel's run of the same bench obeys.
  long long max_time_wait = -1;
};

// The kernel's TIME_WAIT cap in this network namespace (net.ipv4.tcp_max_tw_buckets); unlimited
// when it cannot be read.
std::size_t kernel_max_time_wait() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_max_tw_buckets");
  long long v = -1;
  if (f >> v && v >= 0) return static_cast<std::size_t>(v);
  return std::numeric_limits<std::size_t>::max();
}

class pacer;

struct result {
  std::string engine;
  std::uint64_t connections = 0;  // attempted
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  double elapsed_s = 0;
  std::uint64_t retransmits = 0;
  // --echo: connections whose echo did not come back whole and identical (counted in `failed`
  // too), and the payload bytes the program handed to / got from its TCP (--request included).
  std::uint64_t verify_failures = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  latency_histogram latency;
  std::map<std::string, std::uint64_t> errors;
  std::optional<tcp::icmp_origin> icmp;  // who answered the last connection that an ICMP error ended
  // The schedule: --rate (0: closed loop), the rate connections were opened at, and in open loop
  // the largest delay of an opening behind its due time and how many were over 1 ms late.
  double intended_rate = 0;
  double achieved_rate = 0;
  double max_lag_us = 0;
  std::uint64_t late_starts = 0;
  double wall_start_s = 0;  // when the run started, seconds since the epoch (--hdr)

  void take_schedule(const pacer& p);

  double conn_per_s() const { return elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0.0; }
};

// When to open the next connection.
//
// Closed loop (no --rate): up to -c in flight, a new one as soon as one ends, until -n have been
// opened or --duration has passed. Open loop (--rate R): connection i is due at start + i/R
// whatever became of the earlier ones (-c does not gate it); a connection that could not be
// opened when due (the engine was busy, or the port range or descriptors ran out) is opened as
// soon as it can be, late, and its latency still counts from when it was due. With --duration D
// the schedule holds the connections due before D (floor(D*R), or -n of them if that is smaller).
class pacer {
 public:
  explicit pacer(const bench_options& o)
      : o_(o), start_(clock::now()),
        wall_start_s_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()) {
    limit_ = o.connections ? o.connections : (o.duration_s > 0 ? 0 : 1000);
    has_end_ = o.duration_s > 0;
    if (has_end_) end_ = start_ + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.duration_s));
  }
  bool open_loop() const { return o_.rate > 0; }
  double rate() const { return o_.rate; }
  // When connection i (from 0) is due in open loop.
  clock::time_point due(std::uint64_t i) const {
    return start_ + std::chrono::duration_cast<clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(i) / o_.rate));
  }
  bool more(clock::time_point now) const {
    if (stop_requested) return false;
    if (limit_ && started_ >= limit_) return false;
    if (open_loop()) return !has_end_ || due(started_) < end_;
    if (has_end_ && now >= end_) return false;
    return true;
  }
  bool may_start(clock::time_point now, std::size_t in_flight) const {
    if (!more(now)) return false;
    if (open_loop()) return now >= due(started_);
    return in_flight < o_.concurrency;
  }
  // A connection was opened at `now`. Returns when it was due (open loop; `now` otherwise): the
  // point its latency counts from.
  clock::time_point started(clock::time_point now) {
    clock::time_point from = now;
    if (open_loop()) {
      from = due(started_);
      const auto lag = std::max<clock::duration>(now - from, 0ns);
      max_lag_ = std::max(max_lag_, lag);
      if (lag > late_threshold) ++late_;
    }
    ++started_;
    last_start_ = now;
    return from;
  }
  // How long until may_start could change by time alone.
  clock::duration wait(clock::time_point now) const {
    clock::duration w = 10ms;
    if (open_loop()) w = std::min<clock::duration>(w, std::max<clock::duration>(due(started_) - now, 0ns));
    if (has_end_) w = std::min<clock::duration>(w, std::max<clock::duration>(end_ - now, 0ns));
    return w;
  }
  std::uint64_t started_count() const { return started_; }
  std::uint64_t limit() const { return limit_; }
  clock::time_point start() const { return start_; }
  double wall_start_s() const { return wall_start_s_; }
  clock::duration max_lag() const { return max_lag_; }
  std::uint64_t late() const { return late_; }
  // Connections opened per second: n / (the last one's opening - start + 1/R) in open loop (exactly
  // R when every one was opened when due), n / (the last opening - start) in closed loop.
  double achieved_rate() const {
    if (started_ == 0) return 0.0;
    double span = std::chrono::duration<double>(last_start_ - start_).count();
    if (open_loop()) span += 1.0 / o_.rate;
    return span > 0 ? static_cast<double>(started_) / span : 0.0;
  }
  // An open-loop start later than this counts in `late_starts`.
  static constexpr clock::duration late_threshold = 1ms;

 private:
  const bench_options& o_;
  clock::time_point start_;
  double wall_start_s_;
  bool has_end_ = false;
  clock::time_point end_{};
  std::uint64_t limit_ = 0;
  std::uint64_t started_ = 0;
  clock::time_point last_start_{};
  clock::duration max_lag_{0};
  std::uint64_t late_ = 0;
};

void result::take_schedule(const pacer& p) {
  intended_rate = p.open_loop() ? p.rate() : 0.0;
  achieved_rate = p.achieved_rate();
  max_lag_us = std::chrono::duration<double, std::micro>(p.max_lag()).count();
  late_starts = p.late();
  wall_start_s = p.wall_start_s();
}

// One line on stderr, rewritten in place, when stderr is a terminal.
class progress {
 public:
  explicit progress(std::string name) : name_(std::move(name)), on_(::isatty(STDERR_FILENO) == 1) {}
  void update(const result& r, clock::time_point start, bool force = false) {
    if (!on_) return;
    auto now = clock::now();
    if (!force && now - last_ < 250ms) return;
    last_ = now;
    double secs = std::chrono::duration<double>(now - start).count();
    std::fprintf(stderr, "\r\033[K%s: %llu done, %llu failed, %.0f conn/s, p50 %.1f us", name_.c_str(),
                 static_cast<unsigned long long>(r.ok + r.failed), static_cast<unsigned long long>(r.failed),
                 secs > 0 ? static_cast<double>(r.ok) / secs : 0.0, r.latency.percentile_us(50));
    std::fflush(stderr);
  }
  void end() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  std::string name_;
  bool on_;
  clock::time_point last_{};
};

// --- --echo: each connection's payload ----------------------------------------------------------

// SplitMix64's finaliser: a good 64-bit mix, cheap.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The echo payload of one connection is a function of (its seed, the offset) only: byte i is byte
// i % 8 of mix64(seed + (i / 8) * golden). Nothing is stored per connection: the sender generates
// the next chunk where it left off and the checker the bytes it expects at the offset it reached.
// Seeds differ per connection (and per run), so bytes of another connection do not check.
void payload_bytes(std::uint64_t seed, std::uint64_t offset, std::span<std::byte> out) {
  std::uint64_t word = offset / 8;
  unsigned skip = static_cast<unsigned>(offset % 8);
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t v = mix64(seed + word * 0x9e3779b97f4a7c15ULL);
    for (unsigned b = skip; b < 8 && i < out.size(); ++b) out[i++] = static_cast<std::byte>(v >> (8 * b));
    skip = 0;
    ++word;
  }
}

class echo_payload {
 public:
  // salt: one per engine run, so the two engines of --engine both send different bytes too.
  explicit echo_payload(std::uint64_t size, std::uint64_t salt)
      : size_(size), run_seed_(mix64(std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32) ^ salt)),
        expect_(64 * 1024), chunk_(64 * 1024) {}
  std::uint64_t size() const { return size_; }
  std::uint64_t seed_for(std::uint64_t connection_index) const { return mix64(run_seed_ + connection_index); }
  // The next bytes to send from `offset` (at most 64 KiB; empty when all is sent).
  std::span<const std::byte> next(std::uint64_t seed, std::uint64_t offset) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_.size(), size_ - std::min(offset, size_)));
    payload_bytes(seed, offset, std::span{chunk_.data(), n});
    return {chunk_.data(), n};
  }
  // Do `got` (received at `offset`) match what was sent there? Bytes beyond SIZE never do.
  // On a mismatch, `where` is the offset of the first wrong byte.
  bool check(std::uint64_t seed, std::uint64_t offset, std::span<const std::byte> got, std::uint64_t& where) {
    while (!got.empty()) {
      if (offset >= size_) {
        where = offset;
        return false;
      }
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({got.size(), expect_.size(), size_ - offset}));
      payload_bytes(seed, offset, std::span{expect_.data(), n});
      if (std::memcmp(expect_.data(), got.data(), n) != 0) {
        std::size_t i = 0;
        while (expect_[i] == got[i]) ++i;
        where = offset + i;
        return false;
      }
      offset += n;
      got = got.subspan(n);
    }
    return true;
  }

 private:
  std::uint64_t size_;
  std::uint64_t run_seed_;
  std::vector<std::byte> expect_;
  std::vector<std::byte> chunk_;
};

// A few lines on stderr about connections whose echo was wrong (the first ones only).
void report_echo_failure(const std::string& engine, const std::string& who, const std::string& what) {
  static unsigned reported = 0;
  if (++reported > 5) return;
  std::fprintf(stderr, "synack bench: %s: %s: %s\n", engine.c_str(), who.c_str(), what.c_str());
}

// --- synack's TCP ---------------------------------------------------------------------------

result run_synack(const bench_options& o, const host_port& hp, std::uint16_t port) {
  engine::options eo = to_engine_options(o.common);
  eo.tcp.msl = std::chrono::duration_cast<tcp::duration>(std::chrono::duration<double>(o.msl_s));
  // The same TIME_WAIT rule as the kernel's run: bench/run.sh sets tcp_max_tw_buckets=0 in the
  // client namespace (else the kernel's ports run out within a second), and a synack keeping its
  // TIME_WAITs meanwhile had ports / (2 x MSL) as its ceiling (4,535 ports above the default
  // ephemeral range: ~22,700 conn/s, whatever -c).
  eo.max_time_wait = o.max_time_wait >= 0 ? static_cast<std::size_t>(o.max_time_wait) : kernel_max_time_wait();
  // Many small frames arrive at once (a SYN-ACK per connection in flight): small ring slots and
  // many of them. The default (128 slots of 64 KiB, room for GRO super-frames) overflowed at
  // -c 256 and every lost SYN-ACK cost a 1 s SYN retransmission. Handshakes and short responses
  // fit 2 KiB; anything longer arrives truncated and is dropped as such.
  eo.rx_frame_size = 2048;
  eo.rx_ring_bytes = std::max<std::size_t>(16 << 20, std::size_t{o.concurrency} * 4 * 2048);
  std::optional<pcap_writer> pcap;
  if (!o.common.pcap.empty()) pcap.emplace(o.common.pcap);
  engine::engine eng(eo, hp.addr);
  if (pcap)
    eng.on_frame([&](engine::direction d, tcp::instant, std::span<const std::byte> f) { pcap->on_frame(eng, d, f); });
  if (o.common.trace)
    eng.on_segment([](engine::direction d, tcp::instant, const wire::four_tuple& t, const tcp::segment& s, tcp::state st) {
      std::fprintf(stderr, "%s\n", format_segment(d, t, s, st).c_str());
    });

  struct conn {
    tcp::instant start{};
    tcp::instant deadline{};
    std::uint64_t seed = 0;      // --echo: this connection's payload
    std::uint64_t sent = 0;      // --echo: payload bytes the engine took
    std::uint64_t verified = 0;  // --echo: payload bytes back and checked
    bool done = false;           // counted (ok or failed)
    bool connected = false;
    bool requesting = false;
    bool ended = false;    // closed or aborted by us
    bool gone = false;     // its closed/error event came: erased by the main loop, not by a handler
    bool pumping = false;  // echo_pump runs for it (further down the stack)
    bool again = false;    // an event came while it ran: pump once more
  };
  // Entries are erased only by the main loop (between engine calls), never from an event handler,
  // and std::unordered_map keeps its elements in place when it grows: a conn* stays valid across
  // engine calls. The handlers still look an entry up again after each engine call (`lookup`):
  // depending on the engine, send/receive/close/abort may deliver events re-entrantly (whose
  // handler may mark the entry gone or done) or only from run_once().
  std::unordered_map<wire::four_tuple, conn, wire::four_tuple_hash> conns;
  std::vector<wire::four_tuple> gone;
  std::size_t in_flight = 0;
  result r;
  r.engine = "synack";
  const auto request = std::as_bytes(std::span{o.request.data(), o.request.size()});
  std::vector<std::byte> sink(65536);
  const bool echo = o.echo_size > 0;
  echo_payload payload(o.echo_size, 1);

  auto lookup = [&](const wire::four_tuple& t) -> conn* {
    auto it = conns.find(t);
    return it == conns.end() || it->second.gone ? nullptr : &it->second;
  };
  auto end_conn = [&](const wire::four_tuple& t) {
    conn* c = lookup(t);
    if (c == nullptr || c->ended) return;
    c->ended = true;
    if (o.close_mode == "rst")
      eng.abort(t);
    else
      eng.close(t);
  };
  // Counts the connection's outcome once (no engine call that delivers events). Its retransmissions
  // are counted now, as the kernel's run reads TCP_INFO when it knows the outcome: those of the
  // close that follows count on neither engine.
  auto complete = [&](const wire::four_tuple& t, conn& c, bool ok, const std::string& why, tcp::instant at) {
    if (c.done) return;
    c.done = true;
    --in_flight;
    if (const auto* cn = eng.find(t)) r.retransmits += cn->stats().retransmits;
    if (ok) {
      ++r.ok;
      r.latency.record(at - c.start);
    } else {
      ++r.failed;
      ++r.errors[why];
      // --echo: connected, but the echo did not come back whole and identical.
      if (echo && c.connected) ++r.verify_failures;
    }
  };
  auto name_of = [](const wire::four_tuple& t) {
    return t.local_addr.to_string(t.local_port) + " -> " + t.remote_addr.to_string(t.remote_port);
  };

  // --echo: send what the send buffer takes, read and check what came back, until neither moves;
  // ends the connection when its whole echo checked or a byte was wrong.
  auto echo_pump = [&](const wire::four_tuple& t) {
    conn* c = lookup(t);
    if (c == nullptr || c->done) return;
    if (c->pumping) {  // an event delivered from inside our own engine call: the outer loop goes on
      c->again = true;
      return;
    }
    c->pumping = true;
    struct unmark {
      conn* c;
      ~unmark() { c->pumping = false; }  // (the entry outlives the pump: see `conns`)
    } unmarked{c};
    while (true) {
      c->again = false;
      bool moved = false;
      if (c->sent < payload.size()) {
        auto chunk = payload.next(c->seed, c->sent);
        const std::size_t took = eng.send(t, chunk);
        if ((c = lookup(t)) == nullptr || c->done) return;
        c->sent += took;
        r.bytes_sent += took;
        moved = moved || took > 0;
      }
      const std::size_t got = eng.receive(t, sink);
      if ((c = lookup(t)) == nullptr || c->done) return;
      if (got > 0) {
        moved = true;
        r.bytes_received += got;
        std::uint64_t where = 0;
        if (!payload.check(c->seed, c->verified, std::span{sink.data(), got}, where)) {
          report_echo_failure("synack", name_of(t),
                              where >= payload.size()
                                  ? fmt::format("more than the {} bytes sent came back", payload.size())
                                  : fmt::format("echoed byte {} differs from the byte sent", where));
          complete(t, *c, false, "echo_mismatch", engine::engine::now());
          end_conn(t);
          return;
        }
        c->verified += got;
        if (c->verified == payload.size()) {
          complete(t, *c, true, "", engine::engine::now());
          end_conn(t);
          return;
        }
      }
      if (!moved && !c->again) return;
    }
  };

  eng.on_event([&](const wire::four_tuple& t, const tcp::event& ev) {
    conn* c = lookup(t);
    if (c == nullptr) return;
    switch (ev.what) {
      case tcp::event::kind::connected:
        if (c->done) break;
        c->connected = true;
        if (echo) {
          echo_pump(t);
        } else if (o.request.empty()) {
          // The program learns it now (as the kernel's run: epoll says writable).
          complete(t, *c, true, "", engine::engine::now());
          end_conn(t);
        } else {
          c->requesting = true;
          r.bytes_sent += eng.send(t, request);
        }
        break;
      case tcp::event::kind::writable:
        if (echo) echo_pump(t);
        break;
      case tcp::event::kind::readable:
        if (echo) {
          echo_pump(t);
          break;
        }
        while (true) {
          const std::size_t got = eng.receive(t, sink);
          if (got == 0) break;
          r.bytes_received += got;
        }
        if ((c = lookup(t)) != nullptr && c->requesting && !c->done) {
          complete(t, *c, true, "", engine::engine::now());
          end_conn(t);
        }
        break;
      case tcp::event::kind::eof:
        if (echo) echo_pump(t);  // what arrived before the FIN first
        if ((c = lookup(t)) == nullptr) break;
        if (!c->done) {
          if (echo)
            report_echo_failure("synack", name_of(t),
                                fmt::format("the echo ended (FIN) after {} of {} bytes", c->verified, payload.size()));
          complete(t, *c, false, echo ? "echo_short" : "eof_before_response", engine::engine::now());
        }
        end_conn(t);
        break;
      case tcp::event::kind::error:
      case tcp::event::kind::closed: {
        if (!c->done && ev.icmp) r.icmp = ev.icmp;
        if (!c->done) {
          if (echo && c->connected)
            report_echo_failure("synack", name_of(t),
                                fmt::format("the connection ended ({}) after {} of {} echoed bytes",
                                            ev.what == tcp::event::kind::error ? error_name(ev.ec) : "closed",
                                            c->verified, payload.size()));
          complete(t, *c, false, ev.what == tcp::event::kind::error ? error_name(ev.ec) : "closed",
                   engine::engine::now());
        }
        c->gone = true;
        gone.push_back(t);
        break;
      }
      default: break;
    }
  });

  pacer pace(o);
  progress bar("synack");
  const auto timeout = std::chrono::duration_cast<tcp::duration>(std::chrono::duration<double>(o.timeout_s));
  tcp::instant next_timeout_scan = engine::engine::now();
  bool ports_exhausted = false;
  auto erase_gone = [&] {
    for (const auto& t : gone)
      if (auto it = conns.find(t); it != conns.end() && it->second.gone) conns.erase(it);
    gone.clear();
  };
  while (true) {
    erase_gone();
    auto now = clock::now();
    // Open what the limits allow (a full port range waits for TIME_WAITs to end).
    ports_exhausted = false;
    // Open loop, behind schedule: at most a burst of them before the engine runs again.
    unsigned burst = 0;
    while (pace.may_start(now, in_flight) && (!pace.open_loop() || burst++ < max_open_loop_burst)) {
      wire::four_tuple t;
      tcp::instant at = engine::engine::now();
      const auto opened = clock::now();
      try {
        t = eng.connect(hp.addr, port);
      } catch (const std::runtime_error&) {
        ports_exhausted = true;
        break;
      }
      const auto from = pace.started(opened);
      ++r.connections;
      ++in_flight;
      conn& c = conns[t];
      c = conn{};  // (an entry left by an earlier connection on this tuple was counted already)
      // connect() called, as for the kernel; in open loop, when it was due (engine::now() is
      // steady_clock's time too).
      c.start = pace.open_loop() ? tcp::instant{std::chrono::duration_cast<tcp::duration>(from.time_since_epoch())} : at;
      c.deadline = at + timeout;
      c.seed = payload.seed_for(r.connections);
      now = clock::now();
    }
    if (!pace.more(now) && in_flight == 0) break;
    tcp::instant tnow = engine::engine::now();
    if (tnow >= next_timeout_scan) {
      std::vector<wire::four_tuple> expired;
      for (auto& [t, c] : conns)
        if (!c.done && !c.gone && tnow >= c.deadline) expired.push_back(t);
      for (auto& t : expired) {
        conn* c = lookup(t);
        if (c == nullptr || c->done) continue;  // an earlier abort's events may have ended it
        if (echo && c->connected)
          report_echo_failure("synack", name_of(t),
                              fmt::format("timed out (-W) after {} of {} echoed bytes", c->verified, payload.size()));
        complete(t, *c, false, "timed_out", tnow);
        c->ended = true;
        eng.abort(t);
      }
      next_timeout_scan = tnow + 10ms;
    }
    auto wait = pace.may_start(clock::now(), in_flight) && !ports_exhausted ? 0ns : pace.wait(clock::now());
    if (ports_exhausted) wait = 1ms;
    eng.run_once(std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
    bar.update(r, pace.start());
  }
  r.elapsed_s = std::chrono::duration<double>(clock::now() - pace.start()).count();
  r.take_schedule(pace);
  bar.end();
  // Let the closes finish (bounded), so the peer is not left half-open.
  auto until = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(2 * o.msl_s)) + 3s;
  stop_requested = false;
  while (eng.connection_count() > 0 && clock::now() < until && !stop_requested) eng.run_once(20ms);
  if (pcap) pcap->flush();
  return r;
}

// --- the kernel's TCP -----------------------------------------------------------------------

// epoll_wait with a nanosecond timeout (epoll_pwait2, Linux 5.11): epoll_wait's milliseconds would
// open an open-loop run's connections up to 1 ms late, and count that lag in their latency.
int wait_events(int ep, epoll_event* events, int max, clock::duration wait) {
  static bool have_pwait2 = true;
  if (have_pwait2) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max<clock::duration>(wait, 0ns)).count();
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    int n = ::epoll_pwait2(ep, events, max, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_pwait2 = false;
  }
  return ::epoll_wait(ep, events, max, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
}

result run_kernel(const bench_options& o, const host_port& hp, std::uint16_t port) {
  result r;
  r.engine = "kernel";
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw link::setup_error(link::setup_errc::system, "epoll_create1 failed");
  struct conn {
    clock::time_point start;
    bool requesting = false;  // connected, and sending the request or the echo payload
    std::uint64_t seed = 0;      // --echo
    std::uint64_t sent = 0;      // --echo: payload bytes send() took
    std::uint64_t verified = 0;  // --echo: payload bytes back and checked
    clock::time_point opened{};  // connect() called (-W counts from it; latency from `start`)
  };
  std::unordered_map<int, conn> conns;
  sockaddr_storage sa;
  const socklen_t sa_len = to_sockaddr(hp.addr, port, sa);
  char sink[65536];
  const bool echo = o.echo_size > 0;
  echo_payload payload(o.echo_size, 2);

  auto finish = [&](int fd, bool ok, const std::string& why, clock::time_point at) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    if (ok) {
      ++r.ok;
      r.latency.record(at - it->second.start);
    } else {
      ++r.failed;
      ++r.errors[why];
      if (echo && it->second.requesting) ++r.verify_failures;
    }
    tcp_info ti{};
    socklen_t tl = sizeof ti;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) r.retransmits += ti.tcpi_total_retrans;
    if (o.close_mode == "rst" || !ok) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(it);
  };
  auto name_of = [&](int fd) {
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    return sockaddr_text(local) + " -> " + hp.addr.to_string(port);
  };
  auto echo_failure = [&](int fd, const std::string& why, const std::string& what, clock::time_point at) {
    report_echo_failure("kernel", name_of(fd), what);
    finish(fd, false, why, at);
  };
  // --echo: send what the socket takes, read and check what came back (non-blocking, until both
  // would block); finishes the connection when the whole echo checked or went wrong.
  auto echo_pump = [&](int fd, clock::time_point at) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    conn& c = it->second;  // (only finish() erases it, and we return right after it)
    bool wants_out = false;
    while (true) {
      bool moved = false;
      if (c.sent < payload.size()) {
        auto chunk = payload.next(c.seed, c.sent);
        ssize_t took = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (took > 0) {
          c.sent += static_cast<std::uint64_t>(took);
          r.bytes_sent += static_cast<std::uint64_t>(took);
          moved = true;
        } else if (took < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          int e = errno;
          echo_failure(fd, error_name({e, std::system_category()}),
                       fmt::format("send failed ({}) after {} of {} echoed bytes", error_name({e, std::system_category()}),
                                   c.verified, payload.size()), at);
          return;
        }
      }
      ssize_t got = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (got > 0) {
        moved = true;
        r.bytes_received += static_cast<std::uint64_t>(got);
        std::uint64_t where = 0;
        if (!payload.check(c.seed, c.verified, std::as_bytes(std::span{sink, static_cast<std::size_t>(got)}), where)) {
          echo_failure(fd, "echo_mismatch",
                       where >= payload.size() ? fmt::format("more than the {} bytes sent came back", payload.size())
                                               : fmt::format("echoed byte {} differs from the byte sent", where),
                       at);
          return;
        }
        c.verified += static_cast<std::uint64_t>(got);
        if (c.verified == payload.size()) {
          finish(fd, true, "", clock::now());
          return;
        }
      } else if (got == 0) {
        echo_failure(fd, "echo_short",
                     fmt::format("the echo ended (FIN) after {} of {} bytes", c.verified, payload.size()), at);
        return;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        int e = errno;
        echo_failure(fd, error_name({e, std::system_category()}),
                     fmt::format("the connection ended ({}) after {} of {} echoed bytes",
                                 error_name({e, std::system_category()}), c.verified, payload.size()),
                     at);
        return;
      }
      if (!moved) break;
    }
    // Writable events only while there is payload left to send.
    wants_out = c.sent < payload.size();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (wants_out ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  };

  pacer pace(o);
  progress bar("kernel");
  const auto timeout = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.timeout_s));
  epoll_event events[256];
  while (true) {
    auto now = clock::now();
    bool fds_exhausted = false;
    unsigned burst = 0;
    while (pace.may_start(now, conns.size()) && (!pace.open_loop() || burst++ < max_open_loop_burst)) {
      int fd = ::socket(hp.addr.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fds_exhausted = true;  // (EMFILE: wait for connections to end)
        break;
      }
      if (!o.common.interface.empty())
        ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.common.interface.c_str(),
                     static_cast<socklen_t>(o.common.interface.size()));
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto start = clock::now();
      const auto from = pace.started(start);
      ++r.connections;
      if (pace.open_loop()) start = from;  // latency from when it was due
      conns[fd] = conn{start, false, payload.seed_for(r.connections), 0, 0, clock::now()};
      int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sa_len);
      if (rc != 0 && errno != EINPROGRESS) {
        finish(fd, false, error_name({errno, std::system_category()}), start);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      now = clock::now();
    }
    if (!pace.more(now) && conns.empty()) break;
    auto wait = pace.may_start(clock::now(), conns.size()) && !fds_exhausted ? 0ns : pace.wait(clock::now());
    if (fds_exhausted) wait = 1ms;
    int n = wait_events(ep, events, 256, wait);
    auto at = clock::now();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      conn& c = it->second;
      if (!c.requesting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          finish(fd, false, error_name({err, std::system_category()}), at);
          continue;
        }
        if ((events[i].events & EPOLLOUT) == 0) continue;
        if (echo) {
          c.requesting = true;
          echo_pump(fd, at);
          continue;
        }
        if (o.request.empty()) {
          finish(fd, true, "", at);
          continue;
        }
        c.requesting = true;
        ssize_t sent = ::send(fd, o.request.data(), o.request.size(), MSG_NOSIGNAL);
        if (sent > 0) r.bytes_sent += static_cast<std::uint64_t>(sent);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      if (echo) {
        echo_pump(fd, at);
        continue;
      }
      ssize_t got = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
      if (got > 0) {
        r.bytes_received += static_cast<std::uint64_t>(got);
        finish(fd, true, "", at);
      } else if (got == 0) {
        finish(fd, false, "eof_before_response", at);
      } else if (errno != EAGAIN) {
        finish(fd, false, error_name({errno, std::system_category()}), at);
      }
    }
    // Timeouts.
    std::vector<int> expired;
    for (auto& [fd, c] : conns)
      if (at - c.opened >= timeout) expired.push_back(fd);
    for (int fd : expired) {
      if (auto it = conns.find(fd); echo && it != conns.end() && it->second.requesting)
        report_echo_failure("kernel", name_of(fd),
                            fmt::format("timed out (-W) after {} of {} echoed bytes", it->second.verified,
                                        payload.size()));
      finish(fd, false, "timed_out", at);
    }
    bar.update(r, pace.start());
  }
  r.elapsed_s = std::chrono::duration<double>(clock::now() - pace.start()).count();
  r.take_schedule(pace);
  bar.end();
  for (auto& [fd, c] : conns) ::close(fd);
  ::close(ep);
  return r;
}

// --- output ---------------------------------------------------------------------------------

nlohmann::json to_json(const result& r) {
  nlohmann::json j = {{"engine", r.engine},
                      {"connections", r.connections},
                      {"ok", r.ok},
                      {"failed", r.failed},
                      {"conn_per_s", r.conn_per_s()},
                      {"elapsed_s", r.elapsed_s},
                      {"p50_us", r.latency.percentile_us(50)},
                      {"p90_us", r.latency.percentile_us(90)},
                      {"p99_us", r.latency.percentile_us(99)},
                      {"max_us", r.latency.max_us()},
                      {"min_us", r.latency.min_us()},
                      {"avg_us", r.latency.mean_us()},
                      {"retransmits", r.retransmits},
                      {"verify_failures", r.verify_failures},
                      {"bytes_sent", r.bytes_sent},
                      {"bytes_received", r.bytes_received}};
  j["errors"] = nlohmann::json::object();
  for (auto& [k, v] : r.errors) j["errors"][k] = v;
  j["icmp"] = icmp_json(r.icmp);
  // The schedule. Open loop (--rate): the rate asked for, the rate connections were opened at, the
  // largest delay of an opening behind its due time and the openings over 1 ms late; latency
  // counts from the due time. Closed loop: intended_rate, max_lag_us and late_starts are null.
  const bool open = r.intended_rate > 0;
  j["open_loop"] = open;
  j["intended_rate"] = open ? nlohmann::json(r.intended_rate) : nlohmann::json(nullptr);
  j["achieved_rate"] = r.achieved_rate;
  j["max_lag_us"] = open ? nlohmann::json(r.max_lag_us) : nlohmann::json(nullptr);
  j["late_starts"] = open ? nlohmann::json(r.late_starts) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json ratios(const result& a, const result& b) {
  auto div = [](double x, double y) { return y > 0 ? nlohmann::json(x / y) : nlohmann::json(nullptr); };
  return {{"what", a.engine + "/" + b.engine},
          {"conn_per_s", div(a.conn_per_s(), b.conn_per_s())},
          {"p50", div(a.latency.percentile_us(50), b.latency.percentile_us(50))},
          {"p90", div(a.latency.percentile_us(90), b.latency.percentile_us(90))},
          {"p99", div(a.latency.percentile_us(99), b.latency.percentile_us(99))},
          {"max", div(a.latency.max_us(), b.latency.max_us())}};
}

// With --echo the table gains three columns: verify_failures, bytes_sent, bytes_received.
void print_table(const std::vector<result>& rs, bool echo) {
  std::printf("%-8s %11s %9s %7s %10s %9s %9s %9s %10s %11s", "engine", "connections", "ok", "failed", "conn/s",
              "p50 us", "p90 us", "p99 us", "max us", "retransmits");
  if (echo) std::printf(" %15s %14s %14s", "verify_failures", "bytes_sent", "bytes_received");
  std::printf("\n");
  for (const auto& r : rs) {
    std::printf("%-8s %11llu %9llu %7llu %10.0f %9.1f %9.1f %9.1f %10.1f %11llu", r.engine.c_str(),
                static_cast<unsigned long long>(r.connections), static_cast<unsigned long long>(r.ok),
                static_cast<unsigned long long>(r.failed), r.conn_per_s(), r.latency.percentile_us(50),
                r.latency.percentile_us(90), r.latency.percentile_us(99), r.latency.max_us(),
                static_cast<unsigned long long>(r.retransmits));
    if (echo)
      std::printf(" %15llu %14llu %14llu", static_cast<unsigned long long>(r.verify_failures),
                  static_cast<unsigned long long>(r.bytes_sent), static_cast<unsigned long long>(r.bytes_received));
    std::printf("\n");
  }
  for (const auto& r : rs)
    for (const auto& [why, n] : r.errors)
      std::printf("%s: %llu failed with %s\n", r.engine.c_str(), static_cast<unsigned long long>(n), why.c_str());
  for (const auto& r : rs)
    if (r.icmp) std::printf("%s: the last failure answered by %s\n", r.engine.c_str(), icmp_text(*r.icmp).c_str());
  for (const auto& r : rs)
    if (r.intended_rate > 0)
      std::printf("%s: open loop: intended %.0f conn/s, achieved %.1f conn/s (%.1f%%), largest lag %.3f ms, %llu "
                  "opened more than 1 ms late; latency counts from each connection's due time\n",
                  r.engine.c_str(), r.intended_rate, r.achieved_rate, 100.0 * r.achieved_rate / r.intended_rate,
                  r.max_lag_us / 1000.0, static_cast<unsigned long long>(r.late_starts));
  if (rs.size() == 2) {
    const result &a = rs[0], &b = rs[1];
    auto div = [](double x, double y) { return y > 0 ? x / y : 0.0; };
    std::printf("%s/%s: conn/s %.2fx, p50 %.2fx, p90 %.2fx, p99 %.2fx (conn/s above 1 and latency below 1: %s ahead)\n",
                a.engine.c_str(), b.engine.c_str(), div(a.conn_per_s(), b.conn_per_s()),
                div(a.latency.percentile_us(50), b.latency.percentile_us(50)),
                div(a.latency.percentile_us(90), b.latency.percentile_us(90)),
                div(a.latency.percentile_us(99), b.latency.percentile_us(99)), a.engine.c_str());
  }
  std::fflush(stdout);
}

// --hdr: the latency histograms as an HdrHistogram interval log (what HdrHistogram's
// HistogramLogWriter writes, log format 1.3): one interval line per engine, tagged with its name
// (Tag=synack / Tag=kernel), covering its whole run; values in nanoseconds, Interval_Max in
// milliseconds (HistogramLogWriter's default unit ratio of 1e6), timestamps in seconds from BaseTime.
void write_hdr(const std::string& file, const std::vector<result>& rs) {
  const double base = rs.empty() ? std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()
                                 : rs.front().wall_start_s;
  const auto secs = static_cast<std::time_t>(base);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
  std::ofstream f(file);
  f << "#[Histogram log format version 1.3]\n";
  f << fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", base, date);
  f << fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", base);
  f << "#synack bench: connection latency in nanoseconds, one interval per engine (its whole run)\n";
  f << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  for (const auto& r : rs)
    f << fmt::format("Tag={},{:.3f},{:.3f},{:.3f},{}\n", r.engine, r.wall_start_s - base, r.elapsed_s,
                     r.latency.max_us() / 1000.0, r.latency.hdr_compressed_base64());
  f.close();
  if (!f) throw link::setup_error(link::setup_errc::invalid_argument, "--hdr: cannot write '" + file + "'");
}

// The latency CDFs of every engine on one chart, through gnuplot.
void plot(const std::string& file, const std::vector<result>& rs, const std::string& what) {
  std::string script;
  script += "set terminal pngcairo size 1100,650 enhanced font 'Sans,11'\n";
  script += fmt::format("set output '{}'\n", file);
  script += fmt::format("set title \"{}\" noenhanced\n", what);
  script += "set xlabel 'connection latency (microseconds, log scale)'\n";
  script += "set ylabel 'fraction of connections at or below'\n";
  script += "set logscale x\nset grid xtics mxtics ytics\nset yrange [0:1]\nset ytics 0.1\n";
  script += "set key bottom right box opaque\n";
  script += "set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dt 3 lc rgb '#888888'\n";
  script += "set arrow from graph 0, first 0.99 to graph 1, first 0.99 nohead dt 3 lc rgb '#888888'\n";
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c"};
  std::string plots;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    script += fmt::format("$d{} << EOD\n", i);
    for (auto [v, f] : rs[i].latency.cdf()) script += fmt::format("{} {}\n", std::max(v, 0.001), f);
    script += "EOD\n";
    if (!plots.empty()) plots += ", ";
    plots += fmt::format("$d{} using 1:2 with steps lw 2 lc rgb '{}' title '{}: p50 {:.1f} us, p99 {:.1f} us, {:.0f} conn/s'",
                         i, colours[i % 3], rs[i].engine, rs[i].latency.percentile_us(50),
                         rs[i].latency.percentile_us(99), rs[i].conn_per_s());
  }
  script += "plot " + plots + "\n";
  std::FILE* g = ::popen("gnuplot 2>&1", "w");
  if (g == nullptr) throw link::setup_error(link::setup_errc::system, "--plot: cannot run gnuplot");
  std::fwrite(script.data(), 1, script.size(), g);
  int rc = ::pclose(g);
  if (rc != 0)
    throw link::setup_error(link::setup_errc::system,
                            "--plot: gnuplot failed or is missing (install it: apt-get install gnuplot-nox)");
}

}  // namespace

void add_bench_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<bench_options>();
  CLI::App* cmd = app.add_subcommand("bench", "Many handshakes, concurrently, through synack and/or the kernel");
  cmd->footer(
      "Closed loop (default): keeps up to -c connections in flight until -n have been opened (default\n"
      "1000) or --duration has passed; each is opened, measured and closed (--close). Latency is\n"
      "connect -> handshake complete as the program sees it (synack: connect() -> the `connected`\n"
      "event; kernel: non-blocking connect() -> epoll says writable); with --request, connect -> the\n"
      "first response bytes; with --echo, connect -> the last echoed byte received and checked.\n"
      "Percentiles come from a log-linear histogram (within 0.4%, bounded memory).\n\n"
      "Open loop (--rate R): connection i is due at start + i/R whatever happened to the earlier ones\n"
      "(-c does not limit it; the port range and descriptors do), until -n are opened or for those due\n"
      "within --duration. Latency counts from when a connection was due, not when it was opened, so\n"
      "a stall of the server or of bench itself shows in the percentiles (no coordinated omission).\n"
      "When bench falls behind it opens the overdue ones as soon as it can and says by how much: the\n"
      "achieved rate (n / (last opening - start + 1/R)), the largest lag (opening - due time) and the\n"
      "openings more than 1 ms late (text, and JSON intended_rate, achieved_rate, max_lag_us,\n"
      "late_starts).\n\n"
      "--hdr FILE: the latency histograms as an HdrHistogram interval log (HistogramLogWriter's .hlog\n"
      "format 1.3, compressed V2 encoding, values in nanoseconds, one interval per engine tagged\n"
      "Tag=synack / Tag=kernel), as HdrHistogram's HistogramLogProcessor and HistogramLogAnalyzer\n"
      "read it.\n\n"
      "--echo SIZE: after the handshake each connection sends SIZE bytes (K/M/G suffixes, powers of\n"
      "1024) of pseudo-random data, different for every connection (generated on the fly from a\n"
      "per-connection seed, nothing stored), reads the echo back and checks every byte, then closes\n"
      "(--close). It counts as ok only if exactly its own SIZE bytes came back. verify_failures (table\n"
      "and JSON) counts connections that completed the handshake but whose echo did not come back\n"
      "whole and identical: a differing or extra byte (echo_mismatch), the peer's FIN before SIZE\n"
      "bytes (echo_short), a reset, or the -W timeout (which covers the whole connection, echo\n"
      "included: raise it for large SIZE). They are failures too (exit status 1). bytes_sent and\n"
      "bytes_received are the payload bytes handed to and received from TCP (--request too). Works\n"
      "against any echo server (synack serve --echo, socat ... PIPE, a proxy in front of one).\n"
      "retransmits: segments retransmitted up to each connection's outcome (the kernel's from\n"
      "TCP_INFO then; retransmissions of the close that follows count on neither engine).\n"
      "A progress line goes to stderr while it runs, when stderr is a terminal.\n\n"
      "Examples:\n"
      "  synack bench 10.111.0.2:8080 -n 2000 -c 64 --engine both --close rst\n"
      "  synack bench 10.111.0.2:8080 --duration 10 --rate 5000 --json out.json --hdr out.hlog\n"
      "  synack bench 10.111.0.2:80 -n 500 --request $'GET / HTTP/1.0\\r\\n\\r\\n'\n"
      "  synack bench 10.111.0.2:7 -n 200 -c 50 --echo 64K --engine both\n\n"
      "Exit status: 0 no connection failed, 1 some failed, 2 usage or set-up error.");
  cmd->add_option("target", o->target, "HOST:PORT or [IPv6]:PORT (or HOST with -p)")->required();
  cmd->add_option("-p,--port", o->port, "Destination port when HOST has none (default 80)")->check(CLI::Range(1, 65535));
  cmd->add_option("-n,--connections", o->connections, "Connections to open (default 1000, or unlimited with --duration)");
  cmd->add_option("-c,--concurrency", o->concurrency, "Connections in flight at most (default 64)")
      ->check(CLI::Range(1u, 100000u));
  cmd->add_option("--duration", o->duration_s,
                  "Stop opening connections after SECONDS (with --rate: open those due before SECONDS)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate", o->rate,
                  "Open loop: open PER_SECOND connections a second on a fixed schedule, whatever happens to "
                  "earlier ones; -c does not apply (default: closed loop)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--engine", o->engine, "synack (default), kernel, or both (synack first, then the kernel)")
      ->check(CLI::IsMember({"synack", "kernel", "both"}));
  cmd->add_option("--close", o->close_mode, "fin: graceful close (default); rst: abort with RST")
      ->check(CLI::IsMember({"fin", "rst"}));
  auto* request_opt =
      cmd->add_option("--request", o->request, "Send STRING after the handshake and wait for the first response bytes");
  cmd->add_option("--echo", o->echo_size,
                  "Send SIZE random bytes after the handshake (K/M/G suffixes), read the echo back and check "
                  "every byte (see below)")
      ->transform(CLI::AsSizeValue(false))
      ->excludes(request_opt);
  cmd->add_option("--json", o->json_file, "Write the results to FILE as JSON");
  cmd->add_option("--plot", o->plot_file, "Draw the latency CDFs into FILE.png (needs gnuplot)");
  cmd->add_option("--hdr", o->hdr_file,
                  "Write the latency histograms to FILE as an HdrHistogram interval log (.hlog; see below)");
  cmd->add_option("-W,--timeout", o->timeout_s, "Seconds a connection may take (default 3)")->check(CLI::PositiveNumber);
  cmd->add_option("--msl", o->msl_s, "synack's maximum segment lifetime; TIME_WAIT lasts 2*MSL (default 0.1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-time-wait", o->max_time_wait,
                  "At most N synack connections in TIME_WAIT; beyond it a closing connection ends at once, as "
                  "Linux's beyond net.ipv4.tcp_max_tw_buckets (default: that sysctl of this namespace, the "
                  "kernel run's rule)")
      ->check(CLI::NonNegativeNumber);
  add_common_options(*cmd, o->common);
  cmd->callback([&action, o] {
    action = [o]() -> int {
      host_port hp = resolve_host(o->target, o->common.family);
      std::uint16_t port = hp.port ? *hp.port : o->port;
      bool synack = o->engine != "kernel";
      if (synack) {
        link::require_net_raw_and_admin();
        keep_capabilities_for_children();
      }
      install_signal_handlers();
      // Open loop: wake up when a connection is due, not up to the default 50 us timer slack later
      // (that lag would count in every connection's latency).
      if (o->rate > 0) ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
      std::vector<result> rs;
      if (synack) rs.push_back(run_synack(*o, hp, port));
      if (o->engine != "synack" && !stop_requested) rs.push_back(run_kernel(*o, hp, port));
      print_table(rs, o->echo_size > 0);
      if (!o->json_file.empty()) {
        nlohmann::json j;
        j["target"] = hp.addr.to_string(port);
        j["concurrency"] = o->concurrency;
        j["rate"] = o->rate > 0 ? nlohmann::json(o->rate) : nlohmann::json(nullptr);
        j["close"] = o->close_mode;
        if (o->echo_size > 0) j["echo"] = o->echo_size;
        j["engines"] = nlohmann::json::array();
        for (const auto& r : rs) j["engines"].push_back(to_json(r));
        if (rs.size() == 2) j["ratios"] = ratios(rs[0], rs[1]);
        std::ofstream f(o->json_file);
        f << j.dump(2) << '\n';
        if (!f)
          throw link::setup_error(link::setup_errc::invalid_argument, "--json: cannot write '" + o->json_file + "'");
      }
      if (!o->hdr_file.empty()) write_hdr(o->hdr_file, rs);
      if (!o->plot_file.empty())
        plot(o->plot_file, rs,
             fmt::format("synack bench {}:{}: connection latency CDF ({} connections, concurrency {}, close {})",
                         hp.name, port, rs.empty() ? 0 : rs.front().connections, o->concurrency, o->close_mode));
      bool failed = std::any_of(rs.begin(), rs.end(), [](const result& r) { return r.failed > 0 || r.verify_failures > 0; });
      return failed ? exit_network : exit_ok;
    };
  });
}

}  // namespace synack::tools
