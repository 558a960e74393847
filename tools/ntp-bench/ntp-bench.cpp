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
#include "JetFlops.h"
#include "KernelTiming.h"
#include "Schedules.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/ActivationJet.h"
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
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cl = llvm::cl;
using ntp::bench::check;

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
             "scheduling), or 'I/B/K[/H[/OxG]]' (interleave I neurons, "
             "affine blocks of B outputs x K orders, K = 0: all; I or B = 0: "
             "chosen; H = 0: each neuron evaluates its own activation "
             "primitives instead of a loop over the layer's before its "
             "jets, the default H = 1 as in auto; OxG: the training step's "
             "parameter-gradient tiles of O outputs x G inputs, 1..8 each, "
             "0x0 (default): chosen where B = 0, else untiled)"));
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
    cl::desc("Time per call reported: median, or min (the fastest of at least "
             "200 calls: on a loaded machine a call longer than the "
             "scheduler's time slice is often preempted, which moves the "
             "median by whole slices)"));
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
  std::optional<std::vector<ntp::bench::Schedule>> schedules =
      ntp::bench::parseSchedules(schedulesFlag);
  if (!schedules) {
    std::fprintf(stderr,
                 "ntp-bench: error: --schedules takes auto, base or "
                 "I/B/K[/H[/OxG]] (I, B in 0..8, K >= 0, H 0 or 1, O and G "
                 "both in 1..8 or both 0), got '%s'\n",
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
  std::map<std::string, double> peak = ntp::bench::printFmaPeakTable(
      threads, "FMA peak, measured in this run before the kernels");
  if (peakOnly)
    return 0;
  ntp::bench::TimingOptions timing;
  timing.batch = batch;
  timing.minTimeMs = minTimeMs;
  timing.minimum = statistic == "min";
  timing.scalingThreads = scaling ? threads : 0;
  struct ScalingRow {
    std::string dtype, schedule;
    int order;
    ntp::bench::KernelTimes times;
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
      // The first layer (from the input) and a hidden one at order 9.
      int64_t hidden = layers.size() > 2 ? layers[2] : layers[1];
      ntp::AffineBlock first = ntp::chooseAffineBlock(facts, lanes, bits, 2,
                                                      layers[1], layers[0]),
                       deep = ntp::chooseAffineBlock(facts, lanes, bits, 10,
                                                     hidden, layers[1]);
      std::printf("auto, f%d, tile %lld: interleave %lld (order 3), %lld "
                  "(order 9), affine blocks "
                  "(outputs x orders, 0: all) %lld x %lld (2 live orders), "
                  "%lld x %lld (10 live orders, %lld x %lld layer)\n",
                  bits, (long long)lanes,
                  (long long)ntp::chooseInterleave(facts, lanes, bits, 4),
                  (long long)ntp::chooseInterleave(facts, lanes, bits, 10),
                  (long long)first.outputs, (long long)first.orders,
                  (long long)deep.outputs, (long long)deep.orders,
                  (long long)layers[1], (long long)hidden);
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
        for (const ntp::bench::Schedule &schedule : *schedules) {
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
          cpuOptions.gradOutputs = schedule.gradOutputs;
          cpuOptions.gradInputs = schedule.gradInputs;
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
          ntp::bench::KernelTimes t =
              dtype == "f64" ? ntp::bench::timeKernel<double>(kernel, layers,
                                                              order, timing)
                             : ntp::bench::timeKernel<float>(kernel, layers,
                                                             order, timing);
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
            scalingRows.push_back({dtype.str(), schedule.name, order, t});
          const ntp::ActivationRule &rule = *ntp::lookupActivation(activation);
          int64_t flops = ntp::bench::flopsPerSample(rule, *formulationChoice(),
                                                     layers, order);
          double gflops = flops * double(batch) / (t.forwardUs * 1e3);
          double trainingGflops =
              ntp::bench::trainingFlopsPerSample(rule, *formulationChoice(),
                                                 layers, order) *
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
    // rate times the FMA peak's N/1 ratio, measured in turns with it.
    std::printf(
        "Thread scaling (batch %lld; times in us, the fastest calls and "
        "the highest FMA peaks over the same rounds, call by call in turns; "
        "efficiency = (time at 1 / time at %d) / (FMA peak at %d / peak at "
        "1)):\n\n| dtype | n "
        "| schedule | fwd 1 thread | fwd %d threads | fwd speed-up | "
        "training 1 thread | training %d threads | training speed-up | "
        "peak ratio | fwd efficiency | training efficiency |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        (long long)batch, threads, threads, threads, threads);
    for (const ScalingRow &row : scalingRows) {
      const ntp::bench::KernelTimes &t = row.times;
      double forward = t.forwardOneUs / t.forwardAllUs,
             training = t.trainingOneUs / t.trainingAllUs,
             peakRatio = t.peakAllGflops / t.peakOneGflops;
      std::printf("| %s | %d | %s | %.1f | %.1f | %.2fx | %.1f | %.1f | "
                  "%.2fx | %.2f | %.0f%% | %.0f%% |\n",
                  row.dtype.c_str(), row.order, row.schedule.c_str(),
                  t.forwardOneUs, t.forwardAllUs, forward, t.trainingOneUs,
                  t.trainingAllUs, training, peakRatio,
                  100 * forward / peakRatio, 100 * training / peakRatio);
    }
    std::printf("\n");
  }
  std::map<std::string, double> peakAfter = ntp::bench::printFmaPeakTable(
      threads, "FMA peak, measured again after the kernels");
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
