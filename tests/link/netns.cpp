#include "link/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <stdexcept>
#include <tuple>

namespace synack::link::test {

command_result run_command(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  command_result result;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  if (pid < 0) return result;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

void must_run(const std::vector<std::string>& argv) {
  auto r = run_command(argv);
  if (r.status != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    throw std::runtime_error("command failed: " + cmd + ": " + r.out);
  }
}

boost::test_tools::assertion_result root_available(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result ok(::geteuid() == 0 && run_command({"ip", "-V"}).status == 0);
  if (!ok) ok.message() << "skipped: needs root and iproute2 (network namespaces)";
  return ok;
}

enter_netns::enter_netns(const std::string& name) {
  saved_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
  if (saved_ < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    if (target >= 0) ::close(target);
    if (saved_ >= 0) ::close(saved_);
    throw std::runtime_error("cannot enter netns " + name + ": " + std::strerror(err));
  }
  ::close(target);
}

enter_netns::~enter_netns() {
  if (::setns(saved_, CLONE_NEWNET) != 0) std::abort();  // never continue in the wrong namespace
  ::close(saved_);
}

namespace {

// Namespaces named by a test process that no longer exists (killed before its destructors ran).
void remove_leftovers() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = entry.path().filename();
    int pid = 0;
    if (std::sscanf(name.c_str(), "snk-lt-%d-", &pid) != 1 || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) run_command({"ip", "netns", "del", name});
  }
}

}  // namespace

veth_pair::veth_pair() {
  static std::atomic<int> counter{0};
  remove_leftovers();
  std::string base = "snk-lt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  a = base + "-a";
  b = base + "-b";
  try {
    must_run({"ip", "netns", "add", a});
    must_run({"ip", "netns", "add", b});
    // Created directly inside the namespaces: the names never exist on the host.
    must_run({"ip", "link", "add", if_a, "netns", a, "address", mac_a.to_string(), "type", "veth", "peer", "name",
              if_b, "netns", b, "address", mac_b.to_string()});
    for (auto [ns, dev, addr] : {std::tuple{a, if_a, addr_a}, std::tuple{b, if_b, addr_b}}) {
      must_run({"ip", "-n", ns, "addr", "add", addr.to_string() + "/24", "dev", dev});
      must_run({"ip", "-n", ns, "link", "set", dev, "up"});
      must_run({"ip", "-n", ns, "link", "set", "lo", "up"});
    }
  } catch (...) {
    run_command({"ip", "netns", "del", a});
    run_command({"ip", "netns", "del", b});
    throw;
  }
}

void veth_pair::add_ipv6() const {
  must_run({"ip", "-n", a, "-6", "addr", "add", addr6_a.to_string() + "/64", "dev", if_a, "nodad"});
  must_run({"ip", "-n", b, "-6", "addr", "add", addr6_b.to_string() + "/64", "dev", if_b, "nodad"});
}

veth_pair::~veth_pair() {
  run_command({"ip", "netns", "del", a});  // deleting a namespace also destroys its veth end
  run_command({"ip", "netns", "del", b});
}

}  // namespace synack::link::test
