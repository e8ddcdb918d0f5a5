// accept_server: a small, fast kernel TCP server for bench/run.sh, one thread, epoll.
//
//   accept_server --listen IP --port P [--port P2 ...] --mode close|hold
//                 [--backlog N] [--count-file FILE]
//
// close: accept every connection and close it at once (a full handshake + close for every client
//        connection; a python listener is too slow to be the peer of a rate benchmark).
// hold:  accept nothing: every connection stays ESTABLISHED in the accept queue (a full kernel
//        socket without a file descriptor) until the process ends: the peer of the idle connection
//        memory benchmark. (Accepting would need 100,000 descriptors, and without CAP_SYS_RESOURCE
//        the hard RLIMIT_NOFILE may be far lower.) --count-file gets the number queued (the
//        listeners' accept queue lengths, TCP_INFO), rewritten atomically when it changed, at most
//        every 20 ms. Give each port a --backlog above the connections it is to hold.
// Runs until SIGINT/SIGTERM. Raises its own RLIMIT_NOFILE as far as the kernel allows.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "accept_server: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(2);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: accept_server --listen IP --port P [--port P2 ...] --mode close|hold [--backlog N] "
               "[--count-file FILE]\n");
  std::exit(2);
}

void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = 1 << 20;
  if (std::ifstream f("/proc/sys/fs/nr_open"); f) {
    unsigned long n = 0;
    if (f >> n) want = n;
  }
  rl.rlim_cur = rl.rlim_max = want;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void write_count(const std::string& file, unsigned long n) {
  std::string tmp = file + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%lu\n", n);
    std::fclose(f);
    std::rename(tmp.c_str(), file.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_ip, mode, count_file;
  std::vector<int> ports;
  int backlog = 65535;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--listen") listen_ip = value();
    else if (a == "--port") ports.push_back(std::atoi(value().c_str()));
    else if (a == "--mode") mode = value();
    else if (a == "--backlog") backlog = std::atoi(value().c_str());
    else if (a == "--count-file") count_file = value();
    else usage();
  }
  if (listen_ip.empty() || ports.empty() || (mode != "close" && mode != "hold")) usage();
  const bool hold = mode == "hold";
  raise_fd_limit();
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  std::vector<int> listeners;
  for (int port : ports) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    int one = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, listen_ip.c_str(), &sa.sin_addr) != 1) usage();
    if (::bind(s, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) die("bind " + listen_ip + ":" + std::to_string(port));
    if (::listen(s, backlog) != 0) die("listen");
    listeners.push_back(s);
    if (hold) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = s;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) != 0) die("epoll_ctl");
  }
  std::fprintf(stderr, "accept_server: listening on %s, %zu port(s), mode %s\n", listen_ip.c_str(), ports.size(),
               mode.c_str());

  unsigned long accepted = 0, written = ~0UL;
  auto last_write = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  if (!count_file.empty()) {
    write_count(count_file, 0);
    written = 0;
  }
  epoll_event events[16];
  while (!stop) {
    if (hold) {
      // For a listener, TCP_INFO's tcpi_unacked is its accept queue length (sk_ack_backlog).
      ::usleep(20000);
      unsigned long queued = 0;
      for (int l : listeners) {
        tcp_info ti{};
        socklen_t len = sizeof ti;
        if (::getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) queued += ti.tcpi_unacked;
      }
      accepted = queued;
      if (!count_file.empty() && accepted != written) {
        write_count(count_file, accepted);
        written = accepted;
      }
      continue;
    }
    int n = ::epoll_wait(ep, events, 16, count_file.empty() ? 500 : 20);
    for (int i = 0; i < n; ++i) {
      int ls = events[i].data.fd;
      while (true) {
        int c = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) break;  // EAGAIN (drained), or an aborted connection
        ++accepted;
        ::close(c);
      }
    }
    if (!count_file.empty() && accepted != written) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_write >= std::chrono::milliseconds(20)) {
        write_count(count_file, accepted);
        written = accepted;
        last_write = now;
      }
    }
  }
  std::fprintf(stderr, "accept_server: %lu connections %s\n", accepted, hold ? "queued" : "accepted");
  return 0;
}
