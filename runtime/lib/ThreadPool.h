//===- ThreadPool.h - Persistent worker pool for CPU kernels ----*- C++ -*-===//
//
// One process-wide pool of worker threads, started lazily on the first call
// that is large enough to split. A call hands the pool a range [0, n) of
// independent work items (kernel tiles); the range is cut into one contiguous
// chunk per thread, and the calling thread and the workers claim chunks as
// they come, so no thread that is late to wake holds the call up.
//
// Concurrency policy: one call uses the pool at a time. A call that finds the
// pool busy runs its whole range on its own thread instead of waiting, so
// concurrent callers never block each other and the machine is not
// oversubscribed (they already bring their own threads).
//
// Stacks: a tile keeps its jets on the stack of the thread that runs it (up
// to artifact::kMaxTileStackBytes). The workers are started with
// kWorkerStackBytes of stack, whatever the process's default; a caller whose
// own stack has too little left (a thread of Python or Java: 256 KiB to
// 1 MiB) passes callerRuns = false and only waits while the workers run the
// whole range, also when the range is too small to split or the pool is
// busy (then it waits for the pool).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_RUNTIME_THREADPOOL_H
#define NTP_RUNTIME_THREADPOOL_H

#include "ntp/artifact.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ntp::rt {

class ThreadPool {
public:
  /// Runs items [begin, end) of a job; `ctx` is the caller's job state.
  using Task = void (*)(void *ctx, int64_t begin, int64_t end);

  static ThreadPool &instance();

  /// The most threads setNumThreads accepts (and NTP_NUM_THREADS).
  static constexpr int32_t kMaxThreads = 4096;

  /// Sets the number of threads a call may use, caller included; n <= 0
  /// restores the default (NTP_NUM_THREADS, else the CPUs this process may
  /// run on). Takes effect on the next call that uses the pool.
  void setNumThreads(int32_t n);

  /// The number of threads a call may use, caller included (what
  /// setNumThreads set, else the default).
  int32_t numThreads() const { return resolvedNumThreads(); }

  /// The stack of every worker thread: the most jets a tile may keep
  /// (kMaxTileStackBytes) and room for the frames around them.
  static constexpr int64_t kWorkerStackBytes =
      artifact::kMaxTileStackBytes + (int64_t(4) << 20);

  /// Bytes of stack the calling thread has left below the caller's frame;
  /// 0 when that is unknown (a stack the thread library does not know of,
  /// e.g. a coroutine's), so that such a caller is treated as having none.
  static int64_t callerStackLeft();

  /// Runs `task` over [0, n). Each thread gets at least `minPerThread` items;
  /// a range too small to split runs on the calling thread only. With
  /// `callerRuns` false the calling thread runs no item (see the banner).
  /// Returns false only then, when no worker thread could be started, and
  /// then ran nothing.
  bool parallelFor(int64_t n, int64_t minPerThread, Task task, void *ctx,
                   bool callerRuns = true);

  ~ThreadPool();

private:
  struct Workers;
  struct Job;
  struct WorkerStart;

  ThreadPool();
  int32_t resolvedNumThreads() const;
  void resize(int32_t numWorkers);
  static void runChunks(Workers &w, const Job &job, uint64_t generation);
  static void workerMain(Workers &w, uint64_t generation);
  static void *workerEntry(void *start);
  void forgetWorkersAfterFork();

  std::atomic<int32_t> requested{0}; // from setNumThreads; 0 = default
  std::mutex runMutex;               // held by the one call using the pool
  // Guarded by runMutex:
  std::unique_ptr<Workers> workers;
  int32_t appliedWorkers = 0; // worker count last asked of resize()
};

} // namespace ntp::rt

#endif // NTP_RUNTIME_THREADPOOL_H
