//===- BenchUtil.h - Timing helpers shared by the benchmarks ----*- C++ -*-===//
//
// For ntp-bench, ntp-layers-bench and ntp-partials-bench: a wall clock, the
// best of repeated runs, the load average printed beside the tables, and
// PyTorch's times read from a benchmark script's output. Header only.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_BENCH_BENCHUTIL_H
#define NTP_BENCH_BENCHUTIL_H

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <utility>

namespace ntp::bench {

/// Seconds on the steady clock.
inline double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The fastest of `reps` runs of f, in seconds.
template <class F> double best(F &&f, int reps) {
  double b = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds();
    f();
    b = std::min(b, seconds() - t0);
  }
  return b;
}

/// The 1-minute load average ("?" if unreadable).
inline std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

/// order -> (forward, total) milliseconds from the lines `command` (a
/// PyTorch benchmark script) prints, each with "order", "fwd_ms" and
/// "total_ms" fields; empty if it cannot be run.
inline std::map<int, std::pair<double, double>>
readTorchTimes(const std::string &command) {
  std::map<int, std::pair<double, double>> result;
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return result;
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    int order;
    double fwd, total;
    const char *o = std::strstr(line, "\"order\": "),
               *f = std::strstr(line, "\"fwd_ms\": "),
               *t = std::strstr(line, "\"total_ms\": ");
    if (o && f && t && std::sscanf(o + 9, "%d", &order) == 1 &&
        std::sscanf(f + 10, "%lf", &fwd) == 1 &&
        std::sscanf(t + 12, "%lf", &total) == 1)
      result[order] = {fwd, total};
  }
  pclose(pipe);
  return result;
}

} // namespace ntp::bench

#endif // NTP_BENCH_BENCHUTIL_H
