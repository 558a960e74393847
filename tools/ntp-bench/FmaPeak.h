//===- FmaPeak.h - What this machine's FMA units allow -----------*- C++
//-*-===//
//
// The floating-point peak a kernel is measured against: a loop of
// independent vector FMAs, run on a number of threads at once. Measured, not
// looked up, so that turbo, SMT, power limits and the host's vector width
// count as they do for the kernels timed beside it.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_BENCH_FMAPEAK_H
#define NTP_BENCH_FMAPEAK_H

#include <map>
#include <string>

namespace ntp::bench {

struct FmaPeak {
  double gflops = 0;       // 2 flops per FMA lane, all threads together
  std::string instruction; // e.g. "zmm FMA (avx512f)", "ymm FMA (avx2)"
};

/// The best of a few runs of ~`seconds` each of the FMA loop in f64 or f32 on
/// `threads` threads.
FmaPeak measureFmaPeak(bool f64, int threads, double seconds = 0.2);

/// A short FMA-peak measurement to take between a kernel's calls, at one
/// thread or at all of `threads`, over and over: its workers stay started
/// (waiting on a condition variable, not spinning), so that a probe of a
/// few milliseconds does not pay for starting threads. Not copyable.
class FmaProbe {
public:
  /// Calibrates one probe to about `seconds` on one thread.
  FmaProbe(bool f64, int threads, double seconds);
  ~FmaProbe();
  FmaProbe(const FmaProbe &) = delete;
  FmaProbe &operator=(const FmaProbe &) = delete;
  /// GFLOP/s of one probe on `threads` (1 or the constructor's) threads,
  /// each running the same calibrated loop.
  double gflops(int threads);
  /// The loop's instruction, e.g. "zmm FMA (avx512f)".
  const char *instruction() const;

private:
  struct State;
  State *state;
};

/// Prints the FMA peak table (1 thread and `threads`, both dtypes) under
/// `title` and returns the `threads` column. On a VM whose vCPUs the host
/// sometimes runs on one core's SMT siblings, a measurement at several
/// threads can come out near the one-thread rate; such a value is measured
/// again (up to three times) and, if it stays low, noted, not hidden.
std::map<std::string, double> printFmaPeakTable(int threads, const char *title);

/// The CPUs this process may run on (its affinity), at least 1.
int availableCpus();

} // namespace ntp::bench

#endif // NTP_BENCH_FMAPEAK_H
