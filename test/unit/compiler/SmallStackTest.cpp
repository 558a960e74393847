//===- SmallStackTest.cpp - Kernels called from threads with small stacks -===//
//
// A tile keeps its jets on the stack of the thread that runs it: up to
// kMaxTileStackBytes (4 MiB), far more than the 256 KiB a Python or Java
// thread has. Real kernels with megabytes of jets per tile, called from a
// thread with a 256 KiB stack, must give the numbers a call from the main
// thread gives (the runtime hands their tiles to its workers, whose stacks
// are sized for the bound). The control test shows that the stack is really
// too small: the same tiles run directly on such a thread crash.
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <functional>
#include <memory>
#include <pthread.h>
#include <random>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr size_t kSmallStack = 256 * 1024;

using ntp::test::CompiledKernel;

std::unique_ptr<CompiledKernel> compile(const std::vector<int64_t> &widths,
                                        int order, bool isF64) {
  return CompiledKernel::compile(widths, "tanh", order, isF64);
}

/// Runs `body` on a new thread with a stack of `stackBytes` and waits. Below
/// the stack lie 16 MiB of inaccessible memory, so that an overflow faults
/// for sure (the generated code does not probe the stack: a frame of
/// megabytes would otherwise jump over a guard page into whatever lies
/// below).
void onThreadWithStack(size_t stackBytes, const std::function<void()> &body) {
  const size_t guard = size_t(16) << 20;
  void *region = mmap(nullptr, guard + stackBytes, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(region, MAP_FAILED);
  char *stack = static_cast<char *>(region) + guard;
  ASSERT_EQ(mprotect(stack, stackBytes, PROT_READ | PROT_WRITE), 0);
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstack(&attr, stack, stackBytes), 0);
  pthread_t thread;
  auto run = [](void *arg) -> void * {
    (*static_cast<const std::function<void()> *>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, run,
                           const_cast<std::function<void()> *>(&body)),
            0);
  pthread_attr_destroy(&attr);
  pthread_join(thread, nullptr);
  munmap(region, guard + stackBytes);
}

/// Everything a forward, backward and workspace round trip computes.
template <class T> struct Results {
  std::vector<T> out, grad, xGrad, savedOut, savedGrad, savedXGrad;
  std::vector<ntp_status> statuses;
  std::string errors;
  bool operator==(const Results &o) const {
    // Bitwise: the same tiles and the same reduction order run, only on
    // other threads.
    auto same = [](const std::vector<T> &a, const std::vector<T> &b) {
      return a.size() == b.size() &&
             std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
    };
    return same(out, o.out) && same(grad, o.grad) && same(xGrad, o.xGrad) &&
           same(savedOut, o.savedOut) && same(savedGrad, o.savedGrad) &&
           same(savedXGrad, o.savedXGrad);
  }
};

template <class T>
Results<T> runAll(ntp_kernel *k, const std::vector<int64_t> &widths, int order,
                  int64_t batch) {
  int64_t numParams = *ntp::artifact::countParams(widths);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1, 1);
  auto fill = [&](int64_t n, double scale) {
    std::vector<T> v(static_cast<size_t>(n));
    for (T &e : v)
      e = T(scale * unit(rng));
    return v;
  };
  std::vector<T> x = fill(batch * widths.front(), 1);
  std::vector<T> dir = fill(widths.front(), 1);
  std::vector<T> params = fill(numParams, 0.1);
  const int64_t outCount = (order + 1) * batch * widths.back();
  std::vector<T> cot = fill(outCount, 1);

  Results<T> r;
  r.out.assign(outCount, T(0));
  r.grad.assign(numParams, T(0));
  r.xGrad.assign(x.size(), T(0));
  r.savedOut = r.out;
  r.savedGrad = r.grad;
  r.savedXGrad = r.xGrad;
  auto record = [&](ntp_status s) {
    r.statuses.push_back(s);
    if (s != NTP_OK)
      r.errors += std::string(ntp_last_error()) + "\n";
  };
  record(
      ntp_forward(k, x.data(), dir.data(), params.data(), r.out.data(), batch));
  record(ntp_backward_full(k, x.data(), dir.data(), params.data(), cot.data(),
                           r.grad.data(), r.xGrad.data(), batch));
  int64_t bytes = 0;
  record(ntp_workspace_size(k, batch, &bytes));
  std::vector<double> workspace(static_cast<size_t>(bytes / 8 + 8));
  record(ntp_forward_save_checked(k, x.data(), dir.data(), params.data(),
                                  r.savedOut.data(), workspace.data(), bytes,
                                  batch));
  record(ntp_backward_saved_checked(
      k, x.data(), dir.data(), params.data(), cot.data(), r.savedGrad.data(),
      r.savedXGrad.data(), workspace.data(), bytes, batch));
  return r;
}

struct Case {
  std::vector<int64_t> widths;
  int order;
  bool isF64;
  const char *name;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

class SmallStackTest : public ::testing::TestWithParam<Case> {
protected:
  void TearDown() override { ntp_set_num_threads(0); }
};

template <class T> void checkSmallStack(const Case &c, ntp_kernel *k) {
  const int64_t batch = 8 * (c.isF64 ? 8 : 16) + 3; // 9 tiles, one partial
  for (int threads : {1, 4}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    ASSERT_EQ(ntp_set_num_threads(threads), NTP_OK);
    Results<T> onMain = runAll<T>(k, c.widths, c.order, batch);
    ASSERT_EQ(onMain.errors, "");
    Results<T> onSmall;
    onThreadWithStack(
        kSmallStack, [&] { onSmall = runAll<T>(k, c.widths, c.order, batch); });
    ASSERT_EQ(onSmall.errors, "");
    ASSERT_EQ(onSmall.statuses.size(), 5u);
    EXPECT_TRUE(onSmall == onMain);
    // The jets are not all zero: the comparison means something.
    bool nonZero = false;
    for (T g : onMain.grad)
      nonZero |= g != T(0);
    EXPECT_TRUE(nonZero);
  }
}

TEST_P(SmallStackTest, SameNumbersAsOnTheMainThread) {
  const Case &c = GetParam();
  ntp::artifact::Dtype dtype =
      c.isF64 ? ntp::artifact::Dtype::F64 : ntp::artifact::Dtype::F32;
  int64_t tile = ntp::artifact::defaultTile(dtype);
  int64_t jetBytes =
      *ntp::artifact::jetStackElementsPerTile(c.widths, c.order, tile) *
      ntp::artifact::dtypeBytes(dtype);
  // Megabytes of jets per tile: far beyond the small stack.
  ASSERT_GT(jetBytes, int64_t(1) << 20);
  ASSERT_LE(jetBytes, ntp::artifact::kMaxTileStackBytes);
  auto kernel = compile(c.widths, c.order, c.isF64);
  ASSERT_TRUE(kernel);
  if (c.isF64)
    checkSmallStack<double>(c, kernel->get());
  else
    checkSmallStack<float>(c, kernel->get());
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, SmallStackTest,
    ::testing::Values(
        // 10 * 16 * (4 * 1024 + 2) floats: 2.6 MiB of jets per tile.
        Case{{1, 1024, 1}, 9, false, "f32_n9_w1024"},
        // 17 * 8 * (4 * 512 + 2) doubles: 2.1 MiB.
        Case{{1, 512, 1}, 16, true, "f64_n16_w512"},
        // The widest the compiler accepts (test/Transforms/
        // decompose-mlp-stack.mlir): 4192000 and 4193152 bytes; the
        // recomputing backward's frame is 512 and 1024 bytes more.
        Case{{1, 1637, 1}, 9, false, "f32_n9_w1637_bound"},
        Case{{1, 963, 1}, 16, true, "f64_n16_w963_bound"}),
    [](const ::testing::TestParamInfo<Case> &info) { return info.param.name; });

// The control: the recomputing backward's tiles, run directly (not through
// the runtime) on a thread with a 256 KiB stack, overflow it. In a forked
// child, so that the test survives.
TEST(SmallStackControl, TilesRunDirectlyOverflowTheSmallStack) {
  const std::vector<int64_t> widths = {1, 1024, 1};
  const int order = 9;
  auto kernel = compile(widths, order, false);
  ASSERT_TRUE(kernel);
  void *handle = dlopen(kernel->path().c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_TRUE(handle) << dlerror();
  using Fn =
      void (*)(const float *, const float *, const float *, const float *,
               float *, float *, int64_t, int64_t, int64_t);
  auto fn = reinterpret_cast<Fn>(dlsym(handle, "ntp_kernel_backward_tiles"));
  ASSERT_TRUE(fn) << dlerror();
  const int64_t batch = 16;
  std::vector<float> x(batch, 0.5f), dir(1, 1.0f),
      params(*ntp::artifact::countParams(widths), 0.01f),
      cot((order + 1) * batch, 1.0f), grad(params.size()), xGrad(batch);
  auto call = [&] {
    fn(x.data(), dir.data(), params.data(), cot.data(), grad.data(),
       xGrad.data(), batch, 0, 1);
  };
  // The same call on a large stack works: the crash below is the stack's.
  onThreadWithStack(size_t(16) << 20, call);
  fflush(nullptr);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    onThreadWithStack(kSmallStack, call);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the small stack did not overflow";
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  dlclose(handle);
}

} // namespace
