//===- ExampleFlags.h - Whole-string number flags for the examples -*- C++
//-*-===//
//
// The examples parse their own flags (they link no LLVM). atoi/atof read
// "--k two" as 0 and "--lr 1e-3x" as 1e-3, silently; these helpers accept
// only a whole number in range and otherwise print one sentence naming the
// flag and exit with status 2.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_EXAMPLES_COMMON_EXAMPLEFLAGS_H
#define NTP_EXAMPLES_COMMON_EXAMPLEFLAGS_H

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ntp::examples {

[[noreturn]] inline void badFlagValue(const char *tool, const std::string &flag,
                                      const char *text, const char *what) {
  std::fprintf(stderr, "%s: error: %s needs %s, got '%s'\n", tool, flag.c_str(),
               what, text);
  std::exit(2);
}

/// A whole decimal integer in [lo, hi].
inline long integerFlag(const char *tool, const std::string &flag,
                        const char *text, long lo = LONG_MIN,
                        long hi = LONG_MAX) {
  char *end = nullptr;
  errno = 0;
  long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || value < lo ||
      value > hi) {
    std::string what = "an integer";
    if (lo != LONG_MIN || hi != LONG_MAX)
      what += " in " + std::to_string(lo) + ".." + std::to_string(hi);
    badFlagValue(tool, flag, text, what.c_str());
  }
  return value;
}

/// A whole finite real number.
inline double realFlag(const char *tool, const std::string &flag,
                       const char *text) {
  char *end = nullptr;
  errno = 0;
  double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || errno == ERANGE || !std::isfinite(value))
    badFlagValue(tool, flag, text, "a finite number");
  return value;
}

} // namespace ntp::examples

#endif // NTP_EXAMPLES_COMMON_EXAMPLEFLAGS_H
