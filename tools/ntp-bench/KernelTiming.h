//===- KernelTiming.h - Timing a jet kernel's entry points ------*- C++ -*-===//
//
// ntp-bench's measurement of one loaded kernel: the forward, the training
// step (forward_save + backward_saved) and the recomputing backward on
// random parameters and points, each the median (or minimum) of repeated
// calls; with scaling, the forward and training step again at one thread
// and at the kernels' thread count, with the FMA peak at each, call by call
// in turns.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_BENCH_KERNELTIMING_H
#define NTP_BENCH_KERNELTIMING_H

#include "ntp/runtime.h"

#include <cstdint>
#include <vector>

namespace ntp::bench {

struct TimingOptions {
  int64_t batch = 256;
  double minTimeMs = 300; // per measurement, after at least 20 calls
  bool minimum = false;   // the fastest call (of >= 200) instead of the median
  int scalingThreads = 0; // > 1: also time at 1 and at this many threads
};

struct KernelTimes {
  double forwardUs = 0;
  double trainingUs = 0; // forward_save + backward_saved: a training step
  double backwardUs = 0; // the stateless backward (recomputes the forward)
  // With scaling: the forward and training step at one thread and at the
  // kernels' thread count, and the FMA peak at each, measured call by call
  // in turns (the fastest call, the highest peak, over the same rounds).
  double forwardOneUs = 0, forwardAllUs = 0;
  double trainingOneUs = 0, trainingAllUs = 0;
  double peakOneGflops = 0, peakAllGflops = 0;
};

/// Exits with ntp-bench's one-sentence error if `status` is not NTP_OK.
void check(int status);

/// Times `kernel` (float or double elements, a plain MLP of `layers` and
/// `order`; its parameter count checked by the caller).
template <class T>
KernelTimes timeKernel(ntp_kernel *kernel, const std::vector<int64_t> &layers,
                       int order, const TimingOptions &options);

} // namespace ntp::bench

#endif // NTP_BENCH_KERNELTIMING_H
