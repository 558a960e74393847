//===- ntp-partials-bench.cpp - Partials kernels: the lowerings side by side
//===//
//
// Two tables, each row measured in one run (best of N repetitions), with the
// load average of the machine beside it:
//
//  1. The Laplacian of a tanh MLP d-64-64-64-1 (batch 1024, f64 and f32,
//     d = 2, 8, 32 by default) by one partials kernel in each lowering
//     (per-ray, multi-direction, collapsed; ntp/Support/PartialsLowering.h)
//     and the automatic choice, beside d calls of the order-2 jet kernel
//     along the unit vectors (the baseline of issue 12 item 6), with the same
//     weights, after checking that all agree. GFLOP/s of the collapsed kernel
//     from its exact operation count (what the lowering emits, primitives not
//     counted), against the machine's FMA peak measured by ntp-bench's
//     microbenchmark (tools/ntp-bench/FmaPeak.cpp) on as many threads.
//  2. All partials of total order <= 4 of a tanh 3-64-64-64-1 network (35
//     multi-indices), batch 1024: per-ray, multi-direction, multivariate
//     Taylor (35 monomials per neuron against 61 rows of 15 rays) and the
//     automatic choice, timed in turns.
//  3. The register block of ntp.affine_rays (rows x output neurons, or the
//     compiler's choice from the CPU's scheduling model, "auto"): the
//     collapsed Laplacian of table 1 and the 35 partials of table 2
//     (multi-direction) compiled with each block, timed in turns (best of
//     rounds), so that a loaded machine affects every block alike.
//
//  3. With --gated, only: the Laplacian of the modified MLP (gated tanh
//     d-64-64-64-1, batch 1024, f64 and f32, d = 2, 8 by default) in each
//     lowering (ntp.gate_rays in the multi-direction and collapsed ones).
//
// Usage: ntp-partials-bench [--gated] [--target-cpu=native]
//                           [--ray-blocks=2x2,auto] [--rounds=15]
//                           [--tables=1,2,3] [d...] (default d: 2 8 32;
//                           2 8 with --gated).
//
//===----------------------------------------------------------------------===//

#include "../ntp-bench/BenchUtil.h"
#include "../ntp-bench/FmaPeak.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Partials.h"
#include "ntp/Support/PartialsLowering.h"
#include "ntp/Support/Schedule.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/artifact.hpp"
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
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using ntp::bench::AlignedVector;
using ntp::bench::best;
using ntp::bench::loadAverage;
using ntp::bench::seconds;
using Rows = std::vector<std::vector<int32_t>>;

/// The CPU every kernel is compiled for (--target-cpu; the JIT's default,
/// native, unless asked otherwise).
std::string targetCpu = "native";
/// Rounds of table 3 (--rounds).
int blockRounds = 15;

/// A kernel compiled (forward only) into a temporary file and loaded.
struct Kernel {
  ntp_kernel *k = nullptr;
  double compileSeconds = 0;
  std::string lowering; // the artifact's partials_lowering
  ~Kernel() { ntp_kernel_free(k); }
};

std::unique_ptr<Kernel> compile(const std::vector<int64_t> &layers, bool f64,
                                int64_t order, const Rows &rows,
                                const std::string &lowering,
                                const ntp::artifact::LayerKinds &kinds = {},
                                ntp::RayBlock rayBlock = {0, 0}) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  ntp::MlpDescription description;
  description.layers = layers;
  description.isF64 = f64;
  description.order = order;
  description.partials = rows;
  description.partialsLowering = lowering;
  description.kinds = kinds;
  ntp::CompileOptions options;
  options.backward = false;
  ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
  cpu.cpu = targetCpu;
  cpu.rayRows = rayBlock.rows;
  cpu.rayNeurons = rayBlock.neurons;
  auto kernel = std::make_unique<Kernel>();
  char path[] = "/tmp/ntp-partials-bench-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return nullptr;
  close(fd);
  double t0 = seconds();
  auto module = ntp::buildMlpModule(context, description);
  std::string error;
  if (!module || !ntp::compileToSharedObject(*module, options, path, error)) {
    std::fprintf(stderr, "compile failed: %s\n", error.c_str());
    unlink(path);
    return nullptr;
  }
  kernel->compileSeconds = seconds() - t0;
  ntp_status status = ntp_kernel_load(path, &kernel->k);
  unlink(path);
  if (status != NTP_OK) {
    std::fprintf(stderr, "load failed: %s\n", ntp_last_error());
    return nullptr;
  }
  kernel->lowering = ntp_kernel_partials_lowering(kernel->k, /*reverse=*/0);
  return kernel;
}

/// Exact flops per sample of a lowering (PartialsLowering's count).
int64_t flopsPerSample(const std::vector<int64_t> &layers, const Rows &rows,
                       ntp::partials::Lowering lowering, bool f64,
                       bool gated = false) {
  ntp::partials::Plan plan;
  ntp::partials::LoweringPlan lowered;
  std::string error;
  ntp::partials::LoweringNetwork network;
  network.layers = layers;
  network.activations.assign(layers.size() - 2, "tanh");
  network.tile = f64 ? 8 : 16;
  network.elementBytes = f64 ? 8 : 4;
  if (gated) {
    network.gatedInput = 0;
    network.buffers = 4;
  }
  network.invariantSeedRows = true; // as ntp-decompose-mlp on the CPU
  if (!ntp::partials::planPartials(rows, layers.front(), plan, error) ||
      !ntp::partials::planLowering(plan, rows, network, lowering, false,
                                   lowered, error))
    return 0;
  return lowered.flops;
}

template <class T> void laplacian(int d, bool f64, double peak, int threads) {
  const int64_t batch = 1024;
  std::vector<int64_t> layers = {d, 64, 64, 64, 1};
  Rows rows = {std::vector<int32_t>(d, -2)};
  std::unique_ptr<Kernel> jet = compile(layers, f64, 2, {}, "");
  const char *names[] = {"per-ray", "multi-direction", "collapsed", "auto"};
  std::unique_ptr<Kernel> kernels[4];
  for (int i = 0; i < 4; ++i)
    kernels[i] = compile(layers, f64, 2, rows, names[i]);
  if (!jet || !kernels[0] || !kernels[1] || !kernels[2] || !kernels[3])
    return;

  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  int64_t numParams = *ntp::artifact::countParams(layers);
  AlignedVector<T> params(numParams), x(batch * d);
  for (T &p : params)
    p = static_cast<T>(u(rng) * 0.3);
  for (T &v : x)
    v = static_cast<T>(u(rng));
  AlignedVector<T> jetOut(3 * batch), sum(batch), out(batch);
  std::vector<AlignedVector<T>> units(d, AlignedVector<T>(d, 0));
  for (int i = 0; i < d; ++i)
    units[i][i] = 1;
  auto viaJets = [&] {
    std::fill(sum.begin(), sum.end(), T(0));
    for (int i = 0; i < d; ++i) {
      ntp_forward(jet->k, x.data(), units[i].data(), params.data(),
                  jetOut.data(), batch);
      for (int64_t b = 0; b < batch; ++b)
        sum[b] += jetOut[2 * batch + b];
    }
  };
  viaJets();
  double worst = 0, scale = 0;
  for (auto &k : kernels) {
    std::fill(out.begin(), out.end(), T(NAN));
    if (ntp_partials(k->k, x.data(), params.data(), out.data(), batch) !=
        NTP_OK) {
      std::fprintf(stderr, "ntp_partials: %s\n", ntp_last_error());
      return;
    }
    for (int64_t b = 0; b < batch; ++b) {
      worst = std::max(worst, std::fabs(double(out[b]) - double(sum[b])));
      scale = std::max(scale, std::fabs(double(sum[b])));
    }
  }
  int reps = d >= 32 ? 10 : 30;
  std::string load = loadAverage();
  double t[4];
  for (int i = 0; i < 4; ++i)
    t[i] = best(
        [&] {
          ntp_partials(kernels[i]->k, x.data(), params.data(), out.data(),
                       batch);
        },
        reps);
  double tJets = best(viaJets, reps);
  int64_t flops =
      flopsPerSample(layers, rows, ntp::partials::Lowering::Collapsed, f64);
  double gflops = flops * double(batch) / t[2] * 1e-9;
  std::string chosen = kernels[3]->lowering.substr(
      0, kernels[3]->lowering.find(':') == std::string::npos
             ? kernels[3]->lowering.find(';')
             : kernels[3]->lowering.find(':'));
  std::printf("| %s | %d | %.0f | %.0f | %.0f | %.0f (%s) | %.0f | %.2fx | "
              "%.2fx | %lld | %.1f | %.0f%% | %.1e | %.1f / %.1f / %.1f | "
              "%s |\n",
              f64 ? "f64" : "f32", d, t[0] * 1e6, t[1] * 1e6, t[2] * 1e6,
              t[3] * 1e6, chosen.c_str(), tJets * 1e6, tJets / t[2],
              t[0] / t[2], static_cast<long long>(flops), gflops,
              100 * gflops / peak, scale > 0 ? worst / scale : worst,
              kernels[0]->compileSeconds, kernels[1]->compileSeconds,
              kernels[2]->compileSeconds, load.c_str());
  std::fflush(stdout);
  (void)threads;
}

template <class T> void allPartials(bool f64, double peak) {
  const int64_t batch = 1024;
  std::vector<int64_t> layers = {3, 64, 64, 64, 1};
  Rows rows;
  for (int n = 0; n <= 4; ++n)
    for (int a = n; a >= 0; --a)
      for (int b = n - a; b >= 0; --b)
        rows.push_back({a, b, n - a - b});
  const char *names[] = {"per-ray", "multi-direction", "multivariate", "auto"};
  std::unique_ptr<Kernel> kernels[4];
  for (int i = 0; i < 4; ++i)
    if (!(kernels[i] = compile(layers, f64, 4, rows, names[i])))
      return;
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(-1, 1);
  AlignedVector<T> params(*ntp::artifact::countParams(layers)), x(batch * 3);
  for (T &p : params)
    p = static_cast<T>(u(rng) * 0.3);
  for (T &v : x)
    v = static_cast<T>(u(rng));
  std::vector<AlignedVector<T>> outs(4, AlignedVector<T>(rows.size() * batch));
  for (int i = 0; i < 4; ++i)
    ntp_partials(kernels[i]->k, x.data(), params.data(), outs[i].data(), batch);
  // Each lowering against per-ray, relative to the largest |partial|.
  double diff = 0, scale = 0;
  for (int i = 1; i < 4; ++i)
    for (size_t j = 0; j < outs[0].size(); ++j) {
      diff = std::max(diff, std::fabs(double(outs[0][j]) - double(outs[i][j])));
      scale = std::max(scale, std::fabs(double(outs[0][j])));
    }
  std::string load = loadAverage();
  // In turns, best of 10 rounds, so that the load falls on all alike.
  double t[4] = {1e30, 1e30, 1e30, 1e30};
  for (int round = 0; round < 10; ++round)
    for (int i = 0; i < 4; ++i)
      t[i] = std::min(t[i], best(
                                [&] {
                                  ntp_partials(kernels[i]->k, x.data(),
                                               params.data(), outs[i].data(),
                                               batch);
                                },
                                1));
  int64_t f[3];
  ntp::partials::Lowering lowerings[] = {
      ntp::partials::Lowering::PerRay, ntp::partials::Lowering::MultiDirection,
      ntp::partials::Lowering::Multivariate};
  for (int i = 0; i < 3; ++i)
    f[i] = flopsPerSample(layers, rows, lowerings[i], f64);
  std::string chosen = kernels[3]->lowering.substr(
      0, kernels[3]->lowering.find(':') == std::string::npos
             ? kernels[3]->lowering.find(';')
             : kernels[3]->lowering.find(':'));
  double gflops = f[2] * double(batch) / t[2] * 1e-9;
  std::printf("| %s | %zu | %.0f | %.0f | %.0f | %.0f (%s) | %.2fx | %.2fx | "
              "%lld / %lld / %lld | %.1f (%.0f%%) | %.1e | %.1f / %.1f / "
              "%.1f | %s |\n",
              f64 ? "f64" : "f32", rows.size(), t[0] * 1e6, t[1] * 1e6,
              t[2] * 1e6, t[3] * 1e6, chosen.c_str(), t[1] / t[2], t[0] / t[2],
              static_cast<long long>(f[0]), static_cast<long long>(f[1]),
              static_cast<long long>(f[2]), gflops, 100 * gflops / peak,
              scale > 0 ? diff / scale : diff, kernels[0]->compileSeconds,
              kernels[1]->compileSeconds, kernels[2]->compileSeconds,
              load.c_str());
  std::fflush(stdout);
}

/// The Laplacian of the modified MLP (gated tanh d-64-64-64-1: U, V and
/// a gate after every hidden layer), batch 1024, in each lowering.
template <class T> void gatedLaplacian(int d, bool f64) {
  const int64_t batch = 1024;
  std::vector<int64_t> layers = {d, 64, 64, 64, 1};
  ntp::artifact::LayerKinds kinds;
  kinds.gated = true;
  Rows rows = {std::vector<int32_t>(d, -2)};
  const char *names[] = {"per-ray", "multi-direction", "collapsed", "auto"};
  std::unique_ptr<Kernel> kernels[4];
  for (int i = 0; i < 4; ++i)
    if (!(kernels[i] = compile(layers, f64, 2, rows, names[i], kinds)))
      return;
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  AlignedVector<T> params(*ntp::artifact::countParams(layers, kinds)),
      x(batch * d);
  for (T &p : params)
    p = static_cast<T>(u(rng) * 0.3);
  for (T &v : x)
    v = static_cast<T>(u(rng));
  AlignedVector<T> first(batch), out(batch);
  double worst = 0, scale = 0;
  for (int i = 0; i < 4; ++i) {
    std::fill(out.begin(), out.end(), T(NAN));
    if (ntp_partials(kernels[i]->k, x.data(), params.data(),
                     (i ? out : first).data(), batch) != NTP_OK) {
      std::fprintf(stderr, "ntp_partials: %s\n", ntp_last_error());
      return;
    }
    for (int64_t b = 0; i && b < batch; ++b) {
      worst = std::max(worst, std::fabs(double(out[b]) - double(first[b])));
      scale = std::max(scale, std::fabs(double(first[b])));
    }
  }
  int reps = d >= 32 ? 10 : 30;
  std::string load = loadAverage();
  double t[4];
  for (int i = 0; i < 4; ++i)
    t[i] = best(
        [&] {
          ntp_partials(kernels[i]->k, x.data(), params.data(), out.data(),
                       batch);
        },
        reps);
  using ntp::partials::Lowering;
  int64_t flops[3] = {
      flopsPerSample(layers, rows, Lowering::PerRay, f64, true),
      flopsPerSample(layers, rows, Lowering::MultiDirection, f64, true),
      flopsPerSample(layers, rows, Lowering::Collapsed, f64, true)};
  const std::string &a = kernels[3]->lowering;
  std::string chosen = a.substr(0, a.find_first_of(":;"));
  std::printf(
      "| %s | %d | %.0f | %.0f | %.0f | %.0f (%s) | %.2fx | %.2fx | "
      "%lld / %lld / %lld | %.1f | %.1e | %s |\n",
      f64 ? "f64" : "f32", d, t[0] * 1e6, t[1] * 1e6, t[2] * 1e6, t[3] * 1e6,
      chosen.c_str(), t[0] / t[1], t[0] / t[2],
      static_cast<long long>(flops[0]), static_cast<long long>(flops[1]),
      static_cast<long long>(flops[2]), flops[2] * double(batch) / t[2] * 1e-9,
      scale > 0 ? worst / scale : worst, load.c_str());
  std::fflush(stdout);
}

/// Table 3: one request compiled with each ray block, timed in turns.
template <class T>
void blocks(const char *what, const std::vector<int64_t> &layers, int64_t order,
            const Rows &rows, const std::string &lowering,
            ntp::partials::Lowering counted, bool f64, double peak,
            const std::vector<ntp::RayBlock> &shapes) {
  const int64_t batch = 1024;
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (ntp::RayBlock shape : shapes) {
    kernels.push_back(compile(layers, f64, order, rows, lowering, {}, shape));
    if (!kernels.back())
      return;
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  AlignedVector<T> params(*ntp::artifact::countParams(layers)),
      x(batch * layers.front());
  for (T &p : params)
    p = static_cast<T>(u(rng) * 0.3);
  for (T &v : x)
    v = static_cast<T>(u(rng));
  size_t outSize = rows.size() * batch * layers.back();
  std::vector<AlignedVector<T>> outs(kernels.size(), AlignedVector<T>(outSize));
  for (size_t i = 0; i < kernels.size(); ++i)
    ntp_partials(kernels[i]->k, x.data(), params.data(), outs[i].data(), batch);
  std::string load = loadAverage();
  // Rounds of a few calls of each kernel in turn; the best call of each.
  std::vector<double> t(kernels.size(), 1e30);
  for (int round = 0; round < blockRounds; ++round)
    for (size_t i = 0; i < kernels.size(); ++i)
      t[i] = std::min(t[i], best(
                                [&] {
                                  ntp_partials(kernels[i]->k, x.data(),
                                               params.data(), outs[i].data(),
                                               batch);
                                },
                                3));
  int64_t flops = flopsPerSample(layers, rows, counted, f64);
  for (size_t i = 0; i < kernels.size(); ++i) {
    // Every block computes the same sums in the same order: bitwise equal.
    bool same = outs[i] == outs[0];
    double gflops = flops * double(batch) / t[i] * 1e-9;
    std::string name = shapes[i].rows == 0
                           ? "auto"
                           : std::to_string(shapes[i].rows) + "x" +
                                 std::to_string(shapes[i].neurons);
    std::printf("| %s | %s | %s | %.0f | %.2fx | %.1f | %.0f%% | %s | %s |\n",
                what, f64 ? "f64" : "f32", name.c_str(), t[i] * 1e6,
                t[0] / t[i], gflops, 100 * gflops / peak, same ? "yes" : "NO",
                load.c_str());
  }
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> dims;
  bool gated = false;
  std::vector<ntp::RayBlock> shapes = {{2, 2}, {0, 0}};
  std::string tables = "1,2,3";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--gated") {
      gated = true;
    } else if (arg.rfind("--target-cpu=", 0) == 0) {
      targetCpu = arg.substr(13);
    } else if (arg.rfind("--rounds=", 0) == 0) {
      blockRounds = std::max(1, std::atoi(arg.c_str() + 9));
    } else if (arg.rfind("--tables=", 0) == 0) {
      tables = arg.substr(9);
    } else if (arg.rfind("--ray-blocks=", 0) == 0) {
      shapes.clear();
      std::string list = arg.substr(13) + ",";
      for (size_t p = 0, q; (q = list.find(',', p)) != std::string::npos;
           p = q + 1) {
        std::string item = list.substr(p, q - p);
        int r = 0, n = 0;
        if (item == "auto")
          shapes.push_back({0, 0});
        else if (std::sscanf(item.c_str(), "%dx%d", &r, &n) == 2 && r >= 1 &&
                 r <= 8 && n >= 1 && n <= 8)
          shapes.push_back({r, n});
        else {
          std::fprintf(stderr,
                       "--ray-blocks takes RxN (1..8) or auto, got "
                       "'%s'\n",
                       item.c_str());
          return 1;
        }
      }
    } else if (!arg.empty() && arg[0] != '-' && std::atoi(arg.c_str()) > 0) {
      dims.push_back(std::atoi(arg.c_str()));
    } else {
      std::fprintf(stderr,
                   "usage: ntp-partials-bench [--gated] [--target-cpu=CPU] "
                   "[--ray-blocks=RxN,...,auto] [--rounds=N] "
                   "[--tables=1,2,3] [d...]\n");
      return 1;
    }
  }
  if (dims.empty())
    dims = gated ? std::vector<int>{2, 8} : std::vector<int>{2, 8, 32};
  int threads = ntp::bench::availableCpus();
  if (const char *env = std::getenv("NTP_NUM_THREADS"))
    threads = std::max(1, std::atoi(env));
  char host[256] = "?";
  gethostname(host, sizeof(host));
  std::printf("machine: %s, %u hardware threads, %d used; load average at "
              "start %s; kernels for --target-cpu=%s\n",
              host, std::thread::hardware_concurrency(), threads,
              loadAverage().c_str(), targetCpu.c_str());
  // Best of a longer run: other builders' load lowers it (the kernels'
  // best-of-N catch the quiet moments, so a peak measured in a busy one
  // would overstate their fraction).
  if (gated) {
    std::printf("Laplacian of the modified MLP (gated tanh d-64-64-64-1), "
                "batch 1024, best of N (us); speed-ups over per-ray; GFLOP/s "
                "of the collapsed kernel from its exact flop count\n");
    std::printf("| dtype | d | per-ray | multi-direction | collapsed | auto "
                "(choice) | multi vs per-ray | collapsed vs per-ray | "
                "flops/sample (per-ray / multi / collapsed) | GFLOP/s "
                "(collapsed) | max rel. difference | load avg |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int d : dims) {
      gatedLaplacian<double>(d, true);
      gatedLaplacian<float>(d, false);
    }
    return 0;
  }
  ntp::bench::FmaPeak peak64 = ntp::bench::measureFmaPeak(true, threads, 1.0);
  ntp::bench::FmaPeak peak32 = ntp::bench::measureFmaPeak(false, threads, 1.0);
  std::printf("FMA peak (%s, %d threads, measured now): f64 %.1f GFLOP/s, "
              "f32 %.1f GFLOP/s\n\n",
              peak64.instruction.c_str(), threads, peak64.gflops,
              peak32.gflops);
  if (tables.find('1') != std::string::npos) {
    std::printf("Laplacian of tanh d-64-64-64-1, batch 1024, best of N (us); "
                "speed-ups of the collapsed kernel; GFLOP/s of the collapsed "
                "kernel from its exact flop count\n");
    std::printf(
        "| dtype | d | per-ray | multi-direction | collapsed | auto "
        "(choice) | d order-2 jet calls | collapsed vs jets | collapsed "
        "vs per-ray | flops/sample (collapsed) | GFLOP/s | of FMA peak "
        "| max rel. difference | compile s (per-ray / multi / "
        "collapsed) | load avg |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        "\n");
    for (int d : dims) {
      laplacian<double>(d, true, peak64.gflops, threads);
      laplacian<float>(d, false, peak32.gflops, threads);
    }
  }
  if (tables.find('2') != std::string::npos) {
    std::printf("\nAll 35 partials of total order <= 4 of tanh 3-64-64-64-1, "
                "batch 1024, best of 10 rounds in turns (us); speed-ups of "
                "the multivariate kernel; its GFLOP/s from its exact flop "
                "count\n");
    std::printf(
        "| dtype | partials | per-ray | multi-direction | multivariate | "
        "auto (choice) | multivariate vs multi | multivariate vs per-ray | "
        "flops/sample (per-ray / multi / multivariate) | GFLOP/s (of FMA "
        "peak) | max rel. difference | compile s (per-ray / multi / "
        "multivariate) | load avg |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    allPartials<double>(true, peak64.gflops);
    allPartials<float>(false, peak32.gflops);
  }
  if (tables.find('3') != std::string::npos) {
    std::printf("\nRegister block of ntp.affine_rays (rows x output neurons; "
                "auto: chosen from the CPU's scheduling model), batch 1024, "
                "best of %d rounds x 3 calls in turns (us); speed-up over "
                "the first block; GFLOP/s from the exact flop count\n",
                blockRounds);
    std::printf("| request | dtype | block | us | speed-up | GFLOP/s | of FMA "
                "peak | bitwise equal | load avg |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    for (int d : dims) {
      std::vector<int64_t> layers = {d, 64, 64, 64, 1};
      Rows rows = {std::vector<int32_t>(d, -2)};
      std::string what = "Laplacian d=" + std::to_string(d) + " collapsed";
      blocks<double>(what.c_str(), layers, 2, rows, "collapsed",
                     ntp::partials::Lowering::Collapsed, true, peak64.gflops,
                     shapes);
      blocks<float>(what.c_str(), layers, 2, rows, "collapsed",
                    ntp::partials::Lowering::Collapsed, false, peak32.gflops,
                    shapes);
    }
    Rows all;
    for (int n = 0; n <= 4; ++n)
      for (int a = n; a >= 0; --a)
        for (int b = n - a; b >= 0; --b)
          all.push_back({a, b, n - a - b});
    blocks<double>("35 partials multi-direction", {3, 64, 64, 64, 1}, 4, all,
                   "multi-direction", ntp::partials::Lowering::MultiDirection,
                   true, peak64.gflops, shapes);
    blocks<float>("35 partials multi-direction", {3, 64, 64, 64, 1}, 4, all,
                  "multi-direction", ntp::partials::Lowering::MultiDirection,
                  false, peak32.gflops, shapes);
  }
  return 0;
}
