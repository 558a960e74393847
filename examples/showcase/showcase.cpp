//===- showcase.cpp - Load an AOT kernel and check it ---------------------===//
//
// Loads the kernel that `ntp-compile pinn.mlir -o pinn.so` produced, evaluates
// d^k f/dx^k (k = 0..9) of a 1-24-24-24-1 tanh network at a few points, and
// prints it beside the independent reference evaluator (long double Taylor
// arithmetic, no code shared with the compiler), then the time per call.
//
//===----------------------------------------------------------------------===//

#include "TaylorReference.h"
#include "ntp/runtime.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc == 2 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: %s <kernel.so>\n", argv[0]);
    return 0;
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <kernel.so>\n", argv[0]);
    return 2;
  }
  try {
    ntp::Kernel kernel = ntp::Kernel::load(argv[1]);
    ntp_kernel_info info = kernel.info();
    std::vector<int> widths;
    for (int32_t w : kernel.layers())
      widths.push_back(w);

    // PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    std::mt19937 rng(2024);
    std::vector<double> params;
    for (size_t l = 1; l < widths.size(); ++l) {
      std::uniform_real_distribution<double> u(-1 / std::sqrt(widths[l - 1]),
                                               1 / std::sqrt(widths[l - 1]));
      for (int i = 0; i < widths[l] * widths[l - 1] + widths[l]; ++i)
        params.push_back(u(rng));
    }
    std::vector<double> x = {-1.5, -0.25, 0.0, 0.8, 2.0}, v = {1.0}, out;
    kernel.forward(x, v, params, out);

    std::vector<long double> px(params.begin(), params.end()),
        xx(x.begin(), x.end()), vv(v.begin(), v.end());
    std::vector<long double> ref =
        ntp_ref::jet(widths, ntp_ref::parseActivation(kernel.activation()),
                     info.order, px, xx, vv, static_cast<int64_t>(x.size()));

    const size_t batch = x.size();
    std::printf("ntp showcase: %s network", kernel.activation().c_str());
    for (int w : widths)
      std::printf(" %d", w);
    std::printf(", derivatives 0..%d, %s, from %s\n\n", info.order,
                info.dtype == NTP_DTYPE_F64 ? "f64" : "f32", argv[1]);
    std::printf("%3s %6s %24s %24s %10s\n", "k", "x", "ntp d^k f/dx^k",
                "reference", "rel. err");
    double worst = 0;
    for (int k = 0; k <= info.order; ++k) {
      long double scale = 0;
      for (size_t b = 0; b < batch; ++b)
        scale = std::max(scale, std::fabs(ref[k * batch + b]));
      for (size_t b = 0; b < batch; ++b) {
        double err =
            scale > 0
                ? double(std::fabs(out[k * batch + b] - ref[k * batch + b]) /
                         scale)
                : std::fabs(out[k * batch + b]);
        worst = std::max(worst, err);
        if (b == 1 || b == 3)
          std::printf("%3d %6.2f %24.15e %24.15Le %10.1e\n", k, x[b],
                      out[k * batch + b], ref[k * batch + b], err);
      }
    }
    std::printf("\nlargest error over all %zu points and orders, relative to "
                "each order's largest magnitude: %.1e\n",
                batch, worst);

    // Time per call at the paper's batch size.
    const size_t timedBatch = 256;
    std::vector<double> xs(timedBatch), ys;
    for (size_t b = 0; b < timedBatch; ++b)
      xs[b] = -2.0 + 4.0 * b / (timedBatch - 1);
    std::vector<double> times;
    for (int i = 0; i < 200; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      kernel.forward(xs, v, params, ys);
      times.push_back(std::chrono::duration<double, std::micro>(
                          std::chrono::steady_clock::now() - t0)
                          .count());
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2,
                     times.end());
    std::printf("time per call, batch %zu, all %d orders: %.1f us (median "
                "of %zu)\n",
                timedBatch, info.order + 1, times[times.size() / 2],
                times.size());
    return worst <= 1e-12 ? 0 : 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "showcase: error: %s\n", e.what());
    return 1;
  }
}
