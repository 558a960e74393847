//===- Manifest.hpp - The kernel manifest and entry points ------*- C++ -*-===//
//
// Part of ntp/artifact.hpp (include that): the ABI version, the symbols
// and entry points of CPU and CUDA kernels, and the manifest struct with
// its one serializer and parser (runtime/lib/artifact/Manifest.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_MANIFEST_HPP
#define NTP_ARTIFACT_MANIFEST_HPP

#include "ntp/artifact/LayerKinds.hpp"
#include "ntp/artifact/Types.hpp"
#include "ntp/runtime.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntp::artifact {

/// Version of the artifact format and calling convention.
inline constexpr int32_t kAbiVersion = NTP_ABI_VERSION;

/// First line of every manifest text.
inline constexpr std::string_view kManifestMagic = "ntp-kernel-manifest";

/// Symbols a CPU artifact exports: <prefix>_<entry point suffix>, and
/// <prefix>_manifest (the manifest text, NUL-terminated). The runtime loads
/// kDefaultSymbolPrefix; --emit=obj objects use the kernel's name.
inline constexpr std::string_view kDefaultSymbolPrefix = "ntp_kernel";
inline constexpr std::string_view kManifestSymbolSuffix = "manifest";

/// The entry points of a kernel, in the order of ntp_kernel_entry_points.
enum class EntryPoint { Forward, Backward, ForwardSave, BackwardSaved };
inline constexpr std::array<EntryPoint, 4> kEntryPoints = {
    EntryPoint::Forward, EntryPoint::Backward, EntryPoint::ForwardSave,
    EntryPoint::BackwardSaved};

/// "forward_tiles", "backward_tiles", "forward_save_tiles",
/// "backward_saved_tiles".
constexpr std::string_view entryPointSuffix(EntryPoint entry) {
  switch (entry) {
  case EntryPoint::Forward:
    return "forward_tiles";
  case EntryPoint::Backward:
    return "backward_tiles";
  case EntryPoint::ForwardSave:
    return "forward_save_tiles";
  case EntryPoint::BackwardSaved:
    return "backward_saved_tiles";
  }
  return "";
}

/// <prefix>_<suffix>, e.g. ntp_kernel_forward_tiles or, for the function the
/// compiler's loop-level IR holds, <kernel name>_forward_tiles.
inline std::string entryPointSymbol(std::string_view prefix, EntryPoint entry) {
  std::string symbol(prefix);
  symbol += '_';
  symbol += entryPointSuffix(entry);
  return symbol;
}
inline std::string manifestSymbol(std::string_view prefix) {
  std::string symbol(prefix);
  symbol += '_';
  symbol += kManifestSymbolSuffix;
  return symbol;
}

/// x86 instruction-set features the compiler records in cpu_features (those
/// the target has) and the runtime checks against the host before the first
/// call. LLVM feature names.
inline constexpr std::array<std::string_view, 16> kRecordedCpuFeatures = {
    "sse4.2",     "avx",        "avx2",       "fma",
    "bmi",        "bmi2",       "avx512f",    "avx512dq",
    "avx512cd",   "avx512bw",   "avx512vl",   "avx512ifma",
    "avx512vbmi", "avx512vnni", "avx512bf16", "avx512fp16"};

/// One CPU variant of a multi-variant CPU artifact (ntp-compile
/// --target-cpu=a,b,...): the LLVM CPU it was compiled for and the features
/// of kRecordedCpuFeatures it needs. Its entry points and manifest symbol
/// use cpuVariantPrefix(index).
struct CpuVariant {
  std::string cpu;
  std::vector<std::string> features;
  bool operator==(const CpuVariant &other) const {
    return cpu == other.cpu && features == other.features;
  }
};

/// The symbol prefix of variant `index` of a multi-variant CPU artifact:
/// ntp_kernel_v0, ntp_kernel_v1, ... (<prefix>_forward_tiles, ...,
/// <prefix>_manifest: that variant's own single-CPU manifest).
inline std::string cpuVariantPrefix(size_t index) {
  return std::string(kDefaultSymbolPrefix) + "_v" + std::to_string(index);
}

/// The launch shape and image of a CUDA kernel.
struct CudaLaunch {
  std::string chip; // sm_XX or sm_XXa
  ImageFormat format = ImageFormat::Ptx;
  GpuMapping mapping = GpuMapping::Sample;
  int64_t blockSize = 0;       // threads per block
  int64_t samplesPerBlock = 0; // samples per block (the CUDA "tile")
  int64_t imageBytes = 0;
};

/// Everything the runtime needs to know about a kernel. The compiler fills
/// it from the module's #ntp.kernel attribute; serializeManifest writes it,
/// parseManifest reads and validates it (including the derived fields below
/// against their one definition).
struct KernelManifest {
  std::string name;       // the ntp.mlp's symbol name
  std::string activation; // e.g. "tanh"
  int32_t order = 0;
  Dtype dtype = Dtype::F32;
  Device device = Device::Cpu;
  std::vector<int64_t> layers;  // input width, hidden widths..., output width
  int64_t numParams = 0;        // == countParams(layers)
  int64_t tile = 0;             // samples per tile (CPU) / per block (CUDA)
  bool backward = false;        // reverse-mode entry points present
  int64_t workspacePerTile = 0; // == workspaceElementsPerTile(...) or 0
  std::string targetCpu;        // LLVM CPU name (CPU artifacts)
  std::vector<std::string> cpuFeatures; // subset of kRecordedCpuFeatures
  std::optional<CudaLaunch> cuda;       // present iff device == Cuda
  /// Partials kernels only (empty for a jet kernel): the requested
  /// multi-indices, then the named operators, one row of inputDim entries
  /// each, encoded as ntp_kernel_partials_get gives them (an operator's row
  /// holds -2 (laplacian) or -4 (biharmonic) in the coordinates it sums
  /// over). The forward entry point then writes out [rows, batch, q].
  std::vector<std::vector<int32_t>> partials;
  /// Typed layers: adaptive slopes and residual connections per hidden
  /// layer (LayerKinds); empty for a plain MLP.
  LayerKinds kinds;
  /// Partials kernels only: how the compiler propagates the rays of the
  /// forward (ntp_partials) and, with backward, of the reverse mode, as it
  /// summarizes its choice (partials::LoweringPlan::summary in the
  /// compiler): a lowering name of kPartialsLoweringNames, then its blocks
  /// and exact counts, e.g. "multivariate: 35 monomials of degree <= 4;
  /// 694080 flops + 192 primitives per sample". Informational (the runtime
  /// calls the same entry points whatever they say); empty in artifacts of
  /// compilers that predate them.
  std::string partialsLowering;
  std::string partialsReverseLowering;
  /// Multi-variant CPU artifacts only (empty otherwise): the variants, in
  /// the order the runtime prefers them (it loads the first one the host
  /// supports; the compiler puts those with more recorded features first).
  /// The first one's CPU and features are also target_cpu and cpu_features.
  std::vector<CpuVariant> cpuVariants;

  bool isPartials() const { return !partials.empty(); }
  /// The leading dimension of out: order + 1 for a jet kernel, the number of
  /// requests for a partials kernel.
  int64_t outputRows() const {
    return partials.empty() ? int64_t(order) + 1
                            : static_cast<int64_t>(partials.size());
  }

  int64_t inputDim() const { return layers.empty() ? 0 : layers.front(); }
  int64_t outputDim() const { return layers.empty() ? 0 : layers.back(); }
};

/// The lowerings a partials kernel's rays can have (the first word of
/// KernelManifest::partialsLowering and partialsReverseLowering).
inline constexpr std::string_view kPartialsLoweringNames[] = {
    "per-ray", "multi-direction", "collapsed", "multivariate"};

/// The lowering name `summary` begins with (followed by its end, ':' or
/// ';'), or "" when it begins with none.
std::string_view partialsLoweringName(std::string_view summary);

/// "" when `summary` can be a recorded lowering (printable ASCII beginning
/// with a lowering name), else the broken rule, to follow a name for it
/// ("'fast' does not begin with a lowering name (per-ray, ...)").
std::string partialsLoweringProblem(std::string_view summary);

/// The name of a CUDA artifact's kernel function in its image:
/// <name>_forward (the gpu.func that ntp-gpu-kernel creates).
inline std::string cudaEntrySymbol(const KernelManifest &manifest) {
  return manifest.name + "_forward";
}

/// The kernels of a CUDA artifact's image, when backward=1, beside
/// cudaEntrySymbol: <name>_forward_save(x, v, params, out, jets, batch),
/// <name>_backward_saved(x, v, params, cotangent, columns, x_grad, jets,
/// partials, batch) (each sample's parameter gradient in columns[p * batch
/// + sample], each block's sum in partials[block * P + p]) and
/// <name>_reduce_params_grad(partials, params_grad, blocks) (the rows summed
/// in order, kCudaReduceBlockSize threads per block, a thread per
/// parameter).
enum class CudaKernel { Forward, ForwardSave, BackwardSaved, ReduceParamsGrad };
inline constexpr int64_t kCudaReduceBlockSize = 128;
inline std::string cudaKernelSymbol(const KernelManifest &manifest,
                                    CudaKernel kernel) {
  switch (kernel) {
  case CudaKernel::Forward:
    return manifest.name + "_forward";
  case CudaKernel::ForwardSave:
    return manifest.name + "_forward_save";
  case CudaKernel::BackwardSaved:
    return manifest.name + "_backward_saved";
  case CudaKernel::ReduceParamsGrad:
    return manifest.name + "_reduce_params_grad";
  }
  return "";
}
/// Every kernel a CUDA artifact's image holds, in CudaKernel order.
inline std::vector<std::string> cudaEntrySymbols(const KernelManifest &m) {
  std::vector<std::string> symbols = {cudaKernelSymbol(m, CudaKernel::Forward)};
  if (m.backward)
    for (CudaKernel k : {CudaKernel::ForwardSave, CudaKernel::BackwardSaved,
                         CudaKernel::ReduceParamsGrad})
      symbols.push_back(cudaKernelSymbol(m, k));
  return symbols;
}

/// The manifest text: kManifestMagic, then one key=value line per field, in
/// this order, every key always present (the CUDA keys only for device=cuda):
///   abi_version name activation order dtype device layers num_params tile
///   backward workspace_per_tile target_cpu cpu_features
///   [chip format mapping block_size samples_per_block image_bytes]
///   [partials partials_lowering partials_reverse_lowering]
/// `partials` (rows separated by ';', entries by ',') only for partials
/// kernels: a runtime that predates them refuses the key.
/// `partials_lowering` and, with backward=1, `partials_reverse_lowering`
/// (KernelManifest::partialsLowering: printable text beginning with a
/// lowering name) only for partials kernels whose compiler recorded them.
/// `slopes` ("none,neuron": one of none, layer, neuron per hidden layer),
/// `residual` ("0,1"), `fourier` (m) and `gated` (1) only for networks with
/// typed layers (LayerKinds).
/// A runtime that predates them refuses the keys. `cpu_variants`
/// ("znver4:avx,avx2;x86-64-v3:avx,avx2": cpu:features rows separated by
/// ';') only for a CPU artifact carrying several variants (at least two,
/// distinct CPUs, the first equal to target_cpu and cpu_features).
/// Lists are comma-separated. Unknown keys are an error: a field that
/// changes what the runtime must do bumps kAbiVersion instead.
std::string serializeManifest(const KernelManifest &manifest);

/// The network of `manifest` as the canonical one-line IR of its ntp.mlp:
///   ntp.mlp @pinn layers [1, 24, 24, 1] activation "tanh" order 9 : f64
/// with per-layer activations as the list `activation ["silu", "tanh"]`
/// (what ntp_kernel_description returns; ntp-opt parses it back). A
/// partials kernel's recorded lowerings follow the type as the ntp.mlp
/// attributes that make the compiler choose them again:
///   ... : f64 {ntp.partials_lowering = "multivariate",
///              ntp.partials_reverse_lowering = "per-ray"}
/// (the reverse one only where a fast forward has a per-ray reverse mode).
std::string mlpDescription(const KernelManifest &manifest);

/// Parses and validates `text`. On failure returns NTP_ERROR_ABI_MISMATCH
/// (the message names both versions) or NTP_ERROR_BAD_ARTIFACT, and sets
/// `error` to a sentence fragment the caller prefixes with the artifact's
/// name. Every number is parsed whole (no sign, no leading '+', no trailing
/// characters, no overflow); num_params and workspace_per_tile must equal
/// countParams and workspaceElementsPerTile; the CUDA keys are present iff
/// device=cuda and describe a launch the runtime can make (chip sm_NN or
/// sm_NNa, block_size 1..1024, samples_per_block dividing it as the mapping
/// requires, tile == samples_per_block, image_bytes >= 1, backward=0).
ntp_status parseManifest(std::string_view text, KernelManifest &manifest,
                         std::string &error);

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_MANIFEST_HPP
