//===- Jit.h - ntp in-process JIT, C++ API ----------------------*- C++ -*-===//
//
// Header-only C++17 wrapper over the C API in ntp/jit.h: describe the
// network, call one function, get the RAII ntp::Kernel of runtime.hpp (the
// same type an ahead-of-time artifact loads into). Errors are ntp::Error
// exceptions; this header needs no MLIR or LLVM.
//
//   ntp::Kernel k = ntp::compile({{1, 24, 24, 24, 1}, "tanh", 9});
//   k.forward(x, v, params, out);
//
//===----------------------------------------------------------------------===//
#ifndef NTP_JIT_JIT_H
#define NTP_JIT_JIT_H

#include "ntp/jit.h"
#include "ntp/runtime.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ntp {

enum class Dtype : int32_t { F32 = NTP_DTYPE_F32, F64 = NTP_DTYPE_F64 };

/// A network described by its shape rather than IR.
struct MlpSpec {
  std::vector<int64_t> layers; ///< widths, input to output
  /// One name for every hidden layer, or one per hidden layer separated by
  /// commas ("silu,tanh"), as ntp_jit_spec::activation.
  std::string activation = "tanh";
  int order = 0;
  Dtype dtype = Dtype::F32;
  /// A partials kernel (Kernel::partials): the multi-indices, then the
  /// operator rows (-2 laplacian / -4 biharmonic in the coordinates summed
  /// over, ntp_kernel_partials_get's encoding), in the order of out. The
  /// order is then at least the highest total order. Compiled through the
  /// MLIR text of its ntp.mlp (mlpText).
  std::vector<std::vector<int32_t>> partials;
  /// How a partials kernel's forward propagates its rays (ntp_jit_spec::
  /// partials_lowering): "auto" or empty (the fewest operations), "per-ray",
  /// "multi-direction", "collapsed", "multivariate". The reverse mode
  /// follows a fast forward unless partialsReverseLowering is "per-ray" or
  /// its blocks pass the stack bound (then the cheapest multi-direction or
  /// collapsed blocks of rays that fit, else per-ray).
  std::string partialsLowering;
  /// How a partials kernel's reverse mode is made (ntp_jit_spec::
  /// partials_reverse_lowering): "auto" or empty (it follows the forward),
  /// "per-ray" (per-ray jets beside the forward, a larger workspace).
  std::string partialsReverseLowering;
  /// Typed layers (issue 14), compiled through the MLIR text of the ntp.mlp
  /// (mlpText): one slope kind per hidden layer ("none", "layer",
  /// "neuron"; empty: none), one residual flag per hidden layer (empty:
  /// none), the frequencies of a Fourier-feature embedding (0: none). The
  /// parameter order is the ntp.mlp's (B, W_1, b_1, [a_1], ...).
  std::vector<std::string> slopes;
  std::vector<bool> residual;
  int fourier = 0;
  /// The modified MLP's gates (ntp.mlp's `gated`): every hidden width equal;
  /// parameters [B], W_u, b_u, W_v, b_v, W_1, b_1, [a_1], ...
  bool gated = false;
};

struct JitOptions {
  std::string cpu = "native"; ///< LLVM CPU name or "native"
  std::string features;       ///< extra LLVM features, "+avx2,..."
  int tile = 0;               ///< samples per tile, 0: default
  bool useCache = true;
  std::string cacheDir; ///< empty: $NTP_CACHE_DIR etc.; "off": none
  bool backward = true; ///< also compile the reverse-mode entry points
  ntp_device device = NTP_DEVICE_CPU;
  std::string chip; ///< CUDA: sm_XX; empty: the current GPU's
  ntp_jit_gpu_format gpuFormat = NTP_JIT_GPU_AUTO;     ///< CUDA image
  ntp_jit_gpu_mapping gpuMapping = NTP_JIT_GPU_SAMPLE; ///< CUDA threads
  ntp_jit_report *report = nullptr;                    ///< filled when not null
};

namespace detail {
inline ntp_jit_options toC(const JitOptions &options) {
  ntp_jit_options c;
  ntp_jit_options_init(&c);
  c.cpu = options.cpu.c_str();
  c.features = options.features.c_str();
  c.tile = options.tile;
  c.use_cache = options.useCache ? 1 : 0;
  c.backward = options.backward ? 1 : 0;
  c.cache_dir = options.cacheDir.empty() ? nullptr : options.cacheDir.c_str();
  c.device = options.device;
  c.chip = options.chip.c_str();
  c.gpu_format = options.gpuFormat;
  c.gpu_mapping = options.gpuMapping;
  return c;
}

inline Kernel compile(const ntp_jit_spec &spec, const JitOptions &options) {
  ntp_jit_options c = toC(options);
  ntp_kernel *k = nullptr;
  check(ntp_jit_compile_report(&spec, &c, &k, options.report));
  return Kernel::adopt(k);
}
} // namespace detail

/// The ntp.mlp of a spec (partials, typed layers), as the C API's spec.mlir
/// takes it.
inline std::string mlpText(const MlpSpec &spec) {
  std::string layers, alphas, operators;
  for (size_t i = 0; i < spec.layers.size(); ++i)
    layers += (i ? ", " : "") + std::to_string(spec.layers[i]);
  int order = spec.order;
  for (const std::vector<int32_t> &row : spec.partials) {
    int32_t mark = 0, total = 0;
    std::string coordinates, entries;
    for (size_t l = 0; l < row.size(); ++l) {
      entries += (l ? ", " : "") + std::to_string(row[l]);
      if (row[l] < 0) {
        mark = row[l];
        coordinates += (coordinates.empty() ? "" : ", ") + std::to_string(l);
      }
      total += row[l] > 0 ? row[l] : 0;
    }
    if (mark == 0) {
      if (!operators.empty())
        throw Error(NTP_ERROR_INVALID_ARGUMENT,
                    "give the multi-indices before the operators");
      alphas +=
          (alphas.empty() ? "[" : ", ") + std::string("[") + entries + "]";
    } else {
      bool all = std::count_if(row.begin(), row.end(), [](int32_t e) {
                   return e < 0;
                 }) == static_cast<std::ptrdiff_t>(row.size());
      operators +=
          (operators.empty() ? "[" : ", ") +
          std::string(mark == -4 ? "#ntp.biharmonic" : "#ntp.laplacian") +
          (all ? "" : "<[" + coordinates + "]>");
      total = mark == -4 ? 4 : 2;
    }
    order = std::max(order, static_cast<int>(total));
  }
  // One activation name, or the list of a comma-separated spec.
  std::string activation = "\"";
  for (char c : spec.activation)
    activation += c == ',' ? std::string("\", \"") : std::string(1, c);
  activation += "\"";
  if (spec.activation.find(',') != std::string::npos)
    activation = "[" + activation + "]";
  std::string text =
      "ntp.mlp @ntp_kernel layers [" + layers + "] activation " + activation;
  if (spec.fourier != 0)
    text += " fourier " + std::to_string(spec.fourier);
  if (spec.gated)
    text += " gated";
  if (!spec.slopes.empty()) {
    text += " slopes [";
    for (size_t i = 0; i < spec.slopes.size(); ++i)
      text += (i ? ", \"" : "\"") + spec.slopes[i] + "\"";
    text += "]";
  }
  if (!spec.residual.empty()) {
    text += " residual [";
    for (size_t i = 0; i < spec.residual.size(); ++i)
      text +=
          std::string(i ? ", " : "") + (spec.residual[i] ? "true" : "false");
    text += "]";
  }
  text += " order " + std::to_string(order);
  if (!alphas.empty())
    text += " partials " + alphas + "]";
  if (!operators.empty())
    text += " operators " + operators + "]";
  return text + (spec.dtype == Dtype::F64 ? " : f64\n" : " : f32\n");
}

/// Compiles the text of an MLIR module holding one ntp.mlp; a partials
/// kernel's forward with `partialsLowering` (ntp_jit_spec::
/// partials_lowering; empty: the ntp.mlp's own, else auto) and its reverse
/// mode with `partialsReverseLowering` (ntp_jit_spec::
/// partials_reverse_lowering, likewise).
inline Kernel compileMlir(const std::string &text,
                          const JitOptions &options = {},
                          const std::string &partialsLowering = "",
                          const std::string &partialsReverseLowering = "");

/// Compiles `spec` for the CPU or GPU in `options` (cached on disk).
inline Kernel compile(const MlpSpec &spec, const JitOptions &options = {}) {
  if (!spec.partials.empty() || !spec.slopes.empty() ||
      !spec.residual.empty() || spec.fourier != 0 || spec.gated)
    return compileMlir(mlpText(spec), options, spec.partialsLowering,
                       spec.partialsReverseLowering);
  if (spec.layers.size() >
      static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw Error(NTP_ERROR_INVALID_ARGUMENT, "too many layers");
  ntp_jit_spec c;
  ntp_jit_spec_init(&c);
  c.layers = spec.layers.data();
  c.num_layers = static_cast<int32_t>(spec.layers.size());
  c.activation = spec.activation.c_str();
  c.order = spec.order;
  c.dtype = static_cast<int32_t>(spec.dtype);
  // A jet kernel: anything but auto is refused with the C API's sentence.
  if (!spec.partialsLowering.empty())
    c.partials_lowering = spec.partialsLowering.c_str();
  if (!spec.partialsReverseLowering.empty())
    c.partials_reverse_lowering = spec.partialsReverseLowering.c_str();
  return detail::compile(c, options);
}

inline Kernel compileMlir(const std::string &text, const JitOptions &options,
                          const std::string &partialsLowering,
                          const std::string &partialsReverseLowering) {
  ntp_jit_spec c;
  ntp_jit_spec_init(&c);
  c.mlir = text.c_str();
  if (!partialsLowering.empty())
    c.partials_lowering = partialsLowering.c_str();
  if (!partialsReverseLowering.empty())
    c.partials_reverse_lowering = partialsReverseLowering.c_str();
  return detail::compile(c, options);
}

/// The compiler version that keys the kernel cache.
inline std::string jitVersion() { return ntp_jit_version(); }

} // namespace ntp

#endif // NTP_JIT_JIT_H
