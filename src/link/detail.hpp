// Small helpers shared by the link layer's sources; not part of the public API.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace synack::link::detail {

inline std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// /proc/net/* and /proc/sys/net/* as the calling *thread* sees them. /proc/net is a link to
// /proc/self/net, which follows the thread-group leader's network namespace; a thread that did
// setns(CLONE_NEWNET) must read /proc/thread-self/net instead (Linux >= 3.17).
inline std::optional<std::string> read_proc_net(const std::string& name) {
  if (auto text = read_text_file("/proc/thread-self/net/" + name)) return text;
  return read_text_file("/proc/net/" + name);
}

}  // namespace synack::link::detail
