#include "synack/link/rst_guard.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "detail.hpp"
#include "synack/link/error.hpp"

namespace synack::link {

namespace {

constexpr const char* tag = "synack pid=";

struct run_result {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;
  std::string err;
};

// PATH, then the sbin directories a non-login root shell may lack.
std::string find_program(const std::string& name) {
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/sbin:/usr/local/sbin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

std::string need_program(const std::string& name) {
  std::string path = find_program(name);
  if (path.empty())
    throw setup_error(setup_errc::iptables_missing,
                      name + " not found (apt-get install iptables, or pass --no-rst-guard, or run with "
                             "--own-address ADDR: synack as a host of its own on the link needs no firewall rule)");
  return path;
}

// fork + execv with stdout and stderr captured; no shell, so no quoting problems.
run_result run(const std::string& path, const std::vector<std::string>& args) {
  std::vector<std::string> argv_storage{path};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_system(errno, "pipe");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw_system(errno, "pipe");
  }
  // posix_spawn, not fork: glibc spawns with CLONE_VM|CLONE_VFORK, so the child costs no copy of
  // our address space. fork() of a server holding thousands of connections (each with its
  // buffers' address space reserved) failed with ENOMEM under the kernel's overcommit heuristic,
  // and the RST rule stayed behind at exit.
  pid_t pid = -1;
  int fork_errno = 0;
  {
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    fork_errno = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (fork_errno != 0) pid = -1;
  }
  ::close(out[1]);
  ::close(err[1]);
  run_result result;
  if (pid > 0) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    while (open_fds > 0) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[4096];
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  if (pid < 0) throw_system(fork_errno, "posix_spawn " + path);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "no message" : line;
}

std::vector<std::string> iptables_prefix() { return {"-w", "10"}; }

// The command for a family's table: iptables for IPv4, ip6tables for IPv6.
std::string iptables_for(wire::ip_family family) { return family == wire::ip_family::v6 ? "ip6tables" : "iptables"; }

}  // namespace

unsigned long long process_start_time(int pid) {
  if (pid <= 0) return 0;
  auto text = detail::read_text_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return 0;
  // "PID (COMM) STATE ..." where COMM may hold spaces and ')': fields restart after the last ')'.
  auto close_paren = text->rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream fields(text->substr(close_paren + 1));
  std::string field;
  for (int n = 3; n < 22 && fields >> field; ++n) {
  }
  unsigned long long start = 0;
  fields >> start;
  return start;
}

std::string rst_guard::comment_for(int pid, unsigned long long start) {
  return tag + std::to_string(pid) + " start=" + std::to_string(start);
}

std::vector<std::string> rst_guard::delete_args(std::string_view rule) {
  std::vector<std::string> args;
  std::string current;
  bool in_token = false, quoted = false;
  for (std::size_t i = 0; i < rule.size(); ++i) {
    char c = rule[i];
    if (quoted) {
      if (c == '\\' && i + 1 < rule.size()) {
        current += rule[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        current += c;
      }
    } else if (c == '"') {
      quoted = in_token = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_token) args.push_back(std::move(current));
      current.clear();
      in_token = false;
    } else {
      current += c;
      in_token = true;
    }
  }
  if (in_token) args.push_back(std::move(current));
  if (!args.empty() && args.front().starts_with('[')) args.erase(args.begin());  // "-c" counters
  if (!args.empty() && args.front() == "-A") args.front() = "-D";
  return args;
}

std::vector<rule_record> rst_guard::parse_rules(std::string_view text, wire::ip_family family) {
  std::vector<rule_record> records;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto args = delete_args(line);
    if (args.empty() || args.front() != "-D") continue;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] != "--comment" || !args[i + 1].starts_with(tag)) continue;
      int pid = 0;
      unsigned long long start = 0;
      char extra = 0;
      if (std::sscanf(args[i + 1].c_str(), "synack pid=%d start=%llu%c", &pid, &start, &extra) != 2) continue;
      rule_record r;
      r.pid = pid;
      r.start = start;
      r.alive = start != 0 && process_start_time(pid) == start;
      r.rule = line.substr(line.find("-A"));
      r.family = family;
      records.push_back(std::move(r));
      break;
    }
  }
  return records;
}

std::vector<rule_record> rst_guard::list_rules() {
  std::vector<rule_record> records;
  for (auto family : {wire::ip_family::v4, wire::ip_family::v6}) {
    std::string save = iptables_for(family) + "-save";
    std::string path = find_program(save);
    // Without ip6tables there can be no IPv6 rule of ours (we never install one without it).
    if (path.empty() && family == wire::ip_family::v6) continue;
    if (path.empty()) path = need_program(save);  // throws the one-line fix
    auto result = run(path, {"-t", "filter"});
    // A kernel without IPv6 netfilter (legacy ip6tables without ip6_tables, or IPv6 disabled)
    // cannot hold an IPv6 rule either: nothing to list, and no reason to fail an IPv4 user.
    if (result.status != 0 && family == wire::ip_family::v6 &&
        (result.err.find("does not exist") != std::string::npos ||
         result.err.find("not supported") != std::string::npos))
      continue;
    if (result.status != 0)
      throw setup_error(result.err.find("ermission denied") != std::string::npos ? setup_errc::permission
                                                                                   : setup_errc::iptables_failed,
                        save + " failed: " + first_line(result.err) + " (run as root)");
    auto more = parse_rules(result.out, family);
    records.insert(records.end(), more.begin(), more.end());
  }
  return records;
}

std::size_t rst_guard::clean_stale_rules() {
  std::size_t removed = 0;
  for (const auto& record : list_rules()) {
    if (record.alive) continue;
    auto args = iptables_prefix();
    auto del = delete_args(record.rule);
    args.insert(args.end(), del.begin(), del.end());
    if (run(need_program(iptables_for(record.family)), args).status == 0) ++removed;
  }
  return removed;
}

std::vector<std::string> rst_guard::install(wire::ip_family family, const std::string& source, port_range ports) {
  const std::string command = iptables_for(family);
  std::string sport = std::to_string(ports.lo);
  if (ports.hi != ports.lo) sport += ":" + std::to_string(ports.hi);
  std::vector<std::string> spec = {"-p",          "tcp", "-s",  source,
                                   "--sport",     sport, "--tcp-flags", "RST",
                                   "RST",         "-m",  "comment",     "--comment",
                                   comment_for(owner_pid_, process_start_time(owner_pid_)),
                                   "-j",          "DROP"};
  auto args = iptables_prefix();
  args.insert(args.end(), {"-I", "OUTPUT"});
  args.insert(args.end(), spec.begin(), spec.end());
  auto result = run(need_program(command), args);
  if (result.status != 0) {
    if (result.err.find("ermission denied") != std::string::npos)
      throw setup_error(setup_errc::permission, permission_message);
    throw setup_error(setup_errc::iptables_failed, command + " could not add the RST rule: " + first_line(result.err) +
                                                       " (check `" + command + " -L OUTPUT`, or pass --no-rst-guard, or run with "
                                                       "--own-address ADDR, which needs no firewall rule)");
  }
  return spec;
}

rst_guard::rst_guard(wire::ipv4_addr local, port_range ports, std::optional<wire::ipv6_addr> local6) {
  // Both programs are looked for first, so a missing ip6tables fails before anything is added.
  need_program("iptables");
  if (local6) need_program("ip6tables");
  try {
    clean_stale_rules();  // best effort: a failure here must not stop this run
  } catch (const setup_error&) {
  }
  owner_pid_ = static_cast<int>(::getpid());
  spec_ = install(wire::ip_family::v4, local.to_string() + "/32", ports);
  if (!local6) return;
  try {
    spec6_ = install(wire::ip_family::v6, local6->to_string() + "/128", ports);
  } catch (...) {
    release();  // the IPv4 rule must not outlive a guard that was never built
    throw;
  }
}

rst_guard::rst_guard(wire::ip_addr local, port_range ports) {
  const auto family = local.family();
  need_program(iptables_for(family));
  try {
    clean_stale_rules();
  } catch (const setup_error&) {
  }
  owner_pid_ = static_cast<int>(::getpid());
  if (family == wire::ip_family::v4)
    spec_ = install(family, local.v4().to_string() + "/32", ports);
  else
    spec6_ = install(family, local.v6().to_string() + "/128", ports);
}

rst_guard::~rst_guard() { release(); }

rst_guard::rst_guard(rst_guard&& other) noexcept
    : spec_(std::move(other.spec_)), spec6_(std::move(other.spec6_)), owner_pid_(std::exchange(other.owner_pid_, 0)) {
  other.spec_.clear();
  other.spec6_.clear();
}

rst_guard& rst_guard::operator=(rst_guard&& other) noexcept {
  if (this != &other) {
    release();
    spec_ = std::move(other.spec_);
    spec6_ = std::move(other.spec6_);
    other.spec_.clear();
    other.spec6_.clear();
    owner_pid_ = std::exchange(other.owner_pid_, 0);
  }
  return *this;
}

void rst_guard::release() noexcept {
  auto spec = std::move(spec_);
  auto spec6 = std::move(spec6_);
  spec_.clear();
  spec6_.clear();
  if (owner_pid_ != static_cast<int>(::getpid())) return;  // a forked child unwinding
  for (auto family : {wire::ip_family::v4, wire::ip_family::v6}) {
    const auto& match = family == wire::ip_family::v4 ? spec : spec6;
    if (match.empty()) continue;
    const std::string command = iptables_for(family);
    try {
      auto args = iptables_prefix();
      args.insert(args.end(), {"-D", "OUTPUT"});
      args.insert(args.end(), match.begin(), match.end());
      auto result = run(need_program(command), args);
      if (result.status == 0) continue;
      std::fprintf(stderr, "synack: %s could not remove the RST rule (%s); remove it with `synack rules clean`\n",
                   command.c_str(), first_line(result.err).c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "synack: %s could not remove the RST rule (%s); remove it with `synack rules clean`\n",
                   command.c_str(), e.what());
    }
  }
}

}  // namespace synack::link
