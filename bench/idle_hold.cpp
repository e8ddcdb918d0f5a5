// idle_hold: opens N TCP connections, keeps them idle in ESTABLISHED, and prints what holding them
// costs in memory, as one JSON line. The idle connection memory row of bench/run.sh.
//
//   idle_hold --engine synack|kernel --count N --dst IP --dst-port P [--dst-port P2 ...]
//             --source IP [--source IP2 ...] [--ports LO-HI] [--concurrency C]
//             [--server-count-file FILE] [--timeout SECONDS]
//
// synack: one engine per source address (an engine gives every connection its own local port, so
//         one address holds at most ~64k connections: 100,000 need two), ports from --ports.
// kernel: non-blocking connect() through the kernel, bound to the source addresses with
//         IP_BIND_ADDRESS_NO_PORT (the kernel then picks the port per 4-tuple), spread over
//         forked workers that each stay under the open-file limit; RSS is the workers' growth.
// Connection i uses source i % S and destination port (i / S) % P. At most C handshakes are in
// flight at once (default 64). Once all are established and the server says (--server-count-file, written by
// bench/accept_server --mode hold) it has accepted them all, it reads:
//   - its own resident set (VmRSS) before the first connect and now,
//   - /proc/meminfo Slab (the kernel's slab, machine-wide) before and now, and a few slab caches
//     that hold a kernel socket (TCP, sock_inode_cache, filp, dentry) from /proc/slabinfo.
// The script subtracts the two runs' slab growth (the server's sockets are in both) to get the
// kernel's per-socket memory on the client side. Then every connection is aborted (RST) and the
// program exits. Exit status 0 when all N were established, 1 otherwise (the JSON still prints).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "synack/engine/engine.hpp"
#include "synack/link/error.hpp"
#include "synack/link/ports.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct options {
  std::string engine;
  unsigned long count = 0;
  synack::wire::ipv4_addr dst{};
  std::vector<std::uint16_t> dst_ports;
  std::vector<synack::wire::ipv4_addr> sources;
  std::optional<synack::link::port_range> ports;
  unsigned concurrency = 64;
  std::string server_count_file;
  double timeout_s = 120;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "idle_hold: %s\nusage: idle_hold --engine synack|kernel --count N --dst IP --dst-port P [...] "
               "--source IP [...] [--ports LO-HI] [--concurrency C] [--server-count-file F] [--timeout S]\n",
               why.c_str());
  std::exit(2);
}

synack::wire::ipv4_addr parse_ip(const std::string& s) {
  auto a = synack::wire::ipv4_addr::parse(s);
  if (!a) usage("not an IPv4 address: " + s);
  return *a;
}

// Bytes, from a "Key:   123 kB" line of a /proc file.
long long proc_kb(const char* file, const std::string& key) {
  std::ifstream f(file);
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, key.size() + 1, key + ":") == 0) return std::atoll(line.c_str() + key.size() + 1) * 1024;
  return -1;
}
long long rss_bytes() { return proc_kb("/proc/self/status", "VmRSS"); }
long long slab_bytes() { return proc_kb("/proc/meminfo", "Slab"); }

// active_objs x objsize of the slab caches a kernel socket lives in.
std::map<std::string, long long> slab_caches() {
  static const char* names[] = {"TCP", "sock_inode_cache", "filp", "dentry"};
  std::map<std::string, long long> out;
  for (auto* n : names) out[n] = 0;
  std::ifstream f("/proc/slabinfo");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string name;
    long long active = 0, total = 0, size = 0;
    if (!(in >> name >> active >> total >> size)) continue;
    if (out.count(name)) out[name] = active * size;
  }
  return out;
}

unsigned long read_count_file(const std::string& f) {
  std::ifstream in(f);
  unsigned long n = 0;
  in >> n;
  return n;
}

struct result {
  unsigned long established = 0, failed = 0;
  std::map<std::string, unsigned long> errors;
  long long rss_before = 0, rss_after = 0, slab_before = 0, slab_after = 0;
  std::map<std::string, long long> caches_before, caches_after;
  unsigned long server_accepted = 0;
  double connect_s = 0;
};

// Waits (bounded) until the server has accepted `n` connections, calling `pump` meanwhile.
template <typename Pump>
unsigned long wait_server(const options& o, unsigned long n, steady::time_point deadline, Pump pump) {
  if (o.server_count_file.empty()) return 0;
  unsigned long got = 0;
  while ((got = read_count_file(o.server_count_file)) < n && steady::now() < deadline) pump(10ms);
  return got;
}

void measure_after(const options& o, result& r, steady::time_point deadline, auto pump) {
  r.server_accepted = wait_server(o, r.established, deadline, pump);
  pump(200ms);  // let the last ACKs and any window updates pass
  r.rss_after = rss_bytes();
  r.slab_after = slab_bytes();
  r.caches_after = slab_caches();
}

result run_synack(const options& o) {
  result r;
  std::vector<std::unique_ptr<synack::engine::engine>> engines;
  // Handshakes in flight (at most --concurrency: a small set, empty once all are established).
  std::unordered_set<synack::wire::four_tuple, synack::wire::four_tuple_hash> pending;
  for (auto src : o.sources) {
    synack::engine::options eo;
    eo.source = src;
    eo.ports = o.ports;
    engines.push_back(std::make_unique<synack::engine::engine>(eo, o.dst));
    engines.back()->on_event([&](const synack::wire::four_tuple& t, const synack::tcp::event& ev) {
      using k = synack::tcp::event::kind;
      if (ev.what == k::connected) {
        if (pending.erase(t)) ++r.established;
      } else if (ev.what == k::error) {
        ++r.errors[ev.ec.message()];
        if (pending.erase(t)) ++r.failed;
        else --r.established;  // an established connection failed
      }
    });
  }
  std::vector<pollfd> fds;
  for (auto& e : engines) fds.push_back(pollfd{e->fd(), POLLIN, 0});
  auto pump = [&](std::chrono::milliseconds wait) {
    auto until = steady::now() + wait;
    do {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()).count();
      ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(left, 0, 10)));
      for (auto& e : engines) e->process(synack::engine::engine::now());
    } while (steady::now() < until);
  };

  r.rss_before = rss_bytes();
  r.slab_before = slab_bytes();
  r.caches_before = slab_caches();
  auto t0 = steady::now();
  auto deadline = t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.timeout_s));
  unsigned long started = 0;
  const std::size_t S = engines.size(), P = o.dst_ports.size();
  while (r.established + r.failed < o.count && steady::now() < deadline) {
    while (started < o.count && pending.size() < o.concurrency) {
      auto& e = *engines[started % S];
      try {
        pending.insert(e.connect(o.dst, o.dst_ports[(started / S) % P]));
      } catch (const std::runtime_error& ex) {
        std::fprintf(stderr, "idle_hold: connect #%lu: %s\n", started, ex.what());
        ++r.failed;
        ++r.errors["no_local_port"];
        ++started;
        continue;
      }
      ++started;
    }
    ::poll(fds.data(), fds.size(), pending.size() >= o.concurrency || started >= o.count ? 5 : 0);
    for (auto& e : engines) e->process(synack::engine::engine::now());
  }
  r.connect_s = std::chrono::duration<double>(steady::now() - t0).count();
  measure_after(o, r, deadline + 30s, pump);
  // Tear down with RSTs so the server is not left holding half-dead sockets.
  for (auto& e : engines) {
    std::vector<synack::wire::four_tuple> all;
    e->for_each_connection([&](const synack::tcp::connection& c) { all.push_back(c.tuple()); });
    for (auto& t : all) e->abort(t);
    e->process(synack::engine::engine::now());
  }
  return r;
}

// One worker's share of the kernel run: connections [first, last) of the whole numbering.
struct kernel_slice {
  unsigned long established = 0, failed = 0;
  long long rss_before = 0, rss_after = 0;
};

kernel_slice kernel_worker(const options& o, unsigned long first, unsigned long last, std::vector<int>& fds,
                           std::map<std::string, unsigned long>& errors) {
  kernel_slice r;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) usage("epoll_create1 failed");
  fds.reserve(last - first);  // the program's own bookkeeping is not the socket's cost
  std::vector<epoll_event> events(256);
  r.rss_before = rss_bytes();
  auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.timeout_s));
  unsigned long next = first, in_flight = 0;
  const std::size_t S = o.sources.size(), P = o.dst_ports.size();
  auto fail = [&](int fd, int err) {
    ++r.failed;
    ++errors[std::strerror(err)];
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd);
  };
  while (r.established + r.failed < last - first && steady::now() < deadline) {
    while (next < last && in_flight < o.concurrency) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ++r.failed;
        ++errors[std::strerror(errno)];
        ++next;
        continue;
      }
      const unsigned long i = next++;
      int one = 1;
      ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(o.sources[i % S].value);
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_addr.s_addr = htonl(o.dst.value);
      dst.sin_port = htons(o.dst_ports[(i / S) % P]);
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
        fail(fd, errno);
        continue;
      }
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
        fail(fd, errno);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      ++in_flight;
    }
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 5);
    for (int k = 0; k < n; ++k) {
      int fd = events[k].data.fd;
      ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      --in_flight;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(fd, err);
        continue;
      }
      ++r.established;
      fds.push_back(fd);
    }
  }
  ::close(ep);
  r.rss_after = rss_bytes();
  return r;
}

// The kernel's sockets need a descriptor each, and the hard RLIMIT_NOFILE cannot be raised without
// CAP_SYS_RESOURCE: the connections are split over forked workers that each stay under the limit.
// Each reports its established count and RSS growth through a pipe, then holds its sockets until
// the parent (which reads the machine-wide slab before and after) closes the "go" pipe.
result run_kernel(const options& o) {
  result r;
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  const unsigned long per = rl.rlim_cur > 1256 ? static_cast<unsigned long>(rl.rlim_cur) - 256 : 1000;
  const unsigned long workers = (o.count + per - 1) / per;
  r.slab_before = slab_bytes();
  r.caches_before = slab_caches();
  auto t0 = steady::now();
  struct child {
    pid_t pid;
    int report, go;
  };
  std::vector<child> children;
  for (unsigned long w = 0; w < workers; ++w) {
    int rep[2], go[2];
    if (::pipe(rep) != 0 || ::pipe(go) != 0) usage("pipe failed");
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) usage("fork failed");
    if (pid == 0) {
      ::close(rep[0]);
      ::close(go[1]);
      std::vector<int> fds;
      std::map<std::string, unsigned long> errors;
      auto s = kernel_worker(o, o.count * w / workers, o.count * (w + 1) / workers, fds, errors);
      std::string msg = std::to_string(s.established) + " " + std::to_string(s.failed) + " " +
                        std::to_string(s.rss_before) + " " + std::to_string(s.rss_after);
      for (auto& [k, v] : errors) {
        std::string key = k;
        std::replace(key.begin(), key.end(), ' ', '_');
        msg += " " + key + "=" + std::to_string(v);
      }
      msg += "\n";
      if (::write(rep[1], msg.data(), msg.size()) < 0) ::_exit(3);
      char c;
      while (::read(go[0], &c, 1) > 0) {
      }
      for (int fd : fds) {
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::close(fd);
      }
      ::_exit(0);
    }
    ::close(rep[1]);
    ::close(go[0]);
    children.push_back({pid, rep[0], go[1]});
  }
  for (auto& c : children) {
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(c.report, buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
      if (!text.empty() && text.back() == '\n') break;
    }
    std::istringstream in(text);
    unsigned long est = 0, failed = 0;
    long long before = 0, after = 0;
    in >> est >> failed >> before >> after;
    r.established += est;
    r.failed += failed;
    r.rss_before += before;
    r.rss_after += after;
    std::string kv;
    while (in >> kv) {
      auto eq = kv.find('=');
      if (eq != std::string::npos) r.errors[kv.substr(0, eq)] += std::stoul(kv.substr(eq + 1));
    }
  }
  r.connect_s = std::chrono::duration<double>(steady::now() - t0).count();
  auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(o.timeout_s));
  r.server_accepted = wait_server(o, r.established, deadline, [](std::chrono::milliseconds d) {
    ::usleep(static_cast<useconds_t>(d.count() * 1000));
  });
  ::usleep(200000);
  r.slab_after = slab_bytes();
  r.caches_after = slab_caches();
  for (auto& c : children) ::close(c.go);
  for (auto& c : children) {
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    ::close(c.report);
  }
  return r;
}

template <class V>
std::string json_map(const std::map<std::string, V>& m) {
  // Appended piece by piece: g++ 12 at -O3 reports a false -Werror=restrict in an inlined
  // operator+(const char*, std::string&&) (GCC bug 105329).
  std::string s = "{";
  for (auto& [k, v] : m) {
    if (s.size() > 1) s.append(",");
    s.append("\"").append(k).append("\":").append(std::to_string(v));
  }
  return s.append("}");
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--engine") o.engine = value();
    else if (a == "--count") o.count = std::strtoul(value().c_str(), nullptr, 10);
    else if (a == "--dst") o.dst = parse_ip(value());
    else if (a == "--dst-port") o.dst_ports.push_back(static_cast<std::uint16_t>(std::atoi(value().c_str())));
    else if (a == "--source") o.sources.push_back(parse_ip(value()));
    else if (a == "--ports") o.ports = synack::link::parse_port_range(value());
    else if (a == "--concurrency") o.concurrency = static_cast<unsigned>(std::atoi(value().c_str()));
    else if (a == "--server-count-file") o.server_count_file = value();
    else if (a == "--timeout") o.timeout_s = std::atof(value().c_str());
    else if (a == "-h" || a == "--help") usage("holds N idle connections and prints their memory cost");
    else usage("unknown argument " + a);
  }
  if ((o.engine != "synack" && o.engine != "kernel") || o.count == 0 || o.dst_ports.empty() || o.sources.empty() ||
      o.concurrency == 0)
    usage("missing or bad arguments");

  result r;
  try {
    r = o.engine == "synack" ? run_synack(o) : run_kernel(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "idle_hold: %s\n", e.what());
    return 2;
  }
  std::string errors = json_map(r.errors);
  std::printf(
      "{\"engine\":\"%s\",\"connections\":%lu,\"established\":%lu,\"failed\":%lu,\"server_accepted\":%lu,"
      "\"connect_s\":%.3f,\"rss_before\":%lld,\"rss_after\":%lld,\"slab_before\":%lld,\"slab_after\":%lld,"
      "\"caches_before\":%s,\"caches_after\":%s,\"errors\":%s}\n",
      o.engine.c_str(), o.count, r.established, r.failed, r.server_accepted, r.connect_s, r.rss_before, r.rss_after,
      r.slab_before, r.slab_after, json_map(r.caches_before).c_str(), json_map(r.caches_after).c_str(),
      errors.c_str());
  return r.established == o.count ? 0 : 1;
}
