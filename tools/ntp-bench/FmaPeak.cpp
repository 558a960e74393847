//===- FmaPeak.cpp - What this machine's FMA units allow ------------------===//
//
// Each thread runs kChains independent accumulators of one 512-bit value
// (16 f32 / 8 f64 lanes), acc = acc * m + a, so that the FMA latency (4 to 5
// cycles) times the FMA units per core (1 or 2) is covered: 12 chains keep two
// units with latency 5 busy (10 in flight) and fit the 16 ymm registers of
// AVX2 as 24 halves only with spills, so AVX2 gets 6 chains of two ymm each.
// The function is compiled for AVX-512, AVX2+FMA and the baseline, and the
// best the host supports runs (x86); elsewhere the portable version.
//
//===----------------------------------------------------------------------===//

#include "FmaPeak.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

using namespace ntp::bench;

namespace {

template <class T, int N> using Vec [[gnu::vector_size(N * sizeof(T))]] = T;

/// `iterations` rounds of `Chains` independent FMA chains on 64-byte values;
/// returns a sum so that nothing is dead.
#define NTP_FMA_LOOP(NAME, ATTR, CHAINS)                                       \
  template <class T> ATTR T NAME(long iterations, T seed) {                    \
    constexpr int lanes = 64 / sizeof(T);                                      \
    using V = Vec<T, lanes>;                                                   \
    V acc[CHAINS];                                                             \
    V m = V{} + T(0.999999), a = V{} + seed;                                   \
    for (int c = 0; c < CHAINS; ++c)                                           \
      acc[c] = V{} + T(c + 1);                                                 \
    for (long i = 0; i < iterations; ++i) {                                    \
      for (int c = 0; c < CHAINS; ++c)                                         \
        acc[c] = __builtin_elementwise_fma(acc[c], m, a);                      \
    }                                                                          \
    T sum = 0;                                                                 \
    for (int c = 0; c < CHAINS; ++c)                                           \
      for (int l = 0; l < lanes; ++l)                                          \
        sum += acc[c][l];                                                      \
    return sum;                                                                \
  }

constexpr int kChains = 12;
#if defined(__x86_64__)
NTP_FMA_LOOP(fmaLoopAvx512, [[gnu::target("avx512f")]], 12)
NTP_FMA_LOOP(fmaLoopAvx2, [[gnu::target("avx2,fma")]], 6)
#endif
NTP_FMA_LOOP(fmaLoopPortable, , 6)

struct Loop {
  double (*f64)(long, double);
  float (*f32)(long, float);
  int chains;
  const char *name;
};

Loop bestLoop() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    return {fmaLoopAvx512<double>, fmaLoopAvx512<float>, kChains,
            "zmm FMA (avx512f)"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {fmaLoopAvx2<double>, fmaLoopAvx2<float>, 6, "ymm FMA (avx2)"};
#endif
  return {fmaLoopPortable<double>, fmaLoopPortable<float>, 6,
          "vector FMA (baseline)"};
}

} // namespace

int ntp::bench::availableCpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

struct FmaProbe::State {
  Loop loop = bestLoop();
  bool f64 = false;
  long iterations = 1 << 12;
  std::vector<std::thread> workers; // threads - 1 of them; the caller is one
  std::mutex mutex;
  std::condition_variable wake, finished;
  long generation = 0; // probes started
  int active = 0;      // workers taking part in the current probe
  int running = 0;     // of those, not finished yet
  bool stop = false;

  double run() const {
    return f64 ? double(loop.f64(iterations, 1e-9))
               : double(loop.f32(iterations, 1e-9f));
  }
};

FmaProbe::FmaProbe(bool f64, int threads, double seconds) : state(new State) {
  state->f64 = f64;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    volatile double sink = state->run();
    (void)sink;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (elapsed > seconds / 2 || state->iterations > (1L << 40))
      break;
    state->iterations *= 2;
  }
  for (int w = 1; w < threads; ++w)
    state->workers.emplace_back([s = state, w] {
      long seen = 0;
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(s->mutex);
          s->wake.wait(lock, [&] { return s->stop || s->generation != seen; });
          if (s->stop)
            return;
          seen = s->generation;
          if (w > s->active)
            continue;
        }
        volatile double sink = s->run();
        (void)sink;
        std::lock_guard<std::mutex> lock(s->mutex);
        if (--s->running == 0)
          s->finished.notify_one();
      }
    });
}

FmaProbe::~FmaProbe() {
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->stop = true;
  }
  state->wake.notify_all();
  for (std::thread &worker : state->workers)
    worker.join();
  delete state;
}

double FmaProbe::gflops(int threads) {
  threads = std::clamp<int>(threads, 1, int(state->workers.size()) + 1);
  auto t0 = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->active = threads - 1;
    state->running = threads - 1;
    ++state->generation;
  }
  state->wake.notify_all();
  volatile double sink = state->run();
  (void)sink;
  {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->finished.wait(lock, [&] { return state->running == 0; });
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  int lanes = state->f64 ? 8 : 16;
  return 2.0 * lanes * state->loop.chains * double(state->iterations) *
         threads / elapsed / 1e9;
}

const char *FmaProbe::instruction() const { return state->loop.name; }

FmaPeak ntp::bench::measureFmaPeak(bool f64, int threads, double seconds) {
  // Each of three attempts runs the loop calibrated to ~seconds / 4 .. /2
  // on every thread; the best counts.
  FmaProbe probe(f64, std::max(1, threads), seconds / 2);
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt)
    best = std::max(best, probe.gflops(threads));
  return {best, probe.instruction()};
}

std::map<std::string, double> ntp::bench::printFmaPeakTable(int threads,
                                                            const char *title) {
  std::map<std::string, double> peak;
  std::printf("%s (GFLOP/s, 2 flops per FMA lane):\n\n| dtype | instruction "
              "| 1 thread | %d thread%s |\n|---|---|---|---|\n",
              title, threads, threads == 1 ? "" : "s");
  std::vector<std::string> lowScaling;
  for (const char *dtype : {"f32", "f64"}) {
    bool f64 = std::strcmp(dtype, "f64") == 0;
    FmaPeak one = measureFmaPeak(f64, 1);
    FmaPeak all = measureFmaPeak(f64, threads);
    double plausible = 0.75 * std::min(threads, availableCpus()) * one.gflops;
    for (int retry = 0; retry < 3 && all.gflops < plausible; ++retry)
      all.gflops = std::max(all.gflops, measureFmaPeak(f64, threads).gflops);
    if (threads > 1 && all.gflops < plausible)
      lowScaling.push_back(dtype);
    peak[dtype] = all.gflops;
    std::printf("| %s | %s | %.1f | %.1f |\n", dtype, one.instruction.c_str(),
                one.gflops, all.gflops);
  }
  for (const std::string &dtype : lowScaling)
    std::printf("note: %s at %d threads stayed below 75%% of %d x the "
                "one-thread peak in four measurements (SMT siblings, or a "
                "host sharing the cores)\n",
                dtype.c_str(), threads, threads);
  std::printf("\n");
  return peak;
}
