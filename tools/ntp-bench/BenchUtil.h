//===- BenchUtil.h - Timing helpers shared by the benchmarks ----*- C++ -*-===//
//
// For ntp-bench, ntp-layers-bench and ntp-partials-bench: a wall clock, the
// best of repeated runs, the load average printed beside the tables,
// PyTorch's times read from a benchmark script's output, and buffers on
// cache lines. Header only.
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
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace ntp::bench {

/// Allocates on 64-byte boundaries, as PyTorch's CPU tensors are: a
/// kernel's vectors of a tile (up to 64 bytes) then never straddle two
/// cache lines of the caller's buffers (std::vector's 16-byte alignment
/// split every zmm access to x, the jets and the workspace).
template <class T> struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U> CacheLineAllocator(const CacheLineAllocator<U> &) {}
  T *allocate(size_t n) {
    return static_cast<T *>(
        ::operator new(n * sizeof(T), std::align_val_t(64)));
  }
  void deallocate(T *p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <class U> bool operator==(const CacheLineAllocator<U> &) const {
    return true;
  }
  template <class U> bool operator!=(const CacheLineAllocator<U> &) const {
    return false;
  }
};

/// A kernel argument's buffer.
template <class T> using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

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
