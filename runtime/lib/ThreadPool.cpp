//===- ThreadPool.cpp - Persistent worker pool for CPU kernels ------------===//
//
// Dispatch protocol: the caller publishes a job under Workers::mutex and bumps
// `generation`; workers notice either by spinning briefly on `generation`
// (back-to-back calls then cost no futex wake-up) or through `wake`. Every
// thread, the caller included, claims chunks from `claim`, which packs the
// generation with the next chunk index so that a worker still holding an
// older job can never claim a chunk of a newer one. The caller returns once
// `finished` counts all chunks; it never waits for a worker that found no
// work, which matters when the machine is busy and workers wake late. A
// caller without the stack for the tiles claims nothing and only waits.
//
// The workers are POSIX threads rather than std::thread, which cannot be
// given a stack size: the default (RLIMIT_STACK at start-up, often 8 MiB but
// whatever the host process chose) is not ours to rely on.
//
//===----------------------------------------------------------------------===//
#include "ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <vector>

namespace ntp::rt {
namespace {

// Long enough to bridge the gap between back-to-back calls from a training
// loop, short enough not to burn a core for long when the caller goes idle.
constexpr auto kSpinTime = std::chrono::microseconds(100);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#else
  std::this_thread::yield();
#endif
}

/// Spins until `done()` holds or kSpinTime passes; returns done(). Yields
/// now and then so that, on an oversubscribed machine, the thread being
/// waited for gets to run.
template <class Pred> bool spinUntil(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (unsigned i = 1;; ++i) {
    if (done())
      return true;
    if (i % 16 != 0) {
      cpuRelax();
      continue;
    }
    std::this_thread::yield();
    if (std::chrono::steady_clock::now() > deadline)
      return done();
  }
}

int32_t defaultNumThreads() {
  static const int32_t value = [] {
    if (const char *env = std::getenv("NTP_NUM_THREADS")) {
      char *end = nullptr;
      long n = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && n > 0 && n <= 4096)
        return static_cast<int32_t>(n);
    }
    // Respect the CPU affinity (taskset, cpusets), which hardware_concurrency
    // ignores.
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
      return static_cast<int32_t>(CPU_COUNT(&set));
    return static_cast<int32_t>(
        std::max(1u, std::thread::hardware_concurrency()));
  }();
  return value;
}

} // namespace

/// State shared with the worker threads. Heap-allocated so that a forked
/// child, which inherits it without the threads, can abandon it wholesale
/// (its mutex and condition variables may be in use by threads that no
/// longer exist there).
struct ThreadPool::Job {
  Task task = nullptr;
  void *ctx = nullptr;
  int64_t n = 0;
  int64_t chunks = 0;
};

struct ThreadPool::Workers {
  // `claim` holds generation << kChunkBits | next chunk index.
  static constexpr int kChunkBits = 16;
  static constexpr int64_t kMaxChunks = (int64_t(1) << kChunkBits) - 1;

  std::mutex mutex;
  std::condition_variable wake; // a job was published or stop was set
  std::condition_variable done; // all chunks of the job finished
  bool stop = false;            // guarded by mutex
  Job job;                      // guarded by mutex
  std::atomic<uint64_t> generation{0};
  std::atomic<uint64_t> claim{0};
  std::atomic<int64_t> finished{0}; // chunks of the current job done
  std::vector<pthread_t> threads;
};

/// What a new worker starts with (pthread_create passes one pointer).
struct ThreadPool::WorkerStart {
  Workers *w;
  uint64_t generation;
};

ThreadPool &ThreadPool::instance() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::ThreadPool() : workers(std::make_unique<Workers>()) {
  // A child forked while another thread used the pool would wait forever on
  // workers that were not copied; hold the pool across fork() and give the
  // child a fresh, empty one.
  pthread_atfork([] { instance().runMutex.lock(); },
                 [] { instance().runMutex.unlock(); },
                 [] {
                   instance().forgetWorkersAfterFork();
                   instance().runMutex.unlock();
                 });
}

ThreadPool::~ThreadPool() {
  std::lock_guard<std::mutex> run(runMutex);
  resize(0);
}

void ThreadPool::forgetWorkersAfterFork() {
  (void)workers.release(); // deliberately leaked, see Workers
  workers = std::make_unique<Workers>();
  appliedWorkers = 0;
}

void ThreadPool::setNumThreads(int32_t n) {
  requested.store(std::max(n, 0), std::memory_order_relaxed);
}

int32_t ThreadPool::resolvedNumThreads() const {
  int32_t n = requested.load(std::memory_order_relaxed);
  return n > 0 ? n : defaultNumThreads();
}

void ThreadPool::resize(int32_t numWorkers) {
  appliedWorkers = numWorkers;
  Workers &w = *workers;
  if (static_cast<size_t>(numWorkers) == w.threads.size())
    return;
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    w.stop = true;
  }
  w.wake.notify_all();
  for (pthread_t t : w.threads)
    pthread_join(t, nullptr);
  w.threads.clear();
  w.stop = false;

  uint64_t generation = w.generation.load(std::memory_order_relaxed);
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0)
    return;
  if (pthread_attr_setstacksize(&attr,
                                static_cast<size_t>(kWorkerStackBytes)) == 0) {
    w.threads.reserve(static_cast<size_t>(numWorkers));
    for (int32_t i = 0; i < numWorkers; ++i) {
      auto *start = new WorkerStart{&w, generation};
      pthread_t thread;
      if (pthread_create(&thread, &attr, workerEntry, start) != 0) {
        // Out of threads or memory: carry on with the workers that started.
        delete start;
        break;
      }
      w.threads.push_back(thread);
    }
  }
  pthread_attr_destroy(&attr);
}

void *ThreadPool::workerEntry(void *arg) {
  WorkerStart start = *static_cast<WorkerStart *>(arg);
  delete static_cast<WorkerStart *>(arg);
  workerMain(*start.w, start.generation);
  return nullptr;
}

int64_t ThreadPool::callerStackLeft() {
  // The bounds of a thread's stack never change; pthread_getattr_np reads
  // /proc/self/maps for the main thread, so ask once per thread.
  struct Bounds {
    bool known = false;
    uintptr_t low = 0, high = 0;
  };
  static thread_local Bounds bounds;
  if (!bounds.known) {
    bounds.known = true;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void *addr = nullptr;
      size_t size = 0;
      // For the main thread glibc reports RLIMIT_STACK (capped by the
      // mapping below the stack) as the size: the most the stack can grow
      // to, which is what matters here.
      if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        bounds.low = reinterpret_cast<uintptr_t>(addr);
        bounds.high = bounds.low + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (sp <= bounds.low || sp > bounds.high)
    return 0;
  return static_cast<int64_t>(sp - bounds.low);
}

/// Runs chunks of `job`, number `generation`, until none is left to claim.
/// A chunk can only be claimed while its job is current, and the job stays
/// current until all its chunks finish.
void ThreadPool::runChunks(Workers &w, const Job &job, uint64_t generation) {
  const uint64_t tag = generation << Workers::kChunkBits;
  const int64_t base = job.n / job.chunks, extra = job.n % job.chunks;
  uint64_t claim = w.claim.load(std::memory_order_relaxed);
  for (;;) {
    int64_t c = static_cast<int64_t>(claim & uint64_t(Workers::kMaxChunks));
    if ((claim & ~uint64_t(Workers::kMaxChunks)) != tag || c >= job.chunks)
      return; // all chunks taken, or a newer job replaced this one
    if (!w.claim.compare_exchange_weak(claim, claim + 1,
                                       std::memory_order_relaxed))
      continue;
    int64_t begin = c * base + std::min(c, extra);
    job.task(job.ctx, begin, begin + base + (c < extra ? 1 : 0));
    if (w.finished.fetch_add(1, std::memory_order_acq_rel) + 1 == job.chunks) {
      std::lock_guard<std::mutex> lock(w.mutex);
      w.done.notify_one();
    }
    claim = w.claim.load(std::memory_order_relaxed);
  }
}

void ThreadPool::workerMain(Workers &w, uint64_t generation) {
  Job job;
  for (;;) {
    spinUntil([&] {
      return w.generation.load(std::memory_order_acquire) != generation;
    });
    {
      std::unique_lock<std::mutex> lock(w.mutex);
      w.wake.wait(lock, [&] {
        return w.stop ||
               w.generation.load(std::memory_order_relaxed) != generation;
      });
      if (w.stop)
        return;
      generation = w.generation.load(std::memory_order_relaxed);
      job = w.job;
    }
    runChunks(w, job, generation);
  }
}

bool ThreadPool::parallelFor(int64_t n, int64_t minPerThread, Task task,
                             void *ctx, bool callerRuns) {
  int64_t threads = resolvedNumThreads();
  int64_t splits = std::max<int64_t>(n / std::max<int64_t>(minPerThread, 1), 1);
  if (callerRuns && std::min(threads, splits) <= 1) {
    task(ctx, 0, n);
    return true;
  }
  std::unique_lock<std::mutex> run(runMutex, std::defer_lock);
  if (callerRuns) {
    if (!run.try_lock()) {
      task(ctx, 0, n);
      return true;
    }
  } else {
    run.lock(); // only the workers have the stack: wait for the pool
  }
  // Never more workers than the call has chunks: grow to what calls need,
  // shrink when the thread count was lowered. A caller that does not run
  // chunks leaves all `threads` to workers.
  const int64_t callerChunk = callerRuns ? 1 : 0;
  int64_t wanted =
      std::min({threads, splits, Workers::kMaxChunks}) - callerChunk;
  if (appliedWorkers > threads || appliedWorkers < wanted)
    resize(static_cast<int32_t>(wanted));

  Workers &w = *workers;
  const auto numWorkers = static_cast<int64_t>(w.threads.size());
  int64_t chunks = std::min(
      {threads, splits, numWorkers + callerChunk, Workers::kMaxChunks});
  if (!callerRuns && chunks < 1)
    return false;
  if (callerRuns && chunks <= 1) {
    task(ctx, 0, n);
    return true;
  }
  const Job job{task, ctx, n, chunks};
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(w.mutex);
    w.job = job;
    w.finished.store(0, std::memory_order_relaxed);
    generation = w.generation.load(std::memory_order_relaxed) + 1;
    w.claim.store(generation << Workers::kChunkBits, std::memory_order_relaxed);
    w.generation.store(generation, std::memory_order_release);
  }
  if (chunks - callerChunk >= numWorkers)
    w.wake.notify_all();
  else
    for (int64_t i = callerChunk; i < chunks; ++i)
      w.wake.notify_one();
  if (callerRuns)
    runChunks(w, job, generation);
  auto allDone = [&] {
    return w.finished.load(std::memory_order_acquire) == chunks;
  };
  if (!spinUntil(allDone)) {
    std::unique_lock<std::mutex> lock(w.mutex);
    w.done.wait(lock, allDone);
  }
  return true;
}

} // namespace ntp::rt
