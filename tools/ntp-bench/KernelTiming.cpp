//===- KernelTiming.cpp - Timing a jet kernel's entry points --------------===//

#include "KernelTiming.h"
#include "BenchUtil.h"
#include "FmaPeak.h"

#include "ntp/artifact.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <type_traits>

using namespace ntp::bench;

namespace {

/// Median (or minimum) time in microseconds of `call`, over at least 20
/// repetitions and `options.minTimeMs`. The minimum takes at least
/// kMinCallsForMinimum calls (within 10 x minTimeMs): on a shared machine
/// the fastest of a few dozen calls of a millisecond or more is not yet
/// the floor (1-64-64-64-1 order 9 f64 training step: 7.8 ms over ~40
/// calls, 6.8-7.0 ms over 300; benchmarks/results/zen3/2026-12-02).
constexpr size_t kMinCallsForMinimum = 200;
/// Rounds of the thread-scaling measurement (each: two calls of each kind
/// and two probes), at least.
constexpr int kMinScalingRounds = 20;
/// Microseconds of one call.
template <class F> double micros(F call) {
  auto t0 = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

template <class F> double callMicros(const TimingOptions &options, F call) {
  for (int i = 0; i < 3; ++i)
    call();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  auto elapsedMs = [&] {
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  };
  const size_t minCalls = options.minimum ? kMinCallsForMinimum : 20;
  while (times.size() < 20 ||
         (times.size() < minCalls && elapsedMs() < 10 * options.minTimeMs) ||
         (elapsedMs() < options.minTimeMs && times.size() < 100000))
    times.push_back(micros(call));
  if (options.minimum)
    return *std::min_element(times.begin(), times.end());
  std::nth_element(times.begin(), times.begin() + times.size() / 2,
                   times.end());
  return times[times.size() / 2];
}

} // namespace

void ntp::bench::check(int status) {
  if (status != 0) {
    std::fprintf(stderr, "ntp-bench: error: %s\n", ntp_last_error());
    std::exit(1);
  }
}

template <class T>
KernelTimes ntp::bench::timeKernel(ntp_kernel *kernel,
                                   const std::vector<int64_t> &layers,
                                   int order, const TimingOptions &options) {
  int64_t batch = options.batch;
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> unit(-1, 1);
  int64_t numParams = *ntp::artifact::countParams(layers);
  AlignedVector<T> params(numParams), x(batch * layers.front()),
      v(layers.front(), T(1)), out((order + 1) * batch * layers.back());
  for (auto &p : params)
    p = T(0.5 * unit(rng));
  for (auto &xi : x)
    xi = T(2 * unit(rng));
  int64_t bytes = 0;
  check(ntp_workspace_size(kernel, batch, &bytes));
  AlignedVector<T> workspace(bytes / sizeof(T)), cotangent(out.size(), T(1)),
      grad(numParams);
  auto forward = [&] {
    check(ntp_forward(kernel, x.data(), v.data(), params.data(), out.data(),
                      batch));
  };
  auto training = [&] {
    check(ntp_forward_save(kernel, x.data(), v.data(), params.data(),
                           out.data(), workspace.data(), batch));
    check(ntp_backward_saved(kernel, x.data(), v.data(), params.data(),
                             cotangent.data(), grad.data(), nullptr,
                             workspace.data(), batch));
  };
  KernelTimes times;
  times.forwardUs = callMicros(options, forward);
  times.trainingUs = callMicros(options, training);
  times.backwardUs = callMicros(options, [&] {
    check(ntp_backward(kernel, x.data(), v.data(), params.data(),
                       cotangent.data(), grad.data(), batch));
  });
  if (int threads = options.scalingThreads; threads > 1) {
    // Call by call in turns: a forward and a training step at one thread
    // and at `threads`, and an FMA-peak probe at each, round after round;
    // each time and peak the best over the same rounds. A host that takes
    // capacity away for a while (a 2-vCPU VM's other tenants) then moves
    // the kernel's rates and the peak's alike; measured in blocks of 300
    // ms each instead, the peak's own 2/1-thread ratio read 1.00-2.04
    // beside the rows (benchmarks/results/emr/2026-12-02).
    FmaProbe probe(std::is_same_v<T, double>, threads, 0.002);
    auto better = [](double &best, double t) {
      best = best == 0 ? t : std::min(best, t);
    };
    auto start = std::chrono::steady_clock::now();
    for (int round = 0;; ++round) {
      double elapsedMs = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - start)
                             .count();
      if (round >= kMinScalingRounds &&
          (elapsedMs > 2 * options.minTimeMs || round >= 2000))
        break;
      for (int n : {1, threads}) {
        check(ntp_set_num_threads(n));
        forward(); // the pool's threads awake
        better(n == 1 ? times.forwardOneUs : times.forwardAllUs,
               micros(forward));
        better(n == 1 ? times.trainingOneUs : times.trainingAllUs,
               micros(training));
        double gflops = probe.gflops(n);
        double &peak = n == 1 ? times.peakOneGflops : times.peakAllGflops;
        peak = std::max(peak, gflops);
      }
    }
    check(ntp_set_num_threads(threads));
  }
  return times;
}

template KernelTimes ntp::bench::timeKernel<float>(ntp_kernel *,
                                                   const std::vector<int64_t> &,
                                                   int, const TimingOptions &);
template KernelTimes
ntp::bench::timeKernel<double>(ntp_kernel *, const std::vector<int64_t> &, int,
                               const TimingOptions &);
