//===- ntp-partials-reverse-bench.cpp - The reverse mode of partials kernels
//===//
//
// The training step of a Laplacian loss on a tanh MLP d-64-64-64-1, batch
// 1024 (f64 and f32, d = 2, 8, 32 by default): one kernel compiled with the
// reverse mode following its forward's lowering (the count's choice,
// collapsed here; RaysBackward.cpp) and one with the reverse mode forced
// per-ray (ntp.partials_reverse_lowering = "per-ray", the previous
// behaviour), the same weights, points and cotangent. Per row, in one run
// (kernels taking turns, best of N): ntp_partials (the forward alone),
// ntp_partials_save, ntp_partials_backward_saved and their sum for each
// reverse mode, the ratios, and the largest relative difference of the
// gradients; wall time and the process's CPU time (which a load of other
// processes inflates much less for calls of 100 ms). The load average is
// printed beside each row.
//
// With --gated the network is the modified MLP of the same widths (U and V
// from the input, a gate after each hidden activation; issue 14): the
// reverse mode following the forward is then the gated blocks' own
// (ntp.gate_rays_vjp), against the per-ray gated reverse mode.
//
// With --partials35 the request is all 35 partials of total order <= 4 of a
// tanh 3-64-64-64-1 network (with --gated, the modified MLP): the forward
// is the multivariate lowering and the reverse mode following it its own
// (ntp.activate_poly_vjp, ntp.gate_poly_vjp), against per ray.
//
// Usage: ntp-partials-reverse-bench [--gated] [--partials35] [d...]
// (default 2 8 32; with --gated 2 8).
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/runtime.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace {

using Rows = std::vector<std::vector<int32_t>>;

/// --gated: the modified MLP instead of the plain one.
bool gated = false;
/// --partials35: all 35 partials of order <= 4 in 3 inputs, not a Laplacian.
bool partials35 = false;

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// CPU seconds of the whole process (every runtime thread): under a load
/// of other processes a call's wall time grows with the time slices it
/// waits for, its CPU time does not.
double cpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

struct Kernel {
  ntp_kernel *k = nullptr;
  std::string reverse; // the artifact's reverse lowering
  ~Kernel() { ntp_kernel_free(k); }
};

std::unique_ptr<Kernel> compile(const std::vector<int64_t> &layers, bool f64,
                                const Rows &rows, int order,
                                const std::string &reverse) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  ntp::MlpDescription description;
  description.layers = layers;
  description.isF64 = f64;
  description.order = order;
  description.partials = rows;
  description.partialsReverseLowering = reverse;
  description.kinds.gated = gated;
  ntp::CompileOptions options;
  options.backward = true;
  auto kernel = std::make_unique<Kernel>();
  char path[] = "/tmp/ntp-partials-reverse-bench-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return nullptr;
  close(fd);
  auto module = ntp::buildMlpModule(context, description);
  std::string error;
  if (!module || !ntp::compileToSharedObject(*module, options, path, error)) {
    std::fprintf(stderr, "compile failed: %s\n", error.c_str());
    unlink(path);
    return nullptr;
  }
  ntp_status status = ntp_kernel_load(path, &kernel->k);
  unlink(path);
  if (status != NTP_OK) {
    std::fprintf(stderr, "load failed: %s\n", ntp_last_error());
    return nullptr;
  }
  kernel->reverse = ntp_kernel_partials_lowering(kernel->k, /*reverse=*/1);
  return kernel;
}

template <class T> void row(int d, bool f64, int reps) {
  const int64_t batch = 1024;
  std::vector<int64_t> layers = {d, 64, 64, 64, 1};
  Rows rows;
  int order = 2;
  if (partials35) {
    // Every multi-index of total order <= 4 in d = 3 inputs.
    order = 4;
    for (int32_t a = 0; a <= order; ++a)
      for (int32_t b = 0; a + b <= order; ++b)
        for (int32_t c = 0; a + b + c <= order; ++c)
          rows.push_back({a, b, c});
  } else {
    ntp::partials::Row lap;
    std::string error;
    if (!ntp::partials::operatorRow(ntp::partials::kLaplacian, {}, d, lap,
                                    error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return;
    }
    rows = {lap};
  }
  auto fast = compile(layers, f64, rows, order, "auto");
  auto slow = compile(layers, f64, rows, order, "per-ray");
  if (!fast || !slow)
    return;
  ntp_kernel_info info;
  if (ntp_kernel_info_get(fast->k, &info) != NTP_OK)
    return;
  int64_t P = info.num_params;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  int64_t outputs = static_cast<int64_t>(rows.size()) * batch;
  std::vector<T> params(P), x(batch * d), cot(outputs), out(outputs), grad(P),
      xGrad(batch * d), grad2(P), xGrad2(batch * d);
  for (int64_t i = 0; i < P; ++i)
    params[i] = T(normal(rng) * 0.2);
  for (auto &v : x)
    v = T(normal(rng));
  for (auto &v : cot)
    v = T(normal(rng) / batch);
  int64_t bytesFast = 0, bytesSlow = 0;
  ntp_workspace_size(fast->k, batch, &bytesFast);
  ntp_workspace_size(slow->k, batch, &bytesSlow);
  std::vector<char> wsFast(bytesFast), wsSlow(bytesSlow);
  double tForward = 1e30, saveFast = 1e30, backFast = 1e30, saveSlow = 1e30,
         backSlow = 1e30;
  double cForward = 1e30, cSaveFast = 1e30, cBackFast = 1e30, cSaveSlow = 1e30,
         cBackSlow = 1e30;
  double *cpuOf[] = {&cForward, &cSaveFast, &cBackFast, &cSaveSlow, &cBackSlow};
  double *wallOf[] = {&tForward, &saveFast, &backFast, &saveSlow, &backSlow};
  auto time = [&](double &best, auto &&f) {
    size_t slot = 0;
    while (wallOf[slot] != &best)
      ++slot;
    double t0 = seconds(), c0 = cpuSeconds();
    f();
    best = std::min(best, seconds() - t0);
    *cpuOf[slot] = std::min(*cpuOf[slot], cpuSeconds() - c0);
  };
  for (int r = 0; r < reps; ++r) {
    time(tForward, [&] {
      ntp_partials(fast->k, x.data(), params.data(), out.data(), batch);
    });
    time(saveFast, [&] {
      ntp_partials_save(fast->k, x.data(), params.data(), out.data(),
                        wsFast.data(), batch);
    });
    time(backFast, [&] {
      ntp_partials_backward_saved(fast->k, x.data(), params.data(), cot.data(),
                                  grad.data(), xGrad.data(), wsFast.data(),
                                  batch);
    });
    time(saveSlow, [&] {
      ntp_partials_save(slow->k, x.data(), params.data(), out.data(),
                        wsSlow.data(), batch);
    });
    time(backSlow, [&] {
      ntp_partials_backward_saved(slow->k, x.data(), params.data(), cot.data(),
                                  grad2.data(), xGrad2.data(), wsSlow.data(),
                                  batch);
    });
  }
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < P; ++i) {
    diff = std::max(diff, std::fabs(double(grad[i]) - double(grad2[i])));
    scale = std::max(scale, std::fabs(double(grad2[i])));
  }
  for (size_t i = 0; i < xGrad.size(); ++i) {
    diff = std::max(diff, std::fabs(double(xGrad[i]) - double(xGrad2[i])));
    scale = std::max(scale, std::fabs(double(xGrad2[i])));
  }
  double ms = 1e3;
  double pairFast = saveFast + backFast, pairSlow = saveSlow + backSlow;
  double cPairFast = cSaveFast + cBackFast, cPairSlow = cSaveSlow + cBackSlow;
  std::printf("| %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2fx / "
              "%.2fx | %.2f / %.2f | %.2f / %.2f | %.2fx / %.2fx | %.2fx / "
              "%.2fx | %.1e | %s | %s |\n",
              f64 ? "f64" : "f32", d, tForward * ms, cForward * ms,
              saveFast * ms, cSaveFast * ms, backFast * ms, cBackFast * ms,
              pairFast / tForward, cPairFast / cForward, saveSlow * ms,
              cSaveSlow * ms, backSlow * ms, cBackSlow * ms,
              pairSlow / tForward, cPairSlow / cForward, pairSlow / pairFast,
              cPairSlow / cPairFast, scale > 0 ? diff / scale : diff,
              fast->reverse.substr(0, fast->reverse.find(';')).c_str(),
              loadAverage().c_str());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> dims;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--gated")
      gated = true;
    else if (std::string(argv[i]) == "--partials35")
      partials35 = true;
    else if (int d = std::atoi(argv[i]); d > 0)
      dims.push_back(d);
    else {
      std::fprintf(stderr, "usage: ntp-partials-reverse-bench [--gated] "
                           "[--partials35] [d...]\n");
      return 2;
    }
  }
  if (partials35)
    dims = {3};
  else if (dims.empty())
    dims = gated ? std::vector<int>{2, 8} : std::vector<int>{2, 8, 32};
  std::printf("# %s of a tanh d-64-64-64-1 %s, batch 1024: the "
              "training pair (ntp_partials_save + "
              "ntp_partials_backward_saved), ms, best of N, default threads\n",
              partials35 ? "All 35 partials of total order <= 4" : "Laplacian",
              gated ? "modified MLP (gated)" : "MLP");
  std::printf("# each cell: wall ms / process CPU ms (best of N each); "
              "'follows': the reverse mode of the %s forward "
              "(RaysBackward.cpp), 'per-ray': forced per-ray; pair = save + "
              "backward_saved\n",
              partials35 ? "multivariate" : "collapsed");
  std::printf("| dtype | d | forward | save (follows) | backward_saved "
              "(follows) | pair / forward (follows) | save (per-ray) | "
              "backward_saved (per-ray) | pair / forward (per-ray) | per-ray "
              "pair / follows pair | max rel. grad diff | reverse lowering | "
              "load |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int d : dims) {
    int reps = d >= 32 || partials35 ? 5 : 15;
    row<double>(d, true, reps);
    row<float>(d, false, reps);
  }
  return 0;
}
