// Boost.Test printing for the core's value types (found by ADL).
#pragma once

#include <ostream>

#include "synack/tcp/seq.hpp"
#include "synack/tcp/state.hpp"
#include "synack/tcp/time.hpp"

namespace synack::tcp {

inline std::ostream& boost_test_print_type(std::ostream& o, seq s) { return o << "seq{" << s.value() << "}"; }
inline std::ostream& boost_test_print_type(std::ostream& o, state s) { return o << to_string(s); }
inline std::ostream& boost_test_print_type(std::ostream& o, instant t) {
  return o << std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() << "us";
}

}  // namespace synack::tcp
