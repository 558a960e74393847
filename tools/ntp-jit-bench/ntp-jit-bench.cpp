//===- ntp-jit-bench.cpp - JIT compile latency ----------------------------===//
//
// Measures ntp_jit_compile for the 1-24-24-24-1 tanh network (f32, native
// CPU): a cold compile (empty private cache) at each order, then a cache hit
// (best of several). Usage: ntp-jit-bench [orders...] (default 9 16).
//
//===----------------------------------------------------------------------===//

#include "ntp/jit.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

static double compileMs(int order, const char *cacheDir, bool expectHit) {
  const int64_t layers[] = {1, 24, 24, 24, 1};
  ntp_jit_spec spec;
  ntp_jit_spec_init(&spec);
  spec.layers = layers;
  spec.num_layers = 5;
  spec.order = order;
  ntp_jit_options options;
  ntp_jit_options_init(&options);
  options.cache_dir = cacheDir;
  ntp_jit_report report;
  ntp_kernel *kernel = nullptr;
  if (ntp_jit_compile_report(&spec, &options, &kernel, &report) != NTP_OK) {
    std::fprintf(stderr, "ntp-jit-bench: error: %s\n", ntp_last_error());
    std::exit(1);
  }
  ntp_kernel_free(kernel);
  if (bool(report.cache_hit) != expectHit) {
    std::fprintf(stderr, "ntp-jit-bench: error: expected a cache %s\n",
                 expectHit ? "hit" : "miss");
    std::exit(1);
  }
  return report.seconds * 1e3;
}

int main(int argc, char **argv) {
  std::vector<int> orders;
  for (int i = 1; i < argc; ++i)
    orders.push_back(std::atoi(argv[i]));
  if (orders.empty())
    orders = {9, 16};
  char dir[] = "/tmp/ntp-jit-bench-XXXXXX";
  if (!mkdtemp(dir)) {
    std::perror("ntp-jit-bench: mkdtemp");
    return 1;
  }
  std::printf("# %s\n# 1-24-24-24-1 tanh f32, cpu native\n", ntp_jit_version());
  std::printf("%-6s %14s %14s\n", "order", "cold_ms", "cache_hit_ms");
  for (int order : orders) {
    double cold = compileMs(order, dir, /*expectHit=*/false);
    double hit = 1e30;
    for (int i = 0; i < 5; ++i) {
      double t = compileMs(order, dir, /*expectHit=*/true);
      hit = t < hit ? t : hit;
    }
    std::printf("%-6d %14.1f %14.2f\n", order, cold, hit);
  }
  std::string cleanup = std::string("rm -rf '") + dir + "'";
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
