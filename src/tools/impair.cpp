// synack impair IFACE_A IFACE_B: a transparent layer-2 bridge that impairs what it forwards
// (user-space netem: the kernels here have no sch_netem, field notes "No netem here").
//
// Every frame received on one interface (AF_PACKET, no filter, promiscuous, never our own
// transmissions) goes through that direction's impair::channel and out of the other interface
// when the channel releases it. One thread, two packet sockets, one ppoll bounded by the
// channels' next deadline, spinning for the last --spin-us before it for timing accuracy.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <bit>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "synack/impair/channel.hpp"
#include "synack/link/capabilities.hpp"
#include "synack/link/error.hpp"
#include "synack/link/netlink.hpp"
#include "synack/link/packet_socket.hpp"

namespace synack::tools {

namespace {

using impair::duration;
using impair::instant;

std::atomic<bool> counters_requested{false};
extern "C" void on_impair_usr1(int) { counters_requested.store(true); }

[[noreturn]] void bad_value(const std::string& option, const std::string& value, const std::string& want) {
  throw CLI::ValidationError(option, "'" + value + "' is not " + want);
}

double parse_number(const std::string& option, const std::string& text, const std::string& want) {
  try {
    std::size_t used = 0;
    double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) bad_value(option, text, want);
    return v;
  } catch (const std::logic_error&) {
    bad_value(option, text, want);
  }
}

// "2%" or "2" -> 0.02.
double parse_percent(const std::string& option, std::string text) {
  const char* want = "a percentage 0-100 (e.g. 2% or 2)";
  if (!text.empty() && text.back() == '%') text.pop_back();
  double v = parse_number(option, text, want);
  if (v < 0 || v > 100) bad_value(option, text, want);
  return v / 100.0;
}

duration parse_ms(const std::string& option, const std::string& text) {
  std::string t = text;
  if (t.size() > 2 && t.substr(t.size() - 2) == "ms") t.resize(t.size() - 2);
  double v = parse_number(option, t, "a time in milliseconds (e.g. 10 or 0.5)");
  if (v < 0 || v > 3'600'000) bad_value(option, text, "a time in milliseconds between 0 and 3600000");
  return duration(static_cast<std::int64_t>(std::llround(v * 1e6)));
}

// MBIT as a number of Mbit/s, or with a unit: 500kbit, 10mbit, 1gbit.
double parse_rate(const std::string& option, const std::string& text) {
  std::string t = text;
  for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 1e6;
  auto strip = [&](const char* suffix, double s) {
    std::string suf(suffix);
    if (t.size() > suf.size() && t.substr(t.size() - suf.size()) == suf) {
      t.resize(t.size() - suf.size());
      scale = s;
      return true;
    }
    return false;
  };
  strip("kbit", 1e3) || strip("mbit", 1e6) || strip("gbit", 1e9);
  double v = parse_number(option, t, "a rate in Mbit/s (e.g. 10, 0.5, 500kbit, 1gbit)");
  if (v <= 0) bad_value(option, text, "a positive rate");
  return v * scale;
}

struct impair_options {
  std::string iface_a, iface_b;
  std::array<impair::direction_config, 2> dir{};  // [0] a2b, [1] b2a
  std::array<bool, 2> target{true, true};         // where the options being parsed go
  std::optional<std::uint64_t> seed;
  bool json = false;
  double spin_us = 100;
};

const char* dir_name(std::size_t d) { return d == 0 ? "a2b" : "b2a"; }

template <class F>
void each_target(impair_options& o, F&& f) {
  for (std::size_t d = 0; d < 2; ++d)
    if (o.target[d]) f(o.dir[d]);
}

std::string describe(const impair::direction_config& c) {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  auto pct = [](double p) { return fmt::format("{:g}%", p * 100); };
  auto ms = [](duration d) { return fmt::format("{:g} ms", static_cast<double>(d.count()) / 1e6); };
  if (c.loss_ge)
    add(fmt::format("loss gemodel p {} r {} bad {} good {}", pct(c.loss_ge->p), pct(c.loss_ge->r),
                    pct(c.loss_ge->loss_bad), pct(c.loss_ge->loss_good)));
  else if (c.loss > 0)
    add("loss " + pct(c.loss));
  if (c.delay.count() > 0 || c.jitter.count() > 0) add("delay " + ms(c.delay) + (c.jitter.count() > 0 ? " +- " + ms(c.jitter) : ""));
  if (c.reorder > 0) add("reorder " + pct(c.reorder));
  if (c.duplicate > 0) add("duplicate " + pct(c.duplicate));
  if (c.corrupt > 0) add("corrupt " + pct(c.corrupt));
  if (c.rate_bps > 0) add(fmt::format("rate {:g} Mbit/s", c.rate_bps / 1e6));
  add(fmt::format("limit {}", c.limit));
  return s;
}

struct side {
  std::string name;
  link::interface_info info;
  std::unique_ptr<link::packet_socket> sock;
  std::uint64_t ring_drops = 0;  // frames the kernel could not put in our receive ring
  std::uint64_t tx_errors = 0;   // frames released but refused by the kernel on the way out
};

// How late frames leave compared with their release time: a histogram of 1 us buckets up to
// 10 ms (the last bucket holds everything later), for the counters' "late_us".
class lateness {
 public:
  void add(duration d) {
    double us = std::chrono::duration<double, std::micro>(d).count();
    std::size_t b = us <= 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(us), buckets_.size() - 1);
    ++buckets_[b];
    ++count_;
    max_ = std::max(max_, us);
  }
  double percentile(double p) const {
    if (count_ == 0) return 0;
    std::uint64_t rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      seen += buckets_[b];
      if (seen >= std::max<std::uint64_t>(rank, 1)) return static_cast<double>(b);
    }
    return static_cast<double>(buckets_.size() - 1);
  }
  double max_us() const { return max_; }

 private:
  std::array<std::uint64_t, 10001> buckets_{};
  std::uint64_t count_ = 0;
  double max_ = 0;
};

instant clock_now() {
  return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
}

class bridge {
 public:
  explicit bridge(const impair_options& o) : o_(o) {
    link::netlink nl;
    sides_[0].name = o.iface_a;
    sides_[1].name = o.iface_b;
    for (auto& s : sides_) s.info = nl.interface_by_name(s.name);
    if (sides_[0].info.index == sides_[1].info.index)
      throw link::setup_error(link::setup_errc::invalid_argument,
                              "IFACE_A and IFACE_B are the same interface ('" + o.iface_a + "'); name two");
    for (std::size_t d = 0; d < 2; ++d) {
      impair::direction_config c = o.dir[d];
      const auto& out = sides_[1 - d].info;
      c.max_frame = std::size_t{out.mtu} + 14;
      if (o.seed) c.seed = *o.seed;
      channels_[d].emplace(c, d);
    }
    for (std::size_t i = 0; i < 2; ++i) {
      link::packet_socket::options so;
      so.ifindex = sides_[i].info.index;
      so.filter = link::rx_filter_mode::all_frames;
      so.promiscuous = true;
      so.qdisc_bypass = false;  // keep tcpdump on the box's interfaces working (bypass skips taps)
      so.tx_keep_going = true;
      // Slots a little larger than the interface's frames; bigger ones (GRO) arrive truncated and
      // are counted as oversize.
      so.rx_frame_size = std::max<std::size_t>(2048, std::bit_ceil(std::size_t{sides_[i].info.mtu} + 18 + 128));
      so.rx_ring_bytes = std::max<std::size_t>(16 << 20, so.rx_frame_size * 1024);
      sides_[i].sock = std::make_unique<link::packet_socket>(so);
    }
    start_ = clock_now();
  }

  int run() {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake-ups within ~us, not the default 50 us
    for (std::size_t d = 0; d < 2; ++d)
      std::fprintf(stderr, "synack impair: %s %s -> %s: %s\n", dir_name(d), sides_[d].name.c_str(),
                   sides_[1 - d].name.c_str(), describe(channels_[d]->config()).c_str());
    std::fprintf(stderr, "synack impair: seed %llu; forwarding %s <-> %s (SIGUSR1: counters, SIGINT/SIGTERM: stop)\n",
                 static_cast<unsigned long long>(channels_[0]->config().seed), sides_[0].name.c_str(),
                 sides_[1].name.c_str());
    std::fflush(stderr);
    const duration spin = duration(static_cast<std::int64_t>(o_.spin_us * 1000));
    while (!stop_requested) {
      bool busy = false;
      for (std::size_t i = 0; i < 2; ++i) busy |= receive(i);
      instant now = clock_now();
      for (std::size_t d = 0; d < 2; ++d) transmit(d, now);
      if (counters_requested.exchange(false)) print_counters(false);
      if (busy) continue;

      std::optional<instant> deadline;
      for (auto& c : channels_)
        if (auto t = c->next_deadline(); t && (!deadline || *t < *deadline)) deadline = t;
      now = clock_now();
      if (deadline && *deadline <= now) continue;
      if (deadline && *deadline - now <= spin) {  // close enough: spin on the rings and the clock
        while (!stop_requested && clock_now() < *deadline && !sides_[0].sock->ready() && !sides_[1].sock->ready()) {
        }
        continue;
      }
      duration wait = deadline ? *deadline - now - spin : std::chrono::milliseconds(500);
      wait = std::min<duration>(wait, std::chrono::milliseconds(500));
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait);
      timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((wait - secs).count())};
      pollfd pfd[2] = {{sides_[0].sock->fd(), POLLIN, 0}, {sides_[1].sock->fd(), POLLIN, 0}};
      int n = ::ppoll(pfd, 2, &ts, nullptr);
      if (n < 0 && errno != EINTR) link::throw_system(errno, "ppoll on the packet sockets failed");
      for (std::size_t i = 0; i < 2; ++i)
        if (n > 0 && (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
          if ((pfd[i].revents & POLLNVAL) != 0)
            throw link::setup_error(link::setup_errc::system, "packet socket on '" + sides_[i].name + "' closed");
          // An asynchronous error (e.g. ENETDOWN while the interface is down): read and clear it.
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(sides_[i].sock->fd(), SOL_SOCKET, SO_ERROR, &err, &len);
        }
    }
    print_counters(true);
    return exit_ok;
  }

 private:
  // Drains one interface's ring into its direction's channel. True if it took any frame.
  bool receive(std::size_t i) {
    impair::channel& ch = *channels_[i];
    instant now = clock_now();
    // A frame's arrival is when the kernel received it (the ring's CLOCK_REALTIME stamp, moved to
    // the monotonic clock), not when this loop got round to it: a late wake-up does not add delay.
    const duration offset = std::chrono::system_clock::now().time_since_epoch() - now.time_since_epoch();
    std::size_t n = sides_[i].sock->drain(
        [&](const link::rx_frame& f) {
          instant at = instant(f.kernel_timestamp - offset);
          if (f.kernel_timestamp.count() == 0 || at > now || now - at > std::chrono::milliseconds(100)) at = now;
          impair::frame_meta meta;
          meta.checksum_partial = f.checksum_unverified;
          meta.truncated = f.truncated;
          meta.original_length = f.original_length;
          if (f.vlan_valid) {
            meta.vlan_tci = f.vlan_tci;
            meta.vlan_tpid = f.vlan_tpid;
          }
          ch.submit(at, f.data, meta);
        },
        256);
    return n > 0;
  }

  // Sends what direction d releases at now out of the other interface, in batches.
  void transmit(std::size_t d, instant now) {
    side& out = sides_[1 - d];
    auto flush = [&] {
      std::size_t queued = out.sock->queued(), sent = 0;
      if (queued == 0) return;
      out.sock->flush(&sent);
      out.tx_errors += queued - sent;
    };
    channels_[d]->release_due(now, [&](std::span<const std::byte> frame, instant due) {
      late_[d].add(now - due);
      if (out.sock->queued() == 64) flush();
      out.sock->queue(frame);
    });
    flush();
  }

  nlohmann::json direction_json(std::size_t d) {
    const impair::counters& c = channels_[d]->stats();
    return {{"from", sides_[d].name},
            {"to", sides_[1 - d].name},
            {"received", c.received},
            {"forwarded", c.forwarded - sides_[1 - d].tx_errors},
            {"dropped", c.dropped},
            {"duplicated", c.duplicated},
            {"reordered", c.reordered},
            {"corrupted", c.corrupted},
            {"queue_drops", c.queue_drops},
            {"oversize", c.oversize},
            {"runts", c.runts},
            {"ring_drops", sides_[d].ring_drops},
            {"tx_errors", sides_[1 - d].tx_errors},
            {"checksums_completed", c.checksums_completed},
            {"held", channels_[d]->held()},
            {"late_us", {{"p50", late_[d].percentile(0.5)}, {"p99", late_[d].percentile(0.99)}, {"max", late_[d].max_us()}}}};
  }

  void print_counters(bool final) {
    for (auto& s : sides_) s.ring_drops += s.sock->stats().dropped;
    double elapsed = std::chrono::duration<double>(clock_now() - start_).count();
    if (o_.json) {
      nlohmann::json j{{"type", "counters"}, {"final", final}, {"elapsed_s", elapsed},
                       {"seed", channels_[0]->config().seed}, {"a2b", direction_json(0)}, {"b2a", direction_json(1)}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s after %.3f s:\n", final ? "final counters" : "counters", elapsed);
      for (std::size_t d = 0; d < 2; ++d) {
        auto j = direction_json(d);
        std::printf(
            "  %s %s -> %s: received %llu, forwarded %llu, dropped %llu, duplicated %llu, reordered %llu, "
            "corrupted %llu, queue drops %llu, oversize %llu, runts %llu, ring drops %llu, tx errors %llu\n",
            dir_name(d), sides_[d].name.c_str(), sides_[1 - d].name.c_str(),
            static_cast<unsigned long long>(j["received"]), static_cast<unsigned long long>(j["forwarded"]),
            static_cast<unsigned long long>(j["dropped"]), static_cast<unsigned long long>(j["duplicated"]),
            static_cast<unsigned long long>(j["reordered"]), static_cast<unsigned long long>(j["corrupted"]),
            static_cast<unsigned long long>(j["queue_drops"]), static_cast<unsigned long long>(j["oversize"]),
            static_cast<unsigned long long>(j["runts"]), static_cast<unsigned long long>(j["ring_drops"]),
            static_cast<unsigned long long>(j["tx_errors"]));
      }
    }
    std::fflush(stdout);
  }

  const impair_options& o_;
  std::array<side, 2> sides_;
  std::array<std::optional<impair::channel>, 2> channels_;
  std::array<lateness, 2> late_;
  instant start_{};
};

std::uint64_t random_seed() {
  std::uint64_t s = 0;
  if (::getrandom(&s, sizeof s, 0) != sizeof s)
    s = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return s % 1'000'000'000;  // short enough to retype
}

}  // namespace

void add_impair_command(CLI::App& app, std::function<int()>& action) {
  auto o = std::make_shared<impair_options>();
  CLI::App* cmd = app.add_subcommand(
      "impair", "A transparent L2 bridge between two interfaces that adds loss, delay, jitter, reordering, "
                "duplication, corruption and a rate limit (a user-space netem)");
  cmd->add_option("IFACE_A", o->iface_a, "One interface (frames from it go a2b)")->required();
  cmd->add_option("IFACE_B", o->iface_b, "The other interface (frames from it go b2a)")->required();

  // Options apply to the directions named by the last --dir before them (both before any --dir):
  // each is handled as it is parsed (trigger_on_parse), in command-line order.
  auto per_dir = [&](const std::string& name, const std::string& help, auto setter) {
    cmd->add_option_function<std::string>(
           name, [o, name, setter](const std::string& v) { each_target(*o, [&](impair::direction_config& c) { setter(c, name, v); }); },
           help)
        ->trigger_on_parse()
        ->type_name("VALUE");
  };
  cmd->add_option_function<std::string>(
         "--dir",
         [o](const std::string& v) {
           if (v == "a2b") o->target = {true, false};
           else if (v == "b2a") o->target = {false, true};
           else if (v == "both") o->target = {true, true};
           else bad_value("--dir", v, "a2b, b2a or both");
         },
         "Direction the following options apply to: a2b (IFACE_A to IFACE_B), b2a or both; repeatable")
      ->trigger_on_parse()
      ->type_name("a2b|b2a|both");
  per_dir("--loss", "Lose each frame with probability P (2% or 2)",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.loss = parse_percent(n, v); });
  per_dir("--loss-ge",
          "Bursty (Gilbert-Elliott) loss P,R[,BAD[,GOOD]] in %: P good->bad, R bad->good per frame, loss in the "
          "bad (default 100%) and good (default 0%) state",
          [](impair::direction_config& c, const std::string& n, const std::string& v) {
            std::vector<double> parts;
            std::size_t start = 0;
            while (start <= v.size()) {
              std::size_t comma = v.find(',', start);
              if (comma == std::string::npos) comma = v.size();
              parts.push_back(parse_percent(n, v.substr(start, comma - start)));
              start = comma + 1;
            }
            if (parts.size() < 2 || parts.size() > 4) bad_value(n, v, "P,R[,BAD[,GOOD]] (percentages)");
            impair::gilbert_elliott ge;
            ge.p = parts[0];
            ge.r = parts[1];
            if (parts.size() > 2) ge.loss_bad = parts[2];
            if (parts.size() > 3) ge.loss_good = parts[3];
            c.loss_ge = ge;
          });
  per_dir("--delay", "Delay every frame by MS milliseconds",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.delay = parse_ms(n, v); });
  per_dir("--jitter", "Add uniform jitter of +-MS milliseconds to the delay (order is kept unless --reorder)",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.jitter = parse_ms(n, v); });
  per_dir("--reorder", "Send a share P of the frames at once, skipping the delay (so they overtake)",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.reorder = parse_percent(n, v); });
  per_dir("--duplicate", "Send a share P of the frames twice",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.duplicate = parse_percent(n, v); });
  per_dir("--corrupt", "Flip one random bit (past the Ethernet header) in a share P of the frames",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.corrupt = parse_percent(n, v); });
  per_dir("--rate", "Serialize at MBIT Mbit/s (or 500kbit, 1gbit) behind a queue of --limit frames",
          [](impair::direction_config& c, const std::string& n, const std::string& v) { c.rate_bps = parse_rate(n, v); });
  per_dir("--limit", "Frames held at once per direction (rate queue + delay line), tail drop beyond; default 1000",
          [](impair::direction_config& c, const std::string& n, const std::string& v) {
            double x = parse_number(n, v, "a frame count 1-1000000");
            if (x < 1 || x > 1'000'000 || x != std::floor(x)) bad_value(n, v, "a frame count 1-1000000");
            c.limit = static_cast<std::size_t>(x);
          });
  cmd->add_option_function<std::uint64_t>(
         "--seed", [o](std::uint64_t s) { o->seed = s; },
         "Seed of the random decisions (default: random, printed at start); the same seed replays the same "
         "decisions for the same frames");
  cmd->add_flag("--json", o->json, "Print the counters as one JSON object per line (on SIGUSR1 and at exit)");
  cmd->add_option("--spin-us", o->spin_us,
                  "Spin instead of sleeping for the last US microseconds before a release (timing accuracy; "
                  "default 100, 0 = always sleep)")
      ->check(CLI::Range(0.0, 10000.0));
  cmd->footer(
      "Forwards every frame (ARP included) both ways until SIGINT/SIGTERM, then prints the counters per\n"
      "direction (also on SIGUSR1). Frames larger than the other interface's MTU are counted and dropped:\n"
      "turn GRO off on both interfaces (ethtool -K IF gro off). Needs CAP_NET_RAW and CAP_NET_ADMIN.\n\n"
      "Examples:\n"
      "  synack impair veth-a veth-b --loss 2% --delay 10\n"
      "  synack impair veth-a veth-b --dir a2b --loss 2% --dir b2a --delay 10 --jitter 2\n"
      "  synack impair veth-a veth-b --delay 10 --reorder 10% --duplicate 1% --seed 42 --json\n"
      "  synack impair veth-a veth-b --rate 10 --limit 100\n"
      "  scripts/netns.sh up-impaired demo -- --loss 2% --delay 10   # a whole topology in one line");
  cmd->callback([&action, o] {
    action = [o]() -> int {
      link::require_net_raw_and_admin();
      if (!o->seed) o->seed = random_seed();
      install_signal_handlers();
      struct sigaction sa {};
      sa.sa_handler = on_impair_usr1;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;
      sigaction(SIGUSR1, &sa, nullptr);
      bridge b(*o);
      return b.run();
    };
  });
}

}  // namespace synack::tools
