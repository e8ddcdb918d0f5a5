// Time as the TCP core sees it: an instant on a monotonic clock that the caller owns (the engine
// passes the real steady clock, tests pass a virtual one). The core never reads a clock itself.
#pragma once

#include <chrono>

namespace synack::tcp {

using duration = std::chrono::nanoseconds;
// Nanoseconds since an arbitrary epoch chosen by whoever drives the core.
using instant = std::chrono::time_point<std::chrono::steady_clock, duration>;

}  // namespace synack::tcp
