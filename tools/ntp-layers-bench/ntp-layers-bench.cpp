//===- ntp-layers-bench.cpp - Typed layers beside the plain MLP and PyTorch
//===//
//
// Times the forward (jet) and the training step (forward-save +
// backward-saved) of networks with typed layers (adaptive slopes, residual
// layers, a Fourier-feature embedding) beside the plain MLP of the same
// widths (2-32-32-32-1 tanh, batch 256, f64 and f32), at orders 1..9, and
// beside PyTorch nested autograd of the same networks (built from
// ntp.torch's modules by benchmarks/torch_layers.py), all in one run. Per
// row: ntp's time (best of 20), its GFLOP/s, the ratio to the plain MLP at
// that order, PyTorch's time and the speed-up. Usage:
//   ntp-layers-bench [--torch auto|off] [--dtypes f64,f32] [--python PY]
//                    [--networks plain,slopes,residual,fourier,all]
//                    [--budget-s S] [--torch-threads N] [max-order]
//                    (defaults: both dtypes, every network, 1 s, 2, 9)
//
// GFLOP/s count what the network needs under ntp-bench's rules (per sample):
// an affine layer 2 * in * out per live input order (forward) and 4 * in *
// out per live order + out (training step: the parameter gradient, the input
// cotangent, the bias gradient); an activation the flops of its jet DAG
// (ntp::expandActivationJet, the formulation the compiler picks) and of its
// VJP DAG (training step); a slope one multiply per neuron and live order
// (its VJP two for the slope's gradient and one for the cotangent); a
// residual add one per neuron and order (as much backward); the Fourier
// embedding's projection 2 pi B x as an affine map d -> m (+ m adds for
// the cosines' pi / 2) and its sines as a sin activation of width 2m; the
// modified MLP's U and V as two more layers, its gates' products of jets
// (Leibniz sums) at 3 flops a term.
//
//===----------------------------------------------------------------------===//

#include "../ntp-bench/BenchUtil.h"
#include "ntp/JIT/Jit.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/ActivationRules.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using ntp::bench::AlignedVector;
using ntp::bench::best;
using ntp::bench::seconds;

const std::vector<int64_t> kLayers = {2, 32, 32, 32, 1};
const int64_t kBatch = 256;

struct Network {
  const char *key; ///< its --networks name
  const char *name;
  std::vector<std::string> slopes;
  std::vector<bool> residual;
  int fourier;
  bool gated = false; ///< the modified MLP (ntp.mlp's gated)
};

/// Flops per sample of the forward and of the training step (the rules in
/// the file header).
std::pair<int64_t, int64_t> flopsPerSample(const Network &net, int order) {
  const ntp::ActivationRule &tanhRule = *ntp::lookupActivation("tanh"),
                            &sinRule = *ntp::lookupActivation("sin");
  int64_t forward = 0, backward = 0, all = order + 1,
          live = std::min<int64_t>(all, 2), in = kLayers.front();
  auto activation = [&](const ntp::ActivationRule &rule, int64_t width) {
    ntp::ActivationJetExpansion e = ntp::expandActivationJet(rule, order, live);
    forward += width * e.graph.cost(e.outputs).flops();
    ntp::ActivationJetVjp vjp =
        ntp::differentiateActivationJet(rule, order, live);
    backward += width * vjp.graph.cost(vjp.inputCotangents).flops();
  };
  if (net.fourier) {
    int64_t m = net.fourier;
    forward += 2 * in * m * live + m;
    backward += 2 * in * m * live;
    activation(sinRule, 2 * m);
    in = 2 * m;
    live = all;
  }
  if (net.gated) {
    // U and V: two affine maps of the input and their activations, read by
    // every gate; the first gate reads the input as well.
    int64_t h = kLayers[1], uvLive = live;
    forward += 2 * (2 * in * h * uvLive);
    backward += 2 * (4 * in * h * uvLive + h);
    activation(tanhRule, 2 * h);
    // Per gate and neuron, orders k = 0..n: w = v - u, then
    // u + sum_j C(k, j) z_j w_{k-j} (3 flops a term); its VJP two such
    // sums (zbar, wbar) and ubar / vbar, and U's and V's cotangents summed
    // over the gates.
    int64_t n1 = all, terms = n1 * (n1 + 1) / 2;
    int64_t gates = int64_t(kLayers.size()) - 2;
    forward += gates * h * (3 * terms + 2 * n1);
    backward += gates * h * (6 * terms + 2 * n1) + (gates - 1) * 2 * h * n1;
    live = uvLive;
  }
  for (size_t l = 1; l < kLayers.size(); ++l) {
    int64_t out = kLayers[l];
    forward += 2 * in * out * live;
    backward += 4 * in * out * live + out;
    if (l + 1 == kLayers.size())
      break;
    size_t hidden = l - 1;
    if (hidden < net.slopes.size() && net.slopes[hidden] != "none") {
      forward += out * live;
      backward += 3 * out * live;
    }
    activation(tanhRule, out);
    if (hidden < net.residual.size() && net.residual[hidden]) {
      forward += out * all;
      backward += out * all;
    }
    in = out;
    live = all;
  }
  return {forward, forward + backward};
}

/// Forward and training-step seconds per call of `net` at `order`.
template <class T>
std::pair<double, double> time(const Network &net, int order, ntp::Dtype dtype,
                               int reps) {
  ntp::MlpSpec spec;
  spec.layers = kLayers;
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
  AlignedVector<T> params(k.info().num_params), x(kBatch * 2),
      v = {T(0.6), T(0.8)};
  for (T &p : params)
    p = T(0.3 * u(rng));
  for (T &e : x)
    e = T(u(rng));
  AlignedVector<T> out(size_t(order + 1) * kBatch), cot(out.size(), T(1)),
      grad(params.size());
  AlignedVector<unsigned char> workspace(k.workspaceBytes(kBatch));
  T *ws = reinterpret_cast<T *>(workspace.data());
  double forward = best(
      [&] {
        k.forward(x.data(), x.size(), v.data(), v.size(), params.data(),
                  params.size(), out.data(), out.size(), kBatch);
      },
      reps);
  double step = best(
      [&] {
        k.forwardSave(x.data(), v.data(), params.data(), out.data(), ws,
                      kBatch);
        k.backwardSaved(x.data(), v.data(), params.data(), cot.data(),
                        grad.data(), static_cast<T *>(nullptr), ws, kBatch);
      },
      reps);
  return {forward, step};
}

struct Options {
  int maxOrder = 9, minOrder = 1;
  bool torch = true;
  std::vector<std::string> dtypes = {"f64", "f32"};
  std::vector<std::string> networks; ///< empty: all
  std::string python, budget = "1.0", torchThreads = "2";
};

std::string join(const std::vector<std::string> &parts) {
  std::string s;
  for (const std::string &p : parts)
    s += (s.empty() ? "" : ",") + p;
  return s;
}

/// order -> (forward, training step) milliseconds of PyTorch nested autograd
/// of `net`, from benchmarks/torch_layers.py; empty if unavailable.
std::map<int, std::pair<double, double>>
torchTimes(const Network &net, const std::string &dtype, const Options &o) {
  std::map<int, std::pair<double, double>> result;
  if (!o.torch)
    return result;
  std::string orders, layers, residual;
  for (int n = o.minOrder; n <= o.maxOrder; ++n)
    orders += (orders.empty() ? "" : ",") + std::to_string(n);
  for (int64_t w : kLayers)
    layers += (layers.empty() ? "" : ",") + std::to_string(w);
  for (bool r : net.residual)
    residual += std::string(residual.empty() ? "" : ",") + (r ? "1" : "0");
  std::string command =
      o.python + " '" NTP_SOURCE_DIR "/benchmarks/torch_layers.py' --layers " +
      layers + " --dtype " + dtype + " --orders " + orders + " --budget-s " +
      o.budget + " --threads " + o.torchThreads + " --fourier " +
      std::to_string(net.fourier) +
      (net.slopes.empty() ? "" : " --slopes " + join(net.slopes)) +
      (residual.empty() ? "" : " --residual " + residual) +
      (net.gated ? " --modified" : "") + " 2>/dev/null";
  return ntp::bench::readTorchTimes(command);
}

template <class T> void table(ntp::Dtype dtype, const Options &o) {
  const std::vector<Network> allNetworks = {
      {"plain", "plain", {}, {}, 0},
      {"slopes", "slopes per neuron", {"neuron", "neuron", "neuron"}, {}, 0},
      {"residual", "residual", {}, {false, true, true}, 0},
      {"fourier", "fourier 16", {}, {}, 16},
      {"all",
       "all three",
       {"neuron", "neuron", "neuron"},
       {false, true, true},
       16},
      {"modified", "modified MLP", {}, {}, 0, true},
      {"modified-fourier", "modified + fourier 16", {}, {}, 16, true},
  };
  // --networks: the plain MLP always (the ratios' reference), then those
  // named.
  std::vector<Network> networks;
  for (const Network &net : allNetworks)
    if (net.key == std::string("plain") || o.networks.empty() ||
        std::find(o.networks.begin(), o.networks.end(), net.key) !=
            o.networks.end())
      networks.push_back(net);
  const char *name = dtype == ntp::Dtype::F64 ? "f64" : "f32";
  std::vector<std::map<int, std::pair<double, double>>> torch;
  for (const Network &net : networks) {
    torch.push_back(torchTimes(net, name, o));
    std::fprintf(stderr, "ntp-layers-bench: PyTorch %s %s: %s\n", name,
                 net.name,
                 !o.torch               ? "off"
                 : torch.back().empty() ? "unavailable"
                                        : "timed");
  }
  std::printf(
      "\n%s, 2-32-32-32-1 tanh, batch 256: ntp best of 20 (us per call), "
      "its GFLOP/s and the ratio to plain at that order; PyTorch nested "
      "autograd (ms per call) and ntp's speed-up over it, in this run\n\n",
      name);
  std::printf("| n | network | ntp fwd (us) | GFLOP/s | x plain | ntp step "
              "(us) | GFLOP/s | x plain | PyTorch fwd (ms) | PyTorch step "
              "(ms) | speed-up fwd | speed-up step |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int order = o.minOrder; order <= o.maxOrder; ++order) {
    std::pair<double, double> plain{0, 0};
    for (size_t i = 0; i < networks.size(); ++i) {
      const Network &net = networks[i];
      std::pair<double, double> t = time<T>(net, order, dtype, 20);
      if (i == 0)
        plain = t;
      std::pair<int64_t, int64_t> flops = flopsPerSample(net, order);
      std::printf("| %d | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |",
                  order, net.name, t.first * 1e6,
                  flops.first * double(kBatch) / t.first * 1e-9,
                  t.first / plain.first, t.second * 1e6,
                  flops.second * double(kBatch) / t.second * 1e-9,
                  t.second / plain.second);
      auto it = torch[i].find(order);
      if (it != torch[i].end())
        std::printf(" %.2f | %.2f | %.0fx | %.0fx |\n", it->second.first,
                    it->second.second, it->second.first * 1e-3 / t.first,
                    it->second.second * 1e-3 / t.second);
      else
        std::printf(" n/a | n/a | n/a | n/a |\n");
      std::fflush(stdout);
    }
  }
}

} // namespace

/// A derivative order given on the command line: a whole number in 1..32,
/// else one sentence and status 2 (atoi read "9x" as 9 and "--help" as 0).
static long order(const std::string &text, const char *what) {
  char *end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 1 || value > 32) {
    std::fprintf(stderr,
                 "ntp-layers-bench: error: %s must be an integer in 1..32, "
                 "got '%s'\n",
                 what, text.c_str());
    std::exit(2);
  }
  return value;
}

int main(int argc, char **argv) {
  Options o;
  o.python =
      std::ifstream("/usr/bin/python3").good() ? "/usr/bin/python3" : "python3";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ntp-layers-bench: %s needs a value\n",
                     arg.c_str());
        std::exit(1);
      }
      return argv[++i];
    };
    if (arg == "--torch") {
      std::string v = value();
      if (v != "auto" && v != "off") {
        std::fprintf(stderr, "ntp-layers-bench: --torch is auto or off\n");
        return 1;
      }
      o.torch = v == "auto";
    } else if (arg == "--dtypes") {
      o.dtypes.clear();
      std::string v = value(), part;
      for (size_t at = 0; at <= v.size(); ++at) {
        if (at == v.size() || v[at] == ',') {
          if (part != "f64" && part != "f32") {
            std::fprintf(stderr, "ntp-layers-bench: --dtypes takes f64 and "
                                 "f32, comma-separated\n");
            return 1;
          }
          o.dtypes.push_back(part);
          part.clear();
        } else {
          part += v[at];
        }
      }
    } else if (arg == "--networks") {
      std::string v = value(), part;
      for (size_t at = 0; at <= v.size(); ++at) {
        if (at == v.size() || v[at] == ',') {
          static const char *known[] = {"plain",           "slopes", "residual",
                                        "fourier",         "all",    "modified",
                                        "modified-fourier"};
          if (std::find(std::begin(known), std::end(known), part) ==
              std::end(known)) {
            std::fprintf(stderr,
                         "ntp-layers-bench: --networks takes plain, slopes, "
                         "residual, fourier, all, modified, "
                         "modified-fourier (comma-separated), got "
                         "'%s'\n",
                         part.c_str());
            return 1;
          }
          o.networks.push_back(part);
          part.clear();
        } else {
          part += v[at];
        }
      }
    } else if (arg == "--torch-threads") {
      o.torchThreads = value();
      if (std::atoi(o.torchThreads.c_str()) < 1) {
        std::fprintf(stderr, "ntp-layers-bench: --torch-threads is a "
                             "positive number\n");
        return 1;
      }
    } else if (arg == "--python") {
      o.python = value();
    } else if (arg == "--budget-s") {
      o.budget = value();
      if (std::atof(o.budget.c_str()) <= 0) {
        std::fprintf(stderr, "ntp-layers-bench: --budget-s is a positive "
                             "number of seconds\n");
        return 1;
      }
    } else if (arg == "--min-order") {
      o.minOrder = static_cast<int>(order(value(), "--min-order"));
    } else if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: %s [--torch auto|off] [--dtypes f64,f32] [--python PY] "
          "[--networks plain,slopes,residual,fourier,all,modified,"
          "modified-fourier] [--budget-s S] [--torch-threads N] "
          "[--min-order N] [max-order]  (orders 1..32; defaults 1 and 9)\n",
          argv[0]);
      return 0;
    } else {
      o.maxOrder = static_cast<int>(order(arg, "max-order"));
    }
  }
  if (o.minOrder > o.maxOrder) {
    std::fprintf(stderr,
                 "ntp-layers-bench: error: --min-order %d is above the "
                 "maximum order %d\n",
                 o.minOrder, o.maxOrder);
    return 2;
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::printf("ntp-layers-bench: %u hardware threads, load average %s at "
              "start, NTP_NUM_THREADS=%s; PyTorch: %s (%s threads)\n",
              std::thread::hardware_concurrency(), load.c_str(),
              std::getenv("NTP_NUM_THREADS") ? std::getenv("NTP_NUM_THREADS")
                                             : "(default)",
              o.torch ? o.python.c_str() : "off", o.torchThreads.c_str());
  try {
    for (const std::string &dtype : o.dtypes) {
      if (dtype == "f64")
        table<double>(ntp::Dtype::F64, o);
      else
        table<float>(ntp::Dtype::F32, o);
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ntp-layers-bench: %s\n", e.what());
    return 1;
  }
  std::ifstream("/proc/loadavg") >> load;
  std::printf("\nload average %s at the end\n", load.c_str());
  return 0;
}
