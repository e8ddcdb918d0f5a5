// Time as the impairment model sees it: an instant on a monotonic clock the caller owns (the tool
// passes CLOCK_MONOTONIC, tests a virtual clock). The model never reads a clock itself.
#pragma once

#include <chrono>

namespace synack::impair {

using duration = std::chrono::nanoseconds;
using instant = std::chrono::time_point<std::chrono::steady_clock, duration>;

}  // namespace synack::impair
