//===- ntp-bench.cpp - Time ntp kernels beside PyTorch --------------------===//
//
// Prints one table: time per forward call and achieved GFLOP/s of ntp's CPU
// kernels for orders 0..n, and, when Python with torch is available, the
// time of PyTorch nested autograd measured in the same run, with the ratio.
// The flop count per sample is exact: it is read off the compiled expansion
// (affine: 2 * in * out per live order; activation: the Faà di Bruno DAG).
//
//===----------------------------------------------------------------------===//

#include "BenchUtil.h"
#include "FmaPeak.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/FaaDiBruno.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cl = llvm::cl;

// LLVM's own flags come in with the JIT; --help shows only this tool's.
static cl::OptionCategory benchOptions("ntp-bench options");
static cl::opt<std::string> layersFlag("layers", cl::init("1,24,24,24,1"),
                                       cl::cat(benchOptions),
                                       cl::desc("Layer widths"));
static cl::opt<std::string> activation("activation", cl::init("tanh"),
                                       cl::cat(benchOptions),
                                       cl::desc("Activation"));
static cl::opt<int> maxOrder("max-order", cl::init(9), cl::cat(benchOptions),
                             cl::desc("Orders min-order..max-order"));
static cl::opt<int> minOrder("min-order", cl::init(0), cl::cat(benchOptions),
                             cl::desc("The first order timed"));
static cl::opt<int64_t> batch("batch", cl::init(256), cl::cat(benchOptions),
                              cl::desc("Batch size"));
static cl::opt<std::string> dtypes("dtypes", cl::init("f32,f64"),
                                   cl::cat(benchOptions),
                                   cl::desc("Comma-separated dtypes"));
static cl::opt<std::string> targetCpu("target-cpu", cl::init("native"),
                                      cl::cat(benchOptions),
                                      cl::desc("LLVM CPU for the kernels"));
static cl::opt<std::string>
    torchMode("torch", cl::init("auto"), cl::cat(benchOptions),
              cl::desc("PyTorch baseline: auto (if importable), off"));
static cl::opt<std::string>
    torchScript("torch-script",
                cl::init(NTP_SOURCE_DIR "/benchmarks/torch_nested.py"),
                cl::cat(benchOptions), cl::desc("The PyTorch baseline script"));
static cl::opt<std::string> python(
    "python", cl::init(""), cl::cat(benchOptions),
    cl::desc("Python interpreter for the baseline (default: /usr/bin/python3, "
             "where Debian's python3-torch lives, else python3)"));
static cl::opt<bool>
    outline("outline", cl::init(true), cl::cat(benchOptions),
            cl::desc("Outline each neuron's expansion into a shared function"));
static cl::opt<std::string> formulation(
    "formulation", cl::init("auto"), cl::cat(benchOptions),
    cl::desc("Activation-jet formulation: auto, faa-di-bruno or taylor"));
static cl::opt<int> threadsFlag(
    "num-threads", cl::init(0), cl::cat(benchOptions),
    cl::desc("Threads of the kernels and of the FMA peak (0: the runtime's "
             "default, NTP_NUM_THREADS or the CPUs this process may use)"));
static cl::opt<std::string> tilesFlag(
    "tiles", cl::init("0"), cl::cat(benchOptions),
    cl::desc("Comma-separated samples per tile to compare (0: automatic, one "
             "512-bit vector)"));
static cl::opt<std::string> schedulesFlag(
    "schedules", cl::init("auto"), cl::cat(benchOptions),
    cl::desc("Comma-separated CPU schedules to compare, side by side: 'auto' "
             "(chosen from the CPU's scheduling model), 'base' (one neuron "
             "at a time, unblocked affine layers: the lowering before "
             "scheduling), or 'I/B/K[/H]' (interleave I neurons, affine "
             "blocks of B outputs x K orders, K = 0: all; I or B = 0: "
             "chosen; H = 0: each neuron evaluates its own activation "
             "primitives instead of a loop over the layer's before its "
             "jets, the default H = 1 as in auto)"));
static cl::opt<bool> scaling(
    "scaling", cl::init(false), cl::cat(benchOptions),
    cl::desc("Also time each forward and training step at one thread, in "
             "turns with the kernels' thread count, and print the thread "
             "scaling beside the FMA peak's (needs --num-threads > 1)"));
static cl::opt<bool> peakOnly("peak-only", cl::init(false),
                              cl::cat(benchOptions),
                              cl::desc("Print the FMA peak table and stop"));
static cl::opt<std::string> statistic(
    "statistic", cl::init("median"), cl::cat(benchOptions),
    cl::desc("Time per call reported: median, or min (the fastest call: on a "
             "loaded machine a call longer than the scheduler's time slice is "
             "often preempted, which moves the median by whole slices)"));
static cl::opt<double> minTimeMs("min-time-ms", cl::init(300),
                                 cl::cat(benchOptions),
                                 cl::desc("Time budget per measurement"));

namespace {

std::vector<int64_t> parseLayers(const std::string &text) {
  std::vector<int64_t> layers;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, ',');
  for (auto p : parts) {
    int64_t w;
    if (p.getAsInteger(10, w) || w <= 0) {
      std::fprintf(stderr, "ntp-bench: error: bad --layers '%s'\n",
                   text.c_str());
      std::exit(1);
    }
    layers.push_back(w);
  }
  return layers;
}

std::optional<ntp::JetFormulation> formulationChoice() {
  return ntp::parseJetFormulation(formulation);
}

/// Floating-point operations per sample of one forward call.
int64_t flopsPerSample(const std::vector<int64_t> &layers, int order) {
  const ntp::ActivationRule *rule = ntp::lookupActivation(activation);
  int64_t flops = 0, live = std::min(order + 1, 2);
  for (size_t l = 1; l < layers.size(); ++l) {
    flops += 2 * layers[l - 1] * layers[l] * live;
    if (l + 1 == layers.size())
      break;
    auto expansion =
        ntp::expandActivationJet(*rule, order, live, *formulationChoice());
    flops += layers[l] * expansion.graph.cost(expansion.outputs).flops();
    live = order + 1;
  }
  return flops;
}

/// Floating-point operations per sample of a training step: the forward
/// (forward-save computes the same) and backward-saved, counted the same
/// way: per affine layer, 2 * in * out per live order for the parameter
/// gradient and as much for the input cotangent, plus the bias gradient;
/// per activation, the VJP DAG of its expansion.
int64_t trainingFlopsPerSample(const std::vector<int64_t> &layers, int order) {
  const ntp::ActivationRule *rule = ntp::lookupActivation(activation);
  int64_t flops = flopsPerSample(layers, order), live = std::min(order + 1, 2);
  for (size_t l = 1; l < layers.size(); ++l) {
    flops += 4 * layers[l - 1] * layers[l] * live + layers[l];
    if (l + 1 == layers.size())
      break;
    ntp::ActivationJetVjp vjp = ntp::differentiateActivationJet(
        *rule, order, live, *formulationChoice());
    flops += layers[l] * vjp.graph.cost(vjp.inputCotangents).flops();
    live = order + 1;
  }
  return flops;
}

/// A CPU schedule of --schedules: its name and target options.
struct Schedule {
  std::string name;
  int64_t interleave = 0, affineOutputs = 0, affineOrders = 0;
  bool hoistPrimitives = true;
};

std::optional<std::vector<Schedule>> parseSchedules(const std::string &text) {
  std::vector<Schedule> result;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, ',');
  for (llvm::StringRef part : parts) {
    part = part.trim();
    Schedule schedule;
    schedule.name = part.str();
    if (part == "base") {
      schedule.interleave = schedule.affineOutputs = 1;
      schedule.hoistPrimitives = false;
    } else if (part != "auto") {
      llvm::SmallVector<llvm::StringRef> numbers;
      part.split(numbers, '/');
      int64_t hoist = 1;
      if ((numbers.size() != 3 && numbers.size() != 4) ||
          numbers[0].getAsInteger(10, schedule.interleave) ||
          numbers[1].getAsInteger(10, schedule.affineOutputs) ||
          numbers[2].getAsInteger(10, schedule.affineOrders) ||
          (numbers.size() == 4 && numbers[3].getAsInteger(10, hoist)) ||
          schedule.interleave < 0 || schedule.interleave > 8 ||
          schedule.affineOutputs < 0 || schedule.affineOutputs > 8 ||
          schedule.affineOrders < 0 || (hoist != 0 && hoist != 1))
        return std::nullopt;
      schedule.hoistPrimitives = hoist == 1;
    }
    result.push_back(schedule);
  }
  return result;
}

/// Median time in microseconds of `call`, over at least 20 repetitions.
template <class F> double callMicros(F call) {
  for (int i = 0; i < 3; ++i)
    call();
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 20 || (std::chrono::duration<double, std::milli>(
                                   std::chrono::steady_clock::now() - start)
                                       .count() < minTimeMs &&
                               times.size() < 100000)) {
    auto t0 = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double, std::micro>(
                        std::chrono::steady_clock::now() - t0)
                        .count());
  }
  if (statistic == "min")
    return *std::min_element(times.begin(), times.end());
  std::nth_element(times.begin(), times.begin() + times.size() / 2,
                   times.end());
  return times[times.size() / 2];
}

struct KernelTimes {
  double forwardUs = 0;
  double trainingUs = 0; // forward_save + backward_saved: a training step
  double backwardUs = 0; // the stateless backward (recomputes the forward)
  // With --scaling: the forward and training step at one thread and at the
  // kernels' thread count, timed in turns (the better of two rounds each).
  double forwardOneUs = 0, forwardAllUs = 0;
  double trainingOneUs = 0, trainingAllUs = 0;
};

void check(int status) {
  if (status != 0) {
    std::fprintf(stderr, "ntp-bench: error: %s\n", ntp_last_error());
    std::exit(1);
  }
}

template <class T>
KernelTimes timeKernel(ntp_kernel *kernel, const std::vector<int64_t> &layers,
                       int order, int scalingThreads) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> unit(-1, 1);
  // Checked in main.
  int64_t numParams = *ntp::artifact::countParams(layers);
  std::vector<T> params(numParams), x(batch * layers.front()),
      v(layers.front(), T(1)), out((order + 1) * batch * layers.back());
  for (auto &p : params)
    p = T(0.5 * unit(rng));
  for (auto &xi : x)
    xi = T(2 * unit(rng));
  KernelTimes times;
  times.forwardUs = callMicros([&] {
    check(ntp_forward(kernel, x.data(), v.data(), params.data(), out.data(),
                      batch));
  });
  int64_t bytes = 0;
  check(ntp_workspace_size(kernel, batch, &bytes));
  std::vector<T> workspace(bytes / sizeof(T)), cotangent(out.size(), T(1)),
      grad(numParams);
  times.trainingUs = callMicros([&] {
    check(ntp_forward_save(kernel, x.data(), v.data(), params.data(),
                           out.data(), workspace.data(), batch));
    check(ntp_backward_saved(kernel, x.data(), v.data(), params.data(),
                             cotangent.data(), grad.data(), nullptr,
                             workspace.data(), batch));
  });
  times.backwardUs = callMicros([&] {
    check(ntp_backward(kernel, x.data(), v.data(), params.data(),
                       cotangent.data(), grad.data(), batch));
  });
  if (scalingThreads > 1) {
    // In turns, so that a host changing the machine's capacity for a while
    // affects both thread counts alike.
    auto forward = [&] {
      check(ntp_forward(kernel, x.data(), v.data(), params.data(), out.data(),
                        batch));
    };
    auto training = [&] {
      check(ntp_forward_save(kernel, x.data(), v.data(), params.data(),
                             out.data(), workspace.data(), batch));
      check(ntp_backward_saved(kernel, x.data(), v.data(), params.data(),
                               cotangent.data(), grad.data(), nullptr,
                               workspace.data(), batch));
    };
    auto better = [](double &best, double t) {
      best = best == 0 ? t : std::min(best, t);
    };
    for (int round = 0; round < 2; ++round)
      for (int n : {1, scalingThreads}) {
        check(ntp_set_num_threads(n));
        better(n == 1 ? times.forwardOneUs : times.forwardAllUs,
               callMicros(forward));
        better(n == 1 ? times.trainingOneUs : times.trainingAllUs,
               callMicros(training));
      }
    check(ntp_set_num_threads(scalingThreads));
  }
  return times;
}

/// order -> (forward, total) milliseconds from the PyTorch script, empty if
/// unavailable.
std::map<int, std::pair<double, double>> torchTimes(const std::string &dtype) {
  std::map<int, std::pair<double, double>> result;
  if (torchMode == "off")
    return result;
  std::string orders;
  for (int n = 0; n <= maxOrder; ++n)
    orders += (n ? "," : "") + std::to_string(n);
  std::string interpreter = python;
  if (interpreter.empty())
    interpreter = llvm::sys::fs::exists("/usr/bin/python3") ? "/usr/bin/python3"
                                                            : "python3";
  std::string command = interpreter + " '" + torchScript + "' --layers " +
                        layersFlag + " --batch " + std::to_string(batch) +
                        " --dtype " + dtype + " --orders " + orders +
                        " 2>/dev/null";
  return ntp::bench::readTorchTimes(command);
}

} // namespace

/// Prints the FMA peak table (1 thread and `threads`, both dtypes) under
/// `title` and returns the `threads` column. On a VM whose vCPUs the host
/// sometimes runs on one core's SMT siblings, a measurement at several
/// threads can come out near the one-thread rate; such a value is measured
/// again (up to three times) and, if it stays low, noted, not hidden.
static std::map<std::string, double> printFmaPeakTable(int threads,
                                                       const char *title) {
  std::map<std::string, double> peak;
  std::printf("%s (GFLOP/s, 2 flops per FMA lane):\n\n| dtype | instruction "
              "| 1 thread | %d thread%s |\n|---|---|---|---|\n",
              title, threads, threads == 1 ? "" : "s");
  std::vector<std::string> lowScaling;
  for (const char *dtype : {"f32", "f64"}) {
    bool f64 = std::strcmp(dtype, "f64") == 0;
    ntp::bench::FmaPeak one = ntp::bench::measureFmaPeak(f64, 1);
    ntp::bench::FmaPeak all = ntp::bench::measureFmaPeak(f64, threads);
    double plausible =
        0.75 * std::min(threads, ntp::bench::availableCpus()) * one.gflops;
    for (int retry = 0; retry < 3 && all.gflops < plausible; ++retry)
      all.gflops =
          std::max(all.gflops, ntp::bench::measureFmaPeak(f64, threads).gflops);
    if (threads > 1 && all.gflops < plausible)
      lowScaling.push_back(dtype);
    peak[dtype] = all.gflops;
    std::printf("| %s | %s | %.1f | %.1f |\n", dtype, one.instruction.c_str(),
                one.gflops, all.gflops);
  }
  for (const std::string &dtype : lowScaling)
    std::printf("note: %s at %d threads stayed below 75%% of %d x the "
                "one-thread peak in four measurements (SMT siblings, or a "
                "host sharing the cores)\n",
                dtype.c_str(), threads, threads);
  std::printf("\n");
  return peak;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(benchOptions);
  cl::ParseCommandLineOptions(argc, argv,
                              "ntp-bench: time ntp jet kernels beside "
                              "PyTorch nested autograd\n");
  if (statistic != "median" && statistic != "min") {
    std::fprintf(stderr,
                 "ntp-bench: error: --statistic is median or min, got '%s'\n",
                 statistic.c_str());
    return 1;
  }
  std::vector<int64_t> layers = parseLayers(layersFlag);
  if (!ntp::artifact::countParams(layers)) {
    std::fprintf(stderr,
                 "ntp-bench: error: --layers needs at least two widths with a "
                 "parameter count that fits in int64, got '%s'\n",
                 layersFlag.c_str());
    return 1;
  }
  if (batch < 1 || batch > (int64_t(1) << 24)) {
    std::fprintf(stderr,
                 "ntp-bench: error: --batch must be in 1..16777216, got %lld\n",
                 (long long)batch.getValue());
    return 1;
  }
  if (maxOrder < 0 || maxOrder > ntp::kMaxOrder) {
    std::fprintf(stderr,
                 "ntp-bench: error: --max-order must be in 0..%lld, got %d\n",
                 (long long)ntp::kMaxOrder, maxOrder.getValue());
    return 1;
  }
  if (!ntp::lookupActivation(activation)) {
    std::fprintf(stderr, "ntp-bench: error: unknown activation '%s'\n",
                 activation.c_str());
    return 1;
  }
  if (!formulationChoice()) {
    std::fprintf(stderr, "ntp-bench: error: unknown --formulation '%s'\n",
                 formulation.c_str());
    return 1;
  }
  if (torchMode != "auto" && torchMode != "off") {
    std::fprintf(stderr, "ntp-bench: error: --torch must be auto or off\n");
    return 1;
  }
  if (threadsFlag < 0 || threadsFlag > 4096) {
    std::fprintf(stderr,
                 "ntp-bench: error: --num-threads must be in 0..4096, "
                 "got %d\n",
                 threadsFlag.getValue());
    return 1;
  }
  std::vector<int64_t> tiles;
  {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(tilesFlag).split(parts, ',');
    for (llvm::StringRef part : parts) {
      int64_t tile;
      if (part.trim().getAsInteger(10, tile) || tile < 0 ||
          tile > ntp::artifact::kMaxTile) {
        std::fprintf(stderr,
                     "ntp-bench: error: --tiles takes numbers in 0..%lld "
                     "(0: automatic), got '%s'\n",
                     (long long)ntp::artifact::kMaxTile, tilesFlag.c_str());
        return 1;
      }
      tiles.push_back(tile);
    }
  }
  std::optional<std::vector<Schedule>> schedules =
      parseSchedules(schedulesFlag);
  if (!schedules) {
    std::fprintf(stderr,
                 "ntp-bench: error: --schedules takes auto, base or "
                 "I/B/K[/H] (I, B in 0..8, K >= 0, H 0 or 1), got '%s'\n",
                 schedulesFlag.c_str());
    return 1;
  }
  int threads = threadsFlag;
  if (threads > 0) {
    check(ntp_set_num_threads(threads));
  } else {
    const char *env = std::getenv("NTP_NUM_THREADS");
    threads = env && std::atoi(env) > 0 ? std::atoi(env)
                                        : ntp::bench::availableCpus();
  }
  if (scaling && threads < 2) {
    std::fprintf(stderr,
                 "ntp-bench: error: --scaling compares one thread "
                 "with the kernels' thread count, which is %d: pass "
                 "--num-threads=2 or more\n",
                 threads);
    return 1;
  }
  // What the hardware allows, measured in this run: every row's fraction is
  // of the peak at the kernels' thread count. Measured again after the
  // kernels, since a shared host can take capacity away for minutes.
  std::map<std::string, double> peak = printFmaPeakTable(
      threads, "FMA peak, measured in this run before the kernels");
  if (peakOnly)
    return 0;
  int scalingThreads = scaling ? threads : 0;
  struct ScalingRow {
    std::string dtype, schedule;
    int order;
    KernelTimes times;
    double peakOne, peakAll;
  };
  std::vector<ScalingRow> scalingRows;

  llvm::SmallString<128> dir;
  if (llvm::sys::fs::createUniqueDirectory("ntp-bench", dir)) {
    std::fprintf(stderr, "ntp-bench: error: cannot create a temp directory\n");
    return 1;
  }

  std::string cpu = targetCpu == "native" ? llvm::sys::getHostCPUName().str()
                                          : targetCpu.getValue();
  std::printf("ntp-bench: layers %s, %s, batch %lld, CPU kernels for %s, "
              "%d threads (%u hardware threads)\n",
              layersFlag.c_str(), activation.c_str(), (long long)batch,
              cpu.c_str(), threads, std::thread::hardware_concurrency());
  std::printf(
      "fwd = one call producing every order 0..n; total = forward that saves "
      "the jets + generated backward of <c, out> (a training step); bwd "
      "(recompute) = the stateless ntp_backward; ntp times are %ss; "
      "speed-up = PyTorch nested autograd / ntp, measured in this run; %% of "
      "FMA peak = of the peak beside the row (the larger of two short "
      "measurements at the kernels' thread count, just before and just "
      "after the row's timings)\n\n",
      statistic.c_str());
  {
    // What 'auto' derives its choices from, and what it chooses.
    ntp::CpuTargetOptions cpuOptions;
    cpuOptions.cpu = targetCpu;
    std::string error;
    std::unique_ptr<llvm::TargetMachine> machine =
        ntp::createCpuTargetMachine(cpuOptions, error);
    ntp::MachineVectorFacts facts;
    if (machine)
      facts = ntp::cpuVectorFacts(*machine);
    std::printf("CPU facts from LLVM's scheduling model: %s\n",
                facts.known() ? facts.str().c_str() : "unknown");
    for (int bits : {32, 64}) {
      int64_t lanes = ntp::artifact::defaultTile(
          bits == 64 ? ntp::artifact::Dtype::F64 : ntp::artifact::Dtype::F32);
      ntp::AffineBlock first = ntp::chooseAffineBlock(facts, lanes, bits, 2,
                                                      layers[1]),
                       deep = ntp::chooseAffineBlock(facts, lanes, bits, 10,
                                                     layers[1]);
      std::printf("auto, f%d, tile %lld: interleave %lld (order 3), %lld "
                  "(order 9), affine blocks "
                  "(outputs x orders, 0: all) %lld x %lld (2 live orders), "
                  "%lld x %lld (10 live orders), width %lld\n",
                  bits, (long long)lanes,
                  (long long)ntp::chooseInterleave(facts, lanes, bits, 4),
                  (long long)ntp::chooseInterleave(facts, lanes, bits, 10),
                  (long long)first.outputs, (long long)first.orders,
                  (long long)deep.outputs, (long long)deep.orders,
                  (long long)layers[1]);
    }
  }
  std::printf(
      "schedule: auto = chosen from the CPU's LLVM scheduling model, base = "
      "one neuron at a time, unblocked affine layers and primitives in "
      "each neuron's arithmetic, I/B/K = I interleaved neurons, affine "
      "blocks of B outputs x K orders (/0: primitives not hoisted); GFLOP/s "
      "total counts forward-save + backward-saved like the forward\n\n");
  std::printf(
      "| dtype | n | tile | schedule | ntp fwd (us) | GFLOP/s fwd | %% of FMA "
      "peak | ntp total (us) | GFLOP/s total | %% of peak total | ntp bwd "
      "recompute (us) | total/fwd | PyTorch "
      "fwd (ms) | PyTorch total (ms) | speed-up fwd | speed-up total "
      "| FMA peak beside the row |\n");
  std::printf(
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
      "\n");

  std::map<std::string, double> peakBefore = peak;
  llvm::SmallVector<llvm::StringRef> dtypeList;
  llvm::StringRef(dtypes).split(dtypeList, ',');
  for (llvm::StringRef dtype : dtypeList) {
    if (dtype != "f32" && dtype != "f64") {
      std::fprintf(stderr, "ntp-bench: error: bad dtype '%s'\n",
                   dtype.str().c_str());
      return 1;
    }
    std::map<int, std::pair<double, double>> torch = torchTimes(dtype.str());
    for (int order = std::max(0, minOrder.getValue()); order <= maxOrder;
         ++order) {
      for (int64_t tile : tiles)
        for (const Schedule &schedule : *schedules) {
          mlir::DialectRegistry registry;
          ntp::registerNtpCompilerDialects(registry);
          mlir::MLIRContext context(registry);
          ntp::MlpDescription description;
          description.layers = layers;
          description.activation = activation;
          description.order = order;
          description.isF64 = dtype == "f64";
          auto module = ntp::buildMlpModule(context, description);
          ntp::CompileOptions options;
          ntp::CpuTargetOptions &cpuOptions =
              options.get<ntp::CpuTargetOptions>();
          cpuOptions.cpu = targetCpu;
          cpuOptions.interleave = schedule.interleave;
          cpuOptions.affineOutputs = schedule.affineOutputs;
          cpuOptions.affineOrders = schedule.affineOrders;
          cpuOptions.hoistPrimitives = schedule.hoistPrimitives;
          options.outline = outline;
          options.formulation = *formulationChoice();
          options.tileSize = tile;
          std::string path = (dir + "/k" + dtype + std::to_string(order) + "-" +
                              std::to_string(tile) + "-" +
                              std::to_string(&schedule - schedules->data()) +
                              ".so")
                                 .str(),
                      error;
          if (!module ||
              !ntp::compileToSharedObject(*module, options, path, error)) {
            std::fprintf(stderr, "ntp-bench: error: %s\n", error.c_str());
            return 1;
          }
          ntp_kernel *kernel = nullptr;
          if (ntp_kernel_load(path.c_str(), &kernel) != 0) {
            std::fprintf(stderr, "ntp-bench: error: %s\n", ntp_last_error());
            return 1;
          }
          KernelTimes t =
              dtype == "f64"
                  ? timeKernel<double>(kernel, layers, order, scalingThreads)
                  : timeKernel<float>(kernel, layers, order, scalingThreads);
          ntp_kernel_free(kernel);
          llvm::sys::fs::remove(path);
          // The peak beside this row: the larger of the one measured just
          // before it (after the previous row) and just after it, so that
          // a host taking capacity away for a while moves the row's
          // fraction only as much as it moved the machine.
          double peakAfter =
              ntp::bench::measureFmaPeak(dtype == "f64", threads, 0.05).gflops;
          double rowPeak = std::max(peakBefore[dtype.str()], peakAfter);
          peakBefore[dtype.str()] = peakAfter;
          if (scaling)
            scalingRows.push_back(
                {dtype.str(), schedule.name, order, t,
                 ntp::bench::measureFmaPeak(dtype == "f64", 1, 0.05).gflops,
                 peakAfter});
          int64_t flops = flopsPerSample(layers, order);
          double gflops = flops * double(batch) / (t.forwardUs * 1e3);
          double trainingGflops = trainingFlopsPerSample(layers, order) *
                                  double(batch) / (t.trainingUs * 1e3);
          int64_t shownTile =
              tile
                  ? tile
                  : ntp::artifact::defaultTile(dtype == "f64"
                                                   ? ntp::artifact::Dtype::F64
                                                   : ntp::artifact::Dtype::F32);
          std::printf("| %s | %d | %lld | %s | %.1f | %.1f | %.0f%% | %.1f | "
                      "%.1f | %.0f%% | %.1f | %.2f |",
                      dtype.str().c_str(), order, (long long)shownTile,
                      schedule.name.c_str(), t.forwardUs, gflops,
                      100 * gflops / rowPeak, t.trainingUs, trainingGflops,
                      100 * trainingGflops / rowPeak, t.backwardUs,
                      t.trainingUs / t.forwardUs);
          auto it = torch.find(order);
          if (it != torch.end())
            std::printf(" %.2f | %.2f | %.0fx | %.0fx |", it->second.first,
                        it->second.second, it->second.first * 1e3 / t.forwardUs,
                        it->second.second * 1e3 / t.trainingUs);
          else
            std::printf(" n/a | n/a | n/a | n/a |");
          std::printf(" %.1f |\n", rowPeak);
          std::fflush(stdout);
        }
    }
  }
  llvm::sys::fs::remove(dir);
  std::printf("\n");
  if (scaling) {
    // Issue 17's target: the rate at N threads >= 90% of the one-thread
    // rate times the FMA peak's N/1 ratio, both measured beside the row.
    std::printf(
        "Thread scaling (batch %lld; times in us, the better of two rounds "
        "in turns; efficiency = (time at 1 / time at %d) / (FMA peak at %d "
        "/ peak at 1), the peaks measured beside the row):\n\n| dtype | n "
        "| schedule | fwd 1 thread | fwd %d threads | fwd speed-up | "
        "training 1 thread | training %d threads | training speed-up | "
        "peak ratio | fwd efficiency | training efficiency |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        (long long)batch, threads, threads, threads, threads);
    for (const ScalingRow &row : scalingRows) {
      const KernelTimes &t = row.times;
      double forward = t.forwardOneUs / t.forwardAllUs,
             training = t.trainingOneUs / t.trainingAllUs,
             peakRatio = row.peakAll / row.peakOne;
      std::printf("| %s | %d | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | "
                  "%.2fx | %.2f | %.0f%% | %.0f%% |\n",
                  row.dtype.c_str(), row.order, row.schedule.c_str(),
                  t.forwardOneUs, t.forwardAllUs, forward, t.trainingOneUs,
                  t.trainingAllUs, training, peakRatio,
                  100 * forward / peakRatio, 100 * training / peakRatio);
    }
    std::printf("\n");
  }
  std::map<std::string, double> peakAfter =
      printFmaPeakTable(threads, "FMA peak, measured again after the kernels");
  for (const auto &[dtype, before] : peak) {
    double after = peakAfter[dtype];
    if (std::abs(after - before) > 0.1 * std::max(before, after))
      std::printf("warning: the %s FMA peak moved from %.1f to %.1f GFLOP/s "
                  "during this run: the machine's capacity changed (a shared "
                  "host), so the fractions of peak above are uncertain by "
                  "that much\n",
                  dtype.c_str(), before, after);
  }
  return 0;
}
