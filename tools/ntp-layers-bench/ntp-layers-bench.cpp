//===- ntp-layers-bench.cpp - Typed layers beside the plain MLP -----------===//
//
// Times the forward (jet) and the training step (forward-save +
// backward-saved) of networks with typed layers beside the plain MLP of the
// same widths (2-32-32-32-1 tanh, batch 256, f64 and f32), at orders 1..9,
// in one run: best of N repetitions, one table, the ratio typed / plain per
// row. What it shows is the cost of the typed layers' extra jet ops
// (ntp.scale, ntp.add_jets, ntp.fourier_project plus a sin activation of
// width 2m; the gated network's U and V layers and ntp.gate_jets, a Leibniz
// product per hidden layer), not a comparison with another framework. Usage:
// ntp-layers-bench [max-order] [min-order] (default 9 and 1).
//
//===----------------------------------------------------------------------===//

#include "ntp/JIT/Jit.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
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

struct Network {
  const char *name;
  std::vector<std::string> slopes;
  std::vector<bool> residual;
  int fourier;
  bool gated = false; // the modified MLP
};

/// Forward and training-step seconds per call of `net` at `order`.
template <class T>
std::pair<double, double> time(const Network &net, int order, ntp::Dtype dtype,
                               int reps) {
  const int64_t batch = 256;
  ntp::MlpSpec spec;
  spec.layers = {2, 32, 32, 32, 1};
  spec.order = order;
  spec.dtype = dtype;
  spec.slopes = net.slopes;
  spec.residual = net.residual;
  spec.fourier = net.fourier;
  spec.gated = net.gated;
  ntp::JitOptions options;
  options.useCache = false;
  ntp::Kernel k = ntp::compile(spec, options);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> params(k.info().num_params), x(batch * 2),
      v = {T(0.6), T(0.8)};
  for (T &p : params)
    p = T(0.3 * u(rng));
  for (T &e : x)
    e = T(u(rng));
  std::vector<T> out(size_t(order + 1) * batch), cot(out.size(), T(1)),
      grad(params.size());
  std::vector<unsigned char> workspace(k.workspaceBytes(batch));
  T *ws = reinterpret_cast<T *>(workspace.data());
  double forward = best(
      [&] {
        k.forward(x.data(), x.size(), v.data(), v.size(), params.data(),
                  params.size(), out.data(), out.size(), batch);
      },
      reps);
  double step = best(
      [&] {
        k.forwardSave(x.data(), v.data(), params.data(), out.data(), ws, batch);
        k.backwardSaved(x.data(), v.data(), params.data(), cot.data(),
                        grad.data(), static_cast<T *>(nullptr), ws, batch);
      },
      reps);
  return {forward, step};
}

template <class T> void table(ntp::Dtype dtype, int maxOrder, int minOrder) {
  const std::vector<Network> networks = {
      {"plain", {}, {}, 0},
      {"slopes per neuron", {"neuron", "neuron", "neuron"}, {}, 0},
      {"residual", {}, {false, true, true}, 0},
      {"fourier 16", {}, {}, 16},
      {"all three", {"neuron", "neuron", "neuron"}, {false, true, true}, 16},
      {"gated", {}, {}, 0, true},
      {"gated fourier 16", {}, {}, 16, true},
  };
  std::printf("\n%s, 2-32-32-32-1 tanh, batch 256, best of 20 (us per call; "
              "ratio to plain)\n",
              dtype == ntp::Dtype::F64 ? "f64" : "f32");
  std::printf("%-5s  %-18s  %12s  %6s  %14s  %6s\n", "order", "network",
              "forward", "ratio", "training step", "ratio");
  for (int order = 1; order <= maxOrder; order += order < 3 ? 1 : 2) {
    if (order < minOrder)
      continue;
    std::pair<double, double> plain{0, 0};
    for (const Network &net : networks) {
      std::pair<double, double> t = time<T>(net, order, dtype, 20);
      if (&net == &networks.front())
        plain = t;
      std::printf("%-5d  %-18s  %12.1f  %6.2f  %14.1f  %6.2f\n", order,
                  net.name, t.first * 1e6, t.first / plain.first,
                  t.second * 1e6, t.second / plain.second);
    }
  }
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: %s [max-order [min-order]]  (1 <= min-order <= "
                "max-order <= 32; default 9 and 1)\n",
                argv[0]);
    return 0;
  }
  // Whole integers only: atoi read "9x" as 9 and "x" as 0.
  long orders[2] = {9, 1};
  bool ok = argc <= 3;
  for (int i = 1; ok && i < argc; ++i) {
    char *end = nullptr;
    orders[i - 1] = std::strtol(argv[i], &end, 10);
    ok = end != argv[i] && *end == '\0';
  }
  int maxOrder = static_cast<int>(orders[0]),
      minOrder = static_cast<int>(orders[1]);
  if (!ok || orders[0] < 1 || orders[0] > 32 || orders[1] < 1 ||
      orders[1] > orders[0]) {
    std::fprintf(stderr,
                 "ntp-layers-bench: error: the arguments are the maximum "
                 "order (an integer in 1..32) and optionally the minimum order "
                 "(an integer in 1..maximum)\n");
    return 2;
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::printf("ntp-layers-bench: %u hardware threads, load average %s at "
              "start, NTP_NUM_THREADS=%s\n",
              std::thread::hardware_concurrency(), load.c_str(),
              std::getenv("NTP_NUM_THREADS") ? std::getenv("NTP_NUM_THREADS")
                                             : "(default)");
  try {
    table<double>(ntp::Dtype::F64, maxOrder, minOrder);
    table<float>(ntp::Dtype::F32, maxOrder, minOrder);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ntp-layers-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
