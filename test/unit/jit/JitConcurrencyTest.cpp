//===- JitConcurrencyTest.cpp - The JIT under concurrency -----------------===//
//
// Concurrent compiles of the same and of different specs (threads and
// processes sharing one cache) and concurrent calls of one kernel.
//
//===----------------------------------------------------------------------===//
#include "JitTestUtil.h"

#include "ntp/JIT/Jit.h"
#include "ntp/jit.h"
#include "ntp/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace ntp::jit_test;

//===----------------------------------------------------------------------===//
// Concurrency
//===----------------------------------------------------------------------===//

TEST(JitConcurrencyTest, ProcessesCompilingTheSameSpecAtOnce) {
  TempDir dir;
  KernelPtr reference = compileOrDie(kSmall, kNoCache);
  Inputs in = inputsFor(reference.get(), 50);
  std::vector<unsigned char> expected = run(reference.get(), in);
  ntp_jit_options o = options(dir.path());

  constexpr int kChildren = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ntp_jit_spec s = kSmall.c();
      ntp_kernel *k = nullptr;
      bool ok = ntp_jit_compile(&s, &o, &k) == NTP_OK && run(k, in) == expected;
      ntp_kernel_free(k);
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  // One complete entry, no temporary files left, and it is a hit.
  EXPECT_EQ(dir.files().size(), 1u);
  ntp_jit_report r;
  KernelPtr k = compileOrDie(kSmall, o, &r);
  EXPECT_TRUE(r.cache_hit);
  EXPECT_EQ(run(k.get(), in), expected);
}

TEST(JitConcurrencyTest, ThreadsCompilingIdenticalAndDifferentSpecs) {
  TempDir dir;
  // Four different specs, each compiled by two threads at once.
  std::vector<Spec> specs = {
      {{2, 8, 8, 1}, "tanh", 3, NTP_DTYPE_F32, ""},
      {{1, 6, 2}, "sigmoid", 2, NTP_DTYPE_F64, ""},
      {{3, 5, 1}, "sin", 4, NTP_DTYPE_F32, ""},
      {{1, 4, 4, 1}, "softplus", 1, NTP_DTYPE_F64, ""},
  };
  std::vector<std::vector<unsigned char>> expected;
  std::vector<Inputs> inputs;
  for (const Spec &s : specs) {
    KernelPtr k = compileOrDie(s, kNoCache);
    inputs.push_back(inputsFor(k.get(), 19));
    expected.push_back(run(k.get(), inputs.back()));
  }
  ntp_jit_options o = options(dir.path());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2 * specs.size(); ++t)
    threads.emplace_back([&, t] {
      size_t i = t % specs.size();
      ntp_jit_spec s = specs[i].c();
      ntp_kernel *k = nullptr;
      if (ntp_jit_compile(&s, &o, &k) != NTP_OK) {
        ++failures;
        return;
      }
      if (run(k, inputs[i]) != expected[i])
        ++failures;
      ntp_kernel_free(k);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(dir.files().size(), specs.size());
}

TEST(JitConcurrencyTest, ConcurrentForwardOnOneKernelMatchesSerial) {
  KernelPtr k = compileOrDie(Spec{{1, 24, 24, 1}, "tanh", 6, NTP_DTYPE_F32, ""},
                             kNoCache);
  ASSERT_TRUE(k);
  constexpr int kThreads = 8;
  std::vector<Inputs> inputs;
  std::vector<std::vector<unsigned char>> serial;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(inputsFor(k.get(), 64 + 37 * t, unsigned(100 + t)));
    serial.push_back(run(k.get(), inputs.back()));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep)
        if (run(k.get(), inputs[size_t(t)]) != serial[size_t(t)])
          ++mismatches;
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(mismatches.load(), 0);
}
} // namespace
