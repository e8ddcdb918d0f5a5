#include "synack/link/error.hpp"

#include <cerrno>
#include <cstring>

namespace synack::link {

void throw_system(int err, const std::string& what) {
  if (err == EPERM || err == EACCES) throw setup_error(setup_errc::permission, permission_message);
  throw setup_error(setup_errc::system, what + ": " + std::strerror(err));
}

}  // namespace synack::link
