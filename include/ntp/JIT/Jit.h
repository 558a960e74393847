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

/// Compiles `spec` for the CPU or GPU in `options` (cached on disk).
inline Kernel compile(const MlpSpec &spec, const JitOptions &options = {}) {
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
  return detail::compile(c, options);
}

/// Compiles the text of an MLIR module holding one ntp.mlp.
inline Kernel compileMlir(const std::string &text,
                          const JitOptions &options = {}) {
  ntp_jit_spec c;
  ntp_jit_spec_init(&c);
  c.mlir = text.c_str();
  return detail::compile(c, options);
}

/// The compiler version that keys the kernel cache.
inline std::string jitVersion() { return ntp_jit_version(); }

} // namespace ntp

#endif // NTP_JIT_JIT_H
