// synack ping: TCP handshake latency, one full handshake per probe; optionally the same probes
// through the kernel's connect(), interleaved, for a side-by-side comparison.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "histogram.hpp"
#include "kernel_probe.hpp"
#include "ladder.hpp"
#include "pcap_writer.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"

namespace synack::tools {

namespace {

using namespace std::chrono_literals;
using std::chrono::duration;
using std::chrono::duration_cast;

struct ping_options {
  common_options common;
  std::string target;
  std::uint16_t port = 80;
  unsigned count = 5;
  double interval_s = 1.0;
  double timeout_s = 3.0;
  std::string close_mode = "fin";
  double hold_s = 0.0;
  double msl_s = 0.5;
  bool json = false;
  bool kernel = false;
  bool ladder = false;
};

struct probe {
  unsigned seq = 0;
  wire::four_tuple tuple;
  tcp::instant started{};
  tcp::instant deadline{};
  std::optional<tcp::instant> close_at;  // when to close after the handshake (--hold)
  bool done = false;
  bool ok = false;
  std::string error;
  double handshake_us = 0;
  double elapsed_us = 0;  // SYN sent -> the outcome (success or failure)
  std::optional<double> wire_us;
  std::optional<std::chrono::nanoseconds> synack_rx;  // the SYN-ACK's ring timestamp (CLOCK_REALTIME)
  bool wire_from_tx_timestamp = false;
  std::uint32_t syn_retransmits = 0;
  std::uint32_t isn = 0;
  std::optional<tcp::icmp_origin> icmp;  // the ICMP error that ended the handshake, if one did
};

double to_us(tcp::duration d) { return duration<double, std::micro>(d).count(); }

tcp::duration seconds(double s) { return duration_cast<tcp::duration>(duration<double>(s)); }

// Counts and distributions of one engine's probes.
struct tally {
  unsigned sent = 0, ok = 0, failed = 0;
  latency_histogram handshake;
  latency_histogram wire;  // synack: SYN -> SYN-ACK on the wire; kernel: the kernel's own RTT sample

  double loss_pct() const { return sent ? 100.0 * failed / sent : 0.0; }
};

std::string fmt_us(double us) { return fmt::format("{:.1f}", us); }

std::string stats_line(const latency_histogram& h) {
  return fmt::format("{}/{}/{}/{}/{}/{}/{} us", fmt_us(h.min_us()), fmt_us(h.mean_us()), fmt_us(h.percentile_us(50)),
                     fmt_us(h.percentile_us(90)), fmt_us(h.percentile_us(99)), fmt_us(h.max_us()),
                     fmt_us(h.mdev_us()));
}

class pinger {
public:
  pinger(const ping_options& o, const host_port& hp) : o_(o), hp_(hp) {
    engine::options eo = to_engine_options(o.common);
    eo.tcp.msl = seconds(o.msl_s);
    // Transmit timestamps cost the handshake they time: each SYN's report is queued on the
    // socket's error queue (a wake-up and a recvmsg before the ACK can go out), and measured on the
    // peer they made the kernel's SYN-ACK come 10 us after synack's SYN instead of 4.5 us and our
    // ACK 30 us after the SYN-ACK instead of 6.4 us. The latency comparisons (--kernel,
    // --busy-poll) run without them; wire_us then starts just before the send ("wire_tx":"send_time").
    eo.tx_timestamps = !o.kernel && o.common.busy_poll.empty();
    port_ = hp.port ? *hp.port : o.port;
    if (!o.common.pcap.empty()) pcap_.emplace(o.common.pcap);
    eng_.emplace(eo, hp.addr);
    eng_->on_event([this](const wire::four_tuple& t, const tcp::event& ev) { on_event(t, ev); });
    eng_->on_segment([this](engine::direction d, tcp::instant at, const wire::four_tuple& t, const tcp::segment& s,
                            tcp::state st) { on_segment(d, at, t, s, st); });
    eng_->on_tx_timestamp([this](std::uint32_t id, std::chrono::nanoseconds at) {
      auto it = tx_ids_.find(id);
      if (it == tx_ids_.end()) return;
      if (auto s = syn_sent_.find(it->second); s != syn_sent_.end() && s->second.id == id) s->second.tx = at;
      tx_ids_.erase(it);
    });
    if (pcap_)
      eng_->on_frame([this](engine::direction d, tcp::instant, std::span<const std::byte> f) {
        pcap_->on_frame(*eng_, d, f);
      });
  }

  int run() {
    if (!o_.json) {
      // The name (or literal) as given, bracketed when it holds colons, and the address used.
      const std::string shown = hp_.name.find(':') != std::string::npos ? "[" + hp_.name + "]" : hp_.name;
      std::printf("SYNACK PING %s:%u (%s) from %s via %s: one handshake per probe, close %s%s\n", shown.c_str(),
                  port_, hp_.addr.to_string().c_str(), eng_->local_address().to_string().c_str(),
                  eng_->interface().name.c_str(), o_.close_mode.c_str(),
                  o_.kernel ? ", interleaved with the kernel's connect()" : "");
      std::fflush(stdout);
    }
    tcp::instant next_start = engine::engine::now();
    unsigned started = 0;
    while (!stop_requested) {
      // The kernel's probe for the synack probe that just finished, while nothing else is in the
      // air (its connect() + poll() blocks this thread for one handshake).
      if (!kernel_queue_.empty() && !handshake_in_flight()) {
        run_kernel_probe(kernel_queue_.front());
        kernel_queue_.pop_front();
        continue;
      }
      tcp::instant now = engine::engine::now();
      bool more = o_.count == 0 || started < o_.count;
      // Back to back (-i 0) waits for the previous probe's handshake (and its kernel twin) to end.
      if (more && now >= next_start && kernel_queue_.empty() && (o_.interval_s > 0 || !handshake_in_flight())) {
        start_probe(++started, now);
        next_start = now + seconds(o_.interval_s);
      }
      if (!more && !handshake_in_flight() && kernel_queue_.empty()) break;
      check_deadlines(engine::engine::now());
      tcp::instant wake = more ? next_start : now + 100ms;
      for (const auto& t : active_) {
        const probe& p = probes_.at(t);
        if (!p.done) wake = std::min(wake, p.deadline);
        if (p.close_at) wake = std::min(wake, *p.close_at);
      }
      auto wait = std::clamp<tcp::duration>(wake - engine::engine::now(), 0ns, 100ms);
      if (!kernel_queue_.empty()) wait = 0ns;
      eng_->run_once(wait);
    }
    if (stop_requested) {
      // Interrupted: give up on handshakes still pending; they count as not sent.
      // (abort() delivers the closed event, which erases the probe: not while iterating.)
      std::vector<wire::four_tuple> pending;
      for (const auto& t : active_)
        if (!probes_.at(t).done) pending.push_back(t);
      for (const auto& t : pending) {
        auto it = probes_.find(t);
        if (it == probes_.end() || it->second.done) continue;
        it->second.done = true;
        track(t, it->second);
        --synack_.sent;
        eng_->abort(t);
      }
    }
    linger();
    print_ladders_left();
    print_summary();
    if (pcap_) pcap_->flush();
    return synack_.failed + kernel_.failed > 0 ? exit_network : exit_ok;
  }

private:
  bool handshake_in_flight() const {
    return std::any_of(active_.begin(), active_.end(), [&](const auto& t) { return !probes_.at(t).done; });
  }

  // Probes stay in probes_ until their connection is CLOSED (TIME_WAIT included: thousands in a
  // back-to-back run); the loop looks only at those with a handshake or a --hold close pending,
  // so its cost per round does not grow with the run (it did: +30 us per handshake at 2,000).
  void track(const wire::four_tuple& t, const probe& p) {
    if (!p.done || p.close_at)
      active_.insert(t);
    else
      active_.erase(t);
  }

  void trace(const std::string& line) {
    std::FILE* out = o_.json ? stderr : stdout;
    std::fputs(line.c_str(), out);
    std::fputc('\n', out);
    std::fflush(out);
  }

  void on_segment(engine::direction d, tcp::instant at, const wire::four_tuple& t, const tcp::segment& s,
                  tcp::state st) {
    if (o_.common.trace) trace(format_segment(d, t, s, st));
    if (o_.ladder) ladder_.segment(d, at, t, s, st);
    // Wire timing, both ends on CLOCK_REALTIME: the SYN's software transmit timestamp (the kernel's
    // report of the frame reaching the driver; else the time taken just before the send; the last
    // SYN if it was retransmitted) and the SYN-ACK's kernel receive timestamp from the ring, so
    // neither the send system call nor the wake-up is in it.
    if (d == engine::direction::out && s.syn && !s.ack_num) {
      syn_tx& x = syn_sent_[t];
      x = syn_tx{pcap_writer::realtime_now(), std::nullopt, std::nullopt};
      if (auto id = eng_->next_tx_id()) {
        x.id = *id;
        tx_ids_[*id] = t;
      }
    } else if (d == engine::direction::in && s.syn && s.ack_num) {
      auto it = probes_.find(t);
      const link::rx_frame* rx = eng_->current_rx_frame();
      if (it != probes_.end() && !it->second.synack_rx && rx != nullptr && rx->kernel_timestamp.count() > 0)
        it->second.synack_rx = rx->kernel_timestamp;
    }
  }

  // At the handshake's end (transmit timestamps are read before events are delivered).
  void compute_wire(probe& p) {
    auto sent = syn_sent_.find(p.tuple);
    if (!p.synack_rx || sent == syn_sent_.end()) return;
    p.wire_from_tx_timestamp = sent->second.tx.has_value();
    p.wire_us = to_us(*p.synack_rx - sent->second.tx.value_or(sent->second.before_send));
  }

  void forget_syn(const wire::four_tuple& t) {
    if (auto s = syn_sent_.find(t); s != syn_sent_.end()) {
      if (s->second.id) tx_ids_.erase(*s->second.id);
      syn_sent_.erase(s);
    }
  }

  void start_probe(unsigned seq, tcp::instant now) {
    // As the kernel's probe: from the call to connect() (port choice and SYN included) to the
    // program learning the handshake completed.
    const tcp::instant before = engine::engine::now();
    wire::four_tuple t = eng_->connect(hp_.addr, port_);
    ++synack_.sent;
    probe& p = probes_[t];
    p.seq = seq;
    p.tuple = t;
    p.started = before;
    p.deadline = now + seconds(o_.timeout_s);
    track(t, p);
  }

  void check_deadlines(tcp::instant now) {
    std::vector<wire::four_tuple> expired, to_close;
    for (const auto& t : active_) {
      const probe& p = probes_.at(t);
      if (!p.done && now >= p.deadline) expired.push_back(t);
      if (p.close_at && now >= *p.close_at) to_close.push_back(t);
    }
    for (auto& t : expired) {
      auto it = probes_.find(t);
      if (it == probes_.end()) continue;
      finish(it->second, false, "timed_out");
      eng_->abort(t);  // may deliver events that erase the probe
    }
    for (auto& t : to_close) {
      auto it = probes_.find(t);
      if (it == probes_.end()) continue;
      it->second.close_at.reset();
      track(t, it->second);
      end_connection(t);
    }
  }

  void end_connection(const wire::four_tuple& t) {
    if (o_.close_mode == "rst")
      eng_->abort(t);
    else
      eng_->close(t);
  }

  void on_event(const wire::four_tuple& t, const tcp::event& ev) {
    if (ev.what == tcp::event::kind::state_changed) {
      if (o_.common.trace) trace(format_state_change(t, ev.from, ev.to));
      if (o_.ladder) ladder_.state_change(engine::engine::now(), t, ev.from, ev.to);
    }
    auto it = probes_.find(t);
    if (it == probes_.end()) return;
    probe& p = it->second;
    switch (ev.what) {
      case tcp::event::kind::connected: {
        if (p.done) break;
        tcp::instant now = engine::engine::now();
        p.handshake_us = to_us(now - p.started);
        if (auto* c = eng_->find(t)) {
          p.syn_retransmits = c->stats().syn_retransmits;
          p.isn = c->tcb().iss.value();
        }
        compute_wire(p);
        finish(p, true, "");
        if (o_.hold_s > 0) {
          p.close_at = now + seconds(o_.hold_s);
          track(t, p);
        } else {
          end_connection(t);
        }
        break;
      }
      case tcp::event::kind::eof:
        // The peer closed first: answer with our FIN (CLOSE_WAIT -> LAST_ACK) unless holding.
        if (p.done && p.ok && !p.close_at) end_connection(t);
        break;
      case tcp::event::kind::error:
        if (!p.done) {
          if (auto* c = eng_->find(t)) p.syn_retransmits = c->stats().syn_retransmits;
          p.icmp = ev.icmp;
          finish(p, false, error_name(ev.ec));
        }
        break;
      default: break;
    }
    if (ev.what == tcp::event::kind::closed || ev.what == tcp::event::kind::error) {
      if (p.done) {
        print_ladder(t);
        forget_syn(t);
        active_.erase(t);
        probes_.erase(it);
      }
    }
  }

  void finish(probe& p, bool ok, const std::string& error) {
    p.done = true;
    p.elapsed_us = ok ? p.handshake_us : to_us(engine::engine::now() - p.started);
    track(p.tuple, p);
    p.ok = ok;
    p.error = error;
    if (ok) {
      ++synack_.ok;
      synack_.handshake.record_us(p.handshake_us);
      if (p.wire_us) synack_.wire.record_us(*p.wire_us);
    } else {
      ++synack_.failed;
    }
    report(p);
    if (o_.kernel) kernel_queue_.push_back(p.seq);
  }

  void run_kernel_probe(unsigned seq) {
    kernel_probe_options ko;
    ko.dst = hp_.addr;
    ko.port = port_;
    ko.interface = o_.common.interface;
    ko.timeout_s = o_.timeout_s;
    ko.rst_close = o_.close_mode == "rst";
    kernel_probe_result r = kernel_probe(ko);
    if (r.interrupted) return;
    ++kernel_.sent;
    if (r.ok) {
      ++kernel_.ok;
      kernel_.handshake.record_us(r.handshake_us);
      if (r.kernel_rtt_us) kernel_.wire.record_us(*r.kernel_rtt_us);
    } else {
      ++kernel_.failed;
    }
    std::string remote = hp_.addr.to_string(port_);
    if (o_.json) {
      nlohmann::json j = {{"type", "probe"},   {"seq", seq},     {"engine", "kernel"},
                          {"local", r.local},  {"remote", remote}, {"ok", r.ok},
                          {"syn_retransmits", r.syn_retransmits}};
      j["elapsed_us"] = r.elapsed_us;
      j["handshake_us"] = r.ok ? nlohmann::json(r.handshake_us) : nlohmann::json(nullptr);
      j["kernel_rtt_us"] = r.kernel_rtt_us ? nlohmann::json(*r.kernel_rtt_us) : nlohmann::json(nullptr);
      j["error"] = r.ok ? nlohmann::json(nullptr) : nlohmann::json(r.error);
      j["icmp"] = nullptr;  // the kernel's socket does not say who answered
      std::printf("%s\n", j.dump().c_str());
    } else if (r.ok) {
      std::printf("seq=%u [kernel] %s -> %s: handshake %.1f us%s\n", seq, r.local.c_str(), remote.c_str(),
                  r.handshake_us, r.kernel_rtt_us ? fmt::format(", kernel rtt {:.0f} us", *r.kernel_rtt_us).c_str() : "");
    } else {
      std::printf("seq=%u [kernel] -> %s: %s after %.1f ms\n", seq, remote.c_str(), r.error.c_str(), r.elapsed_us / 1000.0);
    }
    std::fflush(stdout);
  }

  void report(const probe& p) {
    std::string local = p.tuple.local_addr.to_string(p.tuple.local_port);
    std::string remote = p.tuple.remote_addr.to_string(p.tuple.remote_port);
    if (o_.json) {
      nlohmann::json j = {{"type", "probe"},      {"seq", p.seq},         {"engine", "synack"},
                          {"local", local},       {"remote", remote},     {"ok", p.ok},
                          {"syn_retransmits", p.syn_retransmits}};
      j["elapsed_us"] = p.elapsed_us;
      if (p.ok) {
        j["handshake_us"] = p.handshake_us;
        j["wire_us"] = p.wire_us ? nlohmann::json(*p.wire_us) : nlohmann::json(nullptr);
        if (p.wire_us) j["wire_tx"] = p.wire_from_tx_timestamp ? "tx_timestamp" : "send_time";
        j["isn"] = p.isn;
        j["error"] = nullptr;
      } else {
        j["handshake_us"] = nullptr;
        j["wire_us"] = nullptr;
        j["error"] = p.error;
      }
      j["icmp"] = icmp_json(p.icmp);
      std::printf("%s\n", j.dump().c_str());
    } else {
      const char* tag = o_.kernel ? " [synack]" : "";
      if (p.ok) {
        std::string extra = p.wire_us ? fmt::format(", wire {:.1f} us", *p.wire_us) : std::string{};
        if (p.syn_retransmits) extra += fmt::format(" ({} SYN retransmits)", p.syn_retransmits);
        std::printf("seq=%u%s %s -> %s: handshake %.1f us%s\n", p.seq, tag, local.c_str(), remote.c_str(),
                    p.handshake_us, extra.c_str());
      } else {
        const std::string why = p.icmp ? p.error + ": " + icmp_text(*p.icmp) : p.error;
        std::printf("seq=%u%s %s -> %s: %s after %.1f ms\n", p.seq, tag, local.c_str(), remote.c_str(), why.c_str(),
                    p.elapsed_us / 1000.0);
      }
    }
    std::fflush(stdout);
  }

  void print_ladder(const wire::four_tuple& t) {
    if (!o_.ladder || !ladder_.has(t)) return;
    std::FILE* out = o_.json ? stderr : stdout;
    std::fputs(ladder_.render(t).c_str(), out);
    std::fflush(out);
    ladder_.erase(t);
  }

  void print_ladders_left() {
    std::vector<wire::four_tuple> left;
    for (auto& [t, p] : probes_) left.push_back(t);
    for (auto& t : left) print_ladder(t);
  }

  // Let graceful closes finish (FIN exchange, then TIME_WAIT of 2*MSL) so the kernel peer is not
  // left half-open; bounded, and cut short by a second signal.
  void linger() {
    stop_requested = false;
    tcp::instant until = engine::engine::now() + seconds(2 * o_.msl_s) + 5s;
    while (eng_->connection_count() > 0 && !stop_requested && engine::engine::now() < until) {
      check_deadlines(engine::engine::now());
      eng_->run_once(50ms);
    }
    std::vector<wire::four_tuple> left;
    for (auto& [t, p] : probes_) left.push_back(t);
    for (auto& t : left) eng_->abort(t);
  }

  nlohmann::json summary_json(const char* engine_name, const tally& s, const char* wire_key) const {
    nlohmann::json j = {{"type", "summary"}, {"engine", engine_name}, {"sent", s.sent},
                        {"ok", s.ok},        {"failed", s.failed},    {"loss_pct", s.loss_pct()}};
    j.update(s.handshake.summary_json());
    if (!s.wire.empty()) j[wire_key] = s.wire.summary_json();
    return j;
  }

  void print_summary() {
    if (o_.json) {
      std::printf("%s\n", summary_json("synack", synack_, "wire").dump().c_str());
      if (o_.kernel) {
        std::printf("%s\n", summary_json("kernel", kernel_, "kernel_rtt").dump().c_str());
        if (!synack_.handshake.empty() && !kernel_.handshake.empty()) {
          nlohmann::json r = {{"type", "ratio"}, {"what", "synack/kernel handshake"}};
          for (double p : {50.0, 90.0, 99.0})
            r[fmt::format("p{:.0f}", p)] = synack_.handshake.percentile_us(p) / kernel_.handshake.percentile_us(p);
          r["avg"] = synack_.handshake.mean_us() / kernel_.handshake.mean_us();
          std::printf("%s\n", r.dump().c_str());
        }
      }
      std::fflush(stdout);
      return;
    }
    auto block = [&](const char* name, const tally& s, const char* wire_name) {
      const std::string shown = hp_.name.find(':') != std::string::npos ? "[" + hp_.name + "]" : hp_.name;
      std::printf("--- %s:%u %s ping statistics ---\n", shown.c_str(), port_, name);
      std::printf("%u probes sent, %u ok, %u failed, %.1f%% loss\n", s.sent, s.ok, s.failed, s.loss_pct());
      if (!s.handshake.empty())
        std::printf("handshake min/avg/p50/p90/p99/max/mdev = %s\n", stats_line(s.handshake).c_str());
      if (!s.wire.empty()) std::printf("%-9s min/avg/p50/p90/p99/max/mdev = %s\n", wire_name, stats_line(s.wire).c_str());
    };
    block("synack", synack_, "wire");
    if (o_.kernel) {
      block("kernel", kernel_, "rtt");
      if (!synack_.handshake.empty() && !kernel_.handshake.empty()) {
        auto ratio = [&](double p) { return synack_.handshake.percentile_us(p) / kernel_.handshake.percentile_us(p); };
        std::printf("synack/kernel handshake: p50 %.2fx, p90 %.2fx, p99 %.2fx, avg %.2fx (below 1: synack faster)\n",
                    ratio(50), ratio(90), ratio(99), synack_.handshake.mean_us() / kernel_.handshake.mean_us());
      }
    }
    std::fflush(stdout);
  }

  const ping_options& o_;
  host_port hp_;
  std::uint16_t port_ = 80;
  std::optional<pcap_writer> pcap_;
  std::optional<engine::engine> eng_;
  std::map<wire::four_tuple, probe> probes_;
  std::set<wire::four_tuple> active_;  // probes with a handshake or a --hold close pending (track())
  struct syn_tx {
    std::chrono::nanoseconds before_send{};          // CLOCK_REALTIME just before the send
    std::optional<std::chrono::nanoseconds> tx;     // the kernel's software transmit timestamp
    std::optional<std::uint32_t> id;                 // its frame id
  };
  std::map<wire::four_tuple, syn_tx> syn_sent_;  // the last SYN of each connection
  std::map<std::uint32_t, wire::four_tuple> tx_ids_;
  std::deque<unsigned> kernel_queue_;                              // --kernel probes still to run
  ladder_recorder ladder_;
  tally synack_;
  tally kernel_;
};

}  // namespace

void add_ping_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<ping_options>();
  CLI::App* cmd = app.add_subcommand("ping", "Measure TCP handshake latency, one full handshake per probe");
  cmd->footer(
      "Each probe opens a fresh connection from a new local port (unique 4-tuple and RFC 6528 ISN),\n"
      "completes the handshake, then closes it (--close).\n\n"
      "What the figures measure:\n"
      "  handshake  synack: engine connect() called -> the program's `connected` event (the SYN-ACK\n"
      "             processed); kernel (--kernel): connect() called -> poll() reports the socket\n"
      "             connected. Both what a program sees, on the steady clock.\n"
      "  wire       synack only: the SYN's software transmit timestamp (the kernel's report of the frame\n"
      "             reaching the driver, SO_TIMESTAMPING; else the time just before the send) -> the\n"
      "             SYN-ACK's receive timestamp on the packet ring; both CLOCK_REALTIME, so neither\n"
      "             the send system call nor scheduling and wake-up delays are in it. With --kernel or\n"
      "             --busy-poll no transmit timestamps are taken (they slow the handshake down):\n"
      "             wire then starts just before the send.\n"
      "  rtt        kernel only: the kernel's own SYN -> SYN-ACK sample (TCP_INFO tcpi_rtt, 1 us steps).\n"
      "Summaries: min/avg/p50/p90/p99/max/mdev over the successful probes (percentiles from a\n"
      "log-linear histogram, within 0.4%; mdev is the standard deviation, as in ping(8)).\n\n"
      "ICMP errors: a destination unreachable, time exceeded or parameter problem quoting a probe's\n"
      "SYN ends the probe at once with what the kernel's connect() reports (port unreachable:\n"
      "connection_refused; net unreachable or prohibited: network_unreachable; host unreachable or\n"
      "prohibited, communication prohibited, time exceeded: host_unreachable; Linux's icmp_err_convert).\n"
      "The text says who answered (\"connection_refused: ICMP port unreachable from 10.88.2.2\"); the\n"
      "NDJSON probe record has \"icmp\":{\"from\":\"10.88.2.2\",\"type\":3,\"code\":3}, null when no ICMP\n"
      "error decided it (always null for --kernel probes).\n\n"
      "Examples:\n"
      "  synack ping 10.111.0.2 -p 8080 -c 3 --trace     watch the handshake and four-way close\n"
      "  synack ping 10.111.0.2 -p 8080 -c 1 --ladder    the connection as a ladder diagram\n"
      "  synack ping example.net:443 -c 0 -i 0.2          until Ctrl-C, then the summary\n"
      "  synack ping 10.111.0.2:80 --json --close rst     NDJSON, abort with RST after the handshake\n"
      "  synack ping 10.111.0.2:80 -c 20 -i 0.05 --kernel synack and the kernel side by side\n"
      "  synack ping 10.111.0.2:80 -c 3 --pcap ping.pcap  and read it with tshark -r ping.pcap\n"
      "  synack ping [fd00:111::2]:8080 -c 3 --kernel     IPv6, synack and the kernel side by side\n\n"
      "Exit status: 0 every probe succeeded, 1 a probe failed (refused, timed out, unreachable),\n"
      "2 usage or set-up error.");
  cmd->add_option("host", o->target,
                  "HOST, HOST:PORT, an IPv6 literal or [IPv6]:PORT (a name: A and AAAA, -4/-6 choose)")
      ->required();
  cmd->add_option("-p,--port", o->port, "Destination port (default 80)")->check(CLI::Range(1, 65535));
  cmd->add_option("-c,--count", o->count, "Number of probes; 0 = until interrupted (default 5)");
  cmd->add_option("-i,--interval", o->interval_s, "Seconds between probe starts; 0 = back to back (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-W,--timeout", o->timeout_s, "Seconds to wait for each handshake (default 3)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--close", o->close_mode, "fin: graceful four-way close (default); rst: abort with RST")
      ->check(CLI::IsMember({"fin", "rst"}));
  cmd->add_option("--hold", o->hold_s, "Seconds to keep each connection open after the handshake (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--msl", o->msl_s, "Maximum segment lifetime in seconds; TIME_WAIT lasts 2*MSL (default 0.5)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o->json, "NDJSON records on stdout (probe and summary)");
  cmd->add_flag("--kernel", o->kernel,
                "Also run each probe through the kernel's connect(), interleaved, and compare");
  cmd->add_flag("--ladder", o->ladder,
                "Draw each connection as a ladder diagram (us | peer) when it ends (stderr with --json)");
  add_common_options(*cmd, o->common);
  cmd->callback([&action, o] {
    action = [o]() -> int {
      host_port hp = resolve_host(o->target, o->common.family);
      link::require_net_raw_and_admin();
      keep_capabilities_for_children();
      install_signal_handlers();
      pinger p(*o, hp);
      return p.run();
    };
  });
}

}  // namespace synack::tools
