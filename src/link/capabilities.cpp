#include "synack/link/capabilities.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "synack/link/error.hpp"

namespace synack::link {

bool have_net_raw_and_admin() noexcept {
  // glibc has no capget wrapper; the raw syscall with version 3 fills two 32-bit words per set.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  auto has = [&](unsigned cap) { return (data[cap / 32].effective >> (cap % 32)) & 1U; };
  return has(CAP_NET_RAW) && has(CAP_NET_ADMIN);
}

void require_net_raw_and_admin() {
  if (!have_net_raw_and_admin()) throw setup_error(setup_errc::permission, permission_message);
}

}  // namespace synack::link
