// synack ping: TCP handshake latency, one full handshake per probe.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
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
  bool port_given = false;
  unsigned count = 5;
  double interval_s = 1.0;
  double timeout_s = 3.0;
  std::string close_mode = "fin";
  double hold_s = 0.0;
  double msl_s = 0.5;
  bool json = false;
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
  std::uint32_t syn_retransmits = 0;
  std::uint32_t isn = 0;
};

double to_us(tcp::duration d) { return duration<double, std::micro>(d).count(); }

tcp::duration seconds(double s) { return duration_cast<tcp::duration>(duration<double>(s)); }

struct summary {
  unsigned sent = 0, ok = 0, failed = 0;
  std::vector<double> samples;

  double pct(double p) const {
    if (samples.empty()) return 0;
    std::vector<double> s = samples;
    std::sort(s.begin(), s.end());
    // Nearest rank.
    std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(s.size())));
    return s[std::clamp<std::size_t>(rank, 1, s.size()) - 1];
  }
  double avg() const {
    if (samples.empty()) return 0;
    double sum = 0;
    for (double x : samples) sum += x;
    return sum / static_cast<double>(samples.size());
  }
  // As ping(8): the standard deviation of the samples.
  double mdev() const {
    if (samples.empty()) return 0;
    double a = avg(), sq = 0;
    for (double x : samples) sq += (x - a) * (x - a);
    return std::sqrt(sq / static_cast<double>(samples.size()));
  }
};

class pinger {
public:
  pinger(const ping_options& o, const host_port& hp) : o_(o), hp_(hp) {
    engine::options eo = to_engine_options(o.common);
    eo.tcp.msl = seconds(o.msl_s);
    port_ = hp.port ? *hp.port : o.port;
    eng_.emplace(eo, hp.addr);
    eng_->on_event([this](const wire::four_tuple& t, const tcp::event& ev) { on_event(t, ev); });
    if (o.common.trace) {
      eng_->on_segment([this](engine::direction d, tcp::instant, const wire::four_tuple& t,
                              const tcp::segment& s, tcp::state st) { trace(format_segment(d, t, s, st)); });
    }
  }

  int run() {
    if (!o_.json) {
      std::printf("SYNACK PING %s:%u (%s) from %s via %s: one handshake per probe, close %s\n", hp_.name.c_str(),
                  port_, hp_.addr.to_string().c_str(), eng_->local_address().to_string().c_str(),
                  eng_->interface().name.c_str(), o_.close_mode.c_str());
      std::fflush(stdout);
    }
    tcp::instant next_start = engine::engine::now();
    unsigned started = 0;
    auto in_flight = [&] { return std::any_of(probes_.begin(), probes_.end(), [](auto& kv) { return !kv.second.done; }); };
    while (!stop_requested) {
      tcp::instant now = engine::engine::now();
      bool more = o_.count == 0 || started < o_.count;
      // Back to back (-i 0) waits for the previous probe's handshake to end.
      if (more && now >= next_start && (o_.interval_s > 0 || !in_flight())) {
        start_probe(++started, now);
        next_start = now + seconds(o_.interval_s);
      }
      if (!more && !in_flight()) break;
      check_deadlines(engine::engine::now());
      tcp::instant wake = more ? next_start : now + 100ms;
      for (auto& [t, p] : probes_) {
        if (!p.done) wake = std::min(wake, p.deadline);
        if (p.close_at) wake = std::min(wake, *p.close_at);
      }
      auto wait = std::clamp<tcp::duration>(wake - engine::engine::now(), 0ns, 100ms);
      eng_->run_once(wait);
    }
    if (stop_requested) {
      // Interrupted: give up on handshakes still pending; they count as not sent.
      for (auto& [t, p] : probes_)
        if (!p.done) {
          p.done = true;
          eng_->abort(t);
          --summary_.sent;
        }
    }
    linger();
    print_summary();
    return summary_.failed > 0 ? exit_network : exit_ok;
  }

private:
  void trace(const std::string& line) {
    std::FILE* out = o_.json ? stderr : stdout;
    std::fputs(line.c_str(), out);
    std::fputc('\n', out);
    std::fflush(out);
  }

  void start_probe(unsigned seq, tcp::instant now) {
    wire::four_tuple t = eng_->connect(hp_.addr, port_);
    ++summary_.sent;
    probe& p = probes_[t];
    p.seq = seq;
    p.tuple = t;
    p.started = now;
    p.deadline = now + seconds(o_.timeout_s);
    // connect() may already have completed it (an immediate RST is processed later, not here).
  }

  void check_deadlines(tcp::instant now) {
    std::vector<wire::four_tuple> expired, to_close;
    for (auto& [t, p] : probes_) {
      if (!p.done && now >= p.deadline) expired.push_back(t);
      if (p.close_at && now >= *p.close_at) to_close.push_back(t);
    }
    for (auto& t : expired) {
      finish(probes_[t], false, "timed_out");
      eng_->abort(t);
    }
    for (auto& t : to_close) {
      probes_[t].close_at.reset();
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
    if (ev.what == tcp::event::kind::state_changed && o_.common.trace)
      trace(format_state_change(t, ev.from, ev.to));
    auto it = probes_.find(t);
    if (it == probes_.end()) return;
    probe& p = it->second;
    switch (ev.what) {
      case tcp::event::kind::connected: {
        if (p.done) break;
        tcp::instant now = engine::engine::now();
        auto sent = eng_->first_sent(t);
        auto done = eng_->connected_at(t);
        p.handshake_us = to_us((done ? *done : now) - (sent ? *sent : p.started));
        if (auto* c = eng_->find(t)) {
          p.syn_retransmits = c->stats().syn_retransmits;
          p.isn = c->tcb().iss.value();
        }
        finish(p, true, "");
        if (o_.hold_s > 0)
          p.close_at = now + seconds(o_.hold_s);
        else
          end_connection(t);
        break;
      }
      case tcp::event::kind::eof:
        // The peer closed first: answer with our FIN (CLOSE_WAIT -> LAST_ACK) unless holding.
        if (p.done && p.ok && !p.close_at) end_connection(t);
        break;
      case tcp::event::kind::error:
        if (!p.done) {
          if (auto* c = eng_->find(t)) p.syn_retransmits = c->stats().syn_retransmits;
          finish(p, false, error_name(ev.ec));
        }
        break;
      default: break;
    }
    if (ev.what == tcp::event::kind::closed || ev.what == tcp::event::kind::error) {
      if (p.done) probes_.erase(it);
    }
  }

  void finish(probe& p, bool ok, const std::string& error) {
    p.done = true;
    p.ok = ok;
    p.error = error;
    if (ok) {
      ++summary_.ok;
      summary_.samples.push_back(p.handshake_us);
    } else {
      ++summary_.failed;
    }
    report(p);
  }

  void report(const probe& p) {
    std::string local = fmt::format("{}:{}", p.tuple.local_addr.to_string(), p.tuple.local_port);
    std::string remote = fmt::format("{}:{}", p.tuple.remote_addr.to_string(), p.tuple.remote_port);
    if (o_.json) {
      nlohmann::json j = {{"type", "probe"},      {"seq", p.seq},         {"engine", "synack"},
                          {"local", local},       {"remote", remote},     {"ok", p.ok},
                          {"syn_retransmits", p.syn_retransmits}};
      if (p.ok) {
        j["handshake_us"] = p.handshake_us;
        j["isn"] = p.isn;
        j["error"] = nullptr;
      } else {
        j["handshake_us"] = nullptr;
        j["error"] = p.error;
      }
      std::printf("%s\n", j.dump().c_str());
    } else if (p.ok) {
      std::printf("seq=%u %s -> %s: handshake %.1f us%s\n", p.seq, local.c_str(), remote.c_str(), p.handshake_us,
                  p.syn_retransmits ? fmt::format(" ({} SYN retransmits)", p.syn_retransmits).c_str() : "");
    } else {
      std::printf("seq=%u %s -> %s: %s\n", p.seq, local.c_str(), remote.c_str(), p.error.c_str());
    }
    std::fflush(stdout);
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

  void print_summary() {
    const summary& s = summary_;
    double loss = s.sent ? 100.0 * s.failed / s.sent : 0.0;
    if (o_.json) {
      nlohmann::json j = {{"type", "summary"}, {"engine", "synack"}, {"sent", s.sent},
                          {"ok", s.ok},        {"failed", s.failed},  {"loss_pct", loss},
                          {"min_us", s.samples.empty() ? 0.0 : s.pct(0)},
                          {"avg_us", s.avg()},  {"p50_us", s.pct(50)}, {"p90_us", s.pct(90)},
                          {"p99_us", s.pct(99)}, {"max_us", s.pct(100)}, {"mdev_us", s.mdev()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("--- %s:%u synack ping statistics ---\n", hp_.name.c_str(), port_);
      std::printf("%u probes sent, %u ok, %u failed, %.1f%% loss\n", s.sent, s.ok, s.failed, loss);
      if (!s.samples.empty())
        std::printf("handshake min/avg/p50/p90/p99/max/mdev = %.1f/%.1f/%.1f/%.1f/%.1f/%.1f/%.1f us\n", s.pct(0),
                    s.avg(), s.pct(50), s.pct(90), s.pct(99), s.pct(100), s.mdev());
    }
    std::fflush(stdout);
  }

  const ping_options& o_;
  host_port hp_;
  std::uint16_t port_ = 80;
  std::optional<engine::engine> eng_;
  std::map<wire::four_tuple, probe> probes_;
  summary summary_;
};

}  // namespace

void add_ping_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<ping_options>();
  CLI::App* cmd = app.add_subcommand("ping", "Measure TCP handshake latency, one full handshake per probe");
  cmd->footer(
      "Each probe opens a fresh connection from a new local port (unique 4-tuple and RFC 6528 ISN),\n"
      "measures SYN sent -> SYN-ACK received and ACKed (handshake_us), then closes it.\n\n"
      "Examples:\n"
      "  synack ping 10.111.0.2 -p 8080 -c 3 --trace     watch the handshake and four-way close\n"
      "  synack ping example.net:443 -c 0 -i 0.2          until Ctrl-C, then the summary\n"
      "  synack ping 10.111.0.2:80 --json --close rst     NDJSON, abort with RST after the handshake\n\n"
      "Exit status: 0 every probe succeeded, 1 a probe failed (refused, timed out, unreachable),\n"
      "2 usage or set-up error.");
  cmd->add_option("host", o->target, "HOST or HOST:PORT (IPv4 address or name)")->required();
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
  add_common_options(*cmd, o->common);
  cmd->callback([&action, o] {
    action = [o]() -> int {
      host_port hp = resolve_host(o->target);
      link::require_net_raw_and_admin();
      install_signal_handlers();
      pinger p(*o, hp);
      return p.run();
    };
  });
}

}  // namespace synack::tools
