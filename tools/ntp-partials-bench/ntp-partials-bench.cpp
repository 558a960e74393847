//===- ntp-partials-bench.cpp - The Laplacian: partials kernel vs jets ----===//
//
// Times the Laplacian of a tanh MLP d-64-64-64-1 (batch 1024) computed by
// one partials kernel (--operator laplacian) beside d calls of the order-2
// jet kernel along the unit vectors (the baseline of issue 12 item 6), with
// the same weights, after checking that both agree. Best of N repetitions,
// in one run; prints a table. Usage: ntp-partials-bench [d...] (default 2 8
// 32).
//
//===----------------------------------------------------------------------===//

#include "ntp/JIT/Jit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

template <class F> double best(F &&f, int reps) {
  double b = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds();
    f();
    b = std::min(b, seconds() - t0);
  }
  return b;
}

template <class T> void run(int d, ntp::Dtype dtype) {
  const int64_t batch = 1024;
  ntp::MlpSpec spec;
  spec.layers = {d, 64, 64, 64, 1};
  spec.activation = "tanh";
  spec.dtype = dtype;
  ntp::JitOptions options;
  options.backward = false;
  options.useCache = false;
  double c0 = seconds();
  ntp::Kernel jet = ntp::compile(
      ntp::MlpSpec{spec.layers, spec.activation, 2, dtype, {}}, options);
  double jetCompile = seconds() - c0;
  spec.partials = {std::vector<int32_t>(d, -2)};
  c0 = seconds();
  ntp::Kernel lap = ntp::compile(spec, options);
  double lapCompile = seconds() - c0;

  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> params(jet.info().num_params), x(batch * d);
  for (T &p : params)
    p = static_cast<T>(u(rng) * 0.3);
  for (T &v : x)
    v = static_cast<T>(u(rng));
  std::vector<T> out, jetOut(3 * batch), sum(batch);
  std::vector<std::vector<T>> units(d, std::vector<T>(d, 0));
  for (int i = 0; i < d; ++i)
    units[i][i] = 1;
  auto viaJets = [&] {
    std::fill(sum.begin(), sum.end(), T(0));
    for (int i = 0; i < d; ++i) {
      jet.forward(x.data(), x.size(), units[i].data(), units[i].size(),
                  params.data(), params.size(), jetOut.data(), jetOut.size(),
                  batch);
      for (int64_t b = 0; b < batch; ++b)
        sum[b] += jetOut[2 * batch + b];
    }
  };
  lap.partials(x, params, out);
  viaJets();
  double err = 0, scale = 0;
  for (int64_t b = 0; b < batch; ++b) {
    err = std::max(err, std::fabs(double(out[b]) - double(sum[b])));
    scale = std::max(scale, std::fabs(double(sum[b])));
  }
  int reps = d >= 32 ? 5 : 20;
  double tLap = best([&] { lap.partials(x, params, out); }, reps);
  double tJets = best(viaJets, reps);
  std::printf("| %s | %d | %.1f | %.1f | %.2fx | %.1e | %.1f | %.1f |\n",
              dtype == ntp::Dtype::F64 ? "f64" : "f32", d, tLap * 1e6,
              tJets * 1e6, tJets / tLap, scale > 0 ? err / scale : err,
              lapCompile, jetCompile);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> dims;
  for (int i = 1; i < argc; ++i)
    dims.push_back(std::atoi(argv[i]));
  if (dims.empty())
    dims = {2, 8, 32};
  std::printf("Laplacian of tanh d-64-64-64-1, batch 1024, best of N, "
              "NTP_NUM_THREADS=%s\n",
              std::getenv("NTP_NUM_THREADS") ? std::getenv("NTP_NUM_THREADS")
                                             : "(default)");
  std::printf("| dtype | d | partials kernel (us) | d order-2 jet calls (us) | "
              "speed-up | rel. difference | compile partials (s) | compile "
              "jet (s) |\n|---|---|---|---|---|---|---|---|\n");
  for (int d : dims) {
    run<double>(d, ntp::Dtype::F64);
    run<float>(d, ntp::Dtype::F32);
  }
  return 0;
}
