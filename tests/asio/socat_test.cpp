// Against socat (a peer nobody here wrote): a 10 MiB upload through an echo peer comes back
// identical, with our half-close: we shutdown(send) after the last byte and still read everything
// the peer sends until its FIN.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "asio/fixture.hpp"

namespace synack::asio::test {

namespace {

// A program run in the background inside a namespace (`ip netns exec` execs it in place, so the
// pid is the program's); SIGTERM and reaped on destruction.
class background {
public:
  explicit background(std::vector<std::string> argv) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~background() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  background(const background&) = delete;
  background& operator=(const background&) = delete;

private:
  pid_t pid_ = -1;
};

bool have_socat() { return link::test::run_command({"socat", "-V"}).status == 0; }

}  // namespace

BOOST_AUTO_TEST_SUITE(socat_peer, *boost::unit_test::precondition(link::test::root_available))

BOOST_AUTO_TEST_CASE(upload_through_echo_comes_back_identical_with_half_close) {
  if (!have_socat()) {
    BOOST_TEST_MESSAGE("skipped: socat not installed (scripts/setup-deps.sh)");
    return;
  }
  world w;
  const std::string port = "7777";
  // -b 4096: socat's PIPE echo writes into a pipe it reads itself; with its default 8 KiB blocks
  // a write into a pipe with less room blocks the only process that could empty it (a deadlock
  // seen here with both windows closed). A pipe that selects writable has PIPE_BUF (4 KiB) free.
  background socat({"ip", "netns", "exec", w.pair.b, "socat", "-b", "4096", "-t", "10",
                    "TCP-LISTEN:" + port + ",bind=10.200.0.2,reuseaddr", "PIPE"});
  std::optional<background> capture;
  if (const char* pcap = std::getenv("SYNACK_TEST_PCAP"))
    capture.emplace(std::vector<std::string>{"ip", "netns", "exec", w.pair.b, "tcpdump", "-Z", "root", "-i", "snk1",
                                             "-s", "128", "-w", pcap, "tcp"});
  bool listening = false;
  for (int i = 0; i < 300 && !listening; ++i) {
    auto r = link::test::run_command({"ip", "netns", "exec", w.pair.b, "ss", "-Hltn", "sport = :" + port});
    listening = r.status == 0 && !r.out.empty();
    if (!listening) std::this_thread::sleep_for(10ms);
  }
  BOOST_REQUIRE_MESSAGE(listening, "socat did not start listening");

  std::string sent(10 * 1024 * 1024, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : sent) c = static_cast<char>(rng());
  std::string got;
  synack::asio::socket s(*w.stack);
  error_code wec, rec, shut;
  call_count wrote, read;
  auto t0 = std::chrono::steady_clock::now();
  s.async_connect({peer_addr, 7777}, [&](error_code ec) {
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    net::async_read(s, net::dynamic_buffer(got), [&](error_code e, std::size_t) {
      rec = e;
      ++read.calls;
    });
    net::async_write(s, net::buffer(sent), [&](error_code e, std::size_t n) {
      wec = e;
      BOOST_TEST(n == sent.size());
      s.shutdown(net::socket_base::shutdown_send, shut);  // half-close: socat sees eof, echoes the rest
      ++wrote.calls;
    });
  });
  w.run_until([&] { return read.calls == 1; }, 60s);
  if (read.calls == 0 && s.tuple()) {
    if (tcp::connection* c = w.stack->engine().find(*s.tuple())) {
      const auto& t = c->tcb();
      auto cg = c->congestion();
      BOOST_TEST_MESSAGE("stalled: state " << tcp::to_string(c->current_state()) << " available " << c->available()
                         << " send_space " << c->send_space() << " snd_una " << t.snd_una.value() << " snd_nxt "
                         << t.snd_nxt.value() << " snd_wnd " << t.snd_wnd << " rcv_nxt " << t.rcv_nxt.value()
                         << " rcv_wnd " << t.rcv_wnd << " cwnd " << cg.cwnd << " in_flight " << cg.in_flight
                         << " deadline " << (c->next_deadline() ? 1 : 0) << " got " << got.size()
                         << " send_errors " << w.stack->engine().stats().send_errors << " frames_sent "
                         << w.stack->engine().stats().frames_sent);
    }
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("10 MiB echoed through socat in " << secs << " s");
  BOOST_TEST(wrote.calls == 1);
  BOOST_TEST(!wec);
  BOOST_TEST(!shut);
  BOOST_TEST((rec == net::error::eof), rec.message());
  BOOST_TEST(got.size() == sent.size());
  BOOST_TEST((got == sent));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace synack::asio::test
