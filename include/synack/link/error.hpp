// The link layer's one error type: everything that can go wrong while setting up (permissions,
// unknown interface, no route, missing iptables). Its what() is a single line that names the cause
// and the fix, ready for the tool to print after "synack: ". Per-packet operations never throw;
// they return std::error_code.
#pragma once

#include <stdexcept>
#include <string>

namespace synack::link {

enum class setup_errc {
  permission,         // missing CAP_NET_RAW / CAP_NET_ADMIN
  unknown_interface,  // no such interface name or index
  interface_down,     // the interface exists but is not up
  no_route,           // no usable route to a destination
  own_address,        // the destination is this host (a packet socket cannot reach it)
  iptables_missing,   // iptables / iptables-save not installed
  iptables_failed,    // iptables ran and said no
  invalid_argument,   // a malformed option value (e.g. a port range)
  unsupported_link,   // an interface whose link type synack cannot use (named in the message)
  system,             // any other failing system call
};

class setup_error : public std::runtime_error {
 public:
  setup_error(setup_errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  setup_errc code() const noexcept { return code_; }

 private:
  setup_errc code_;
};

// The message for a missing capability, shared by every place that can hit EPERM.
inline constexpr const char* permission_message =
    "needs CAP_NET_RAW and CAP_NET_ADMIN (run as root, or setcap cap_net_raw,cap_net_admin+ep on the binary)";

// A setup_error for a failing system call: EPERM/EACCES become the capability message, anything
// else "WHAT: strerror(err)".
[[noreturn]] void throw_system(int err, const std::string& what);

}  // namespace synack::link
