// std::source_location for the tests, also under clang 14 with libstdc++ 12 (the sanitizer/fuzz
// build, scripts/test.sh): there libstdc++'s <source_location> is empty, because clang 14 lacks
// __builtin_source_location; __builtin_FILE/LINE/FUNCTION give the same information.
#pragma once

#include <cstdint>
#include <source_location>

namespace synack::test {

#if defined(__cpp_lib_source_location)
using source_location = std::source_location;
#else
class source_location {
 public:
  static constexpr source_location current(const char* file = __builtin_FILE(), std::uint_least32_t line = __builtin_LINE(),
                                           const char* function = __builtin_FUNCTION()) noexcept {
    source_location l;
    l.file_ = file;
    l.line_ = line;
    l.function_ = function;
    return l;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return 0; }
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  const char* file_ = "";
  std::uint_least32_t line_ = 0;
  const char* function_ = "";
};
#endif

}  // namespace synack::test
