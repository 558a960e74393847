//===- artifact.hpp - The ntp kernel artifact format ------------*- C++ -*-===//
//
// One definition of what an ntp kernel artifact is, included by both the
// compiler (which writes artifacts) and the runtime (which reads them), in the
// manner of IREE's executable_library.h: the ABI version, the magic strings,
// the entry-point names, the manifest as a struct with exactly one serializer
// and one parser, and the derived facts (parameter count, workspace size) as
// one function each. Standard C++17 only: no MLIR, no LLVM.
//
// Anything that changes the calling convention or the container bumps
// kAbiVersion (and NTP_ABI_VERSION in runtime.h with it).
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_HPP
#define NTP_ARTIFACT_HPP

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

/// Element type; the values are those of ntp_dtype.
enum class Dtype : int32_t { F32 = NTP_DTYPE_F32, F64 = NTP_DTYPE_F64 };
/// Where the kernel runs; the values are those of ntp_device.
enum class Device : int32_t { Cpu = NTP_DEVICE_CPU, Cuda = NTP_DEVICE_CUDA };
/// CUDA only: work per GPU thread. Sample: a thread per sample; Lanes: a warp
/// per sample, a neuron per lane.
enum class GpuMapping : int32_t { Sample = 0, Lanes = 1 };
/// CUDA only: the image a CUDA artifact carries.
enum class ImageFormat : int32_t { Ptx = 0, Cubin = 1 };

constexpr int64_t dtypeBytes(Dtype dtype) {
  return dtype == Dtype::F64 ? 8 : 4;
}
constexpr std::string_view dtypeName(Dtype dtype) {
  return dtype == Dtype::F64 ? "f64" : "f32";
}
constexpr std::string_view deviceName(Device device) {
  return device == Device::Cuda ? "cuda" : "cpu";
}
/// Every device, in the order of ntp_device: what deviceName and
/// parseDevice know (the #ntp.kernel verifier's list of device names).
inline constexpr Device kDevices[] = {Device::Cpu, Device::Cuda};
/// The device called `name` (the inverse of deviceName), or none.
constexpr std::optional<Device> parseDevice(std::string_view name) {
  for (Device device : kDevices)
    if (deviceName(device) == name)
      return device;
  return std::nullopt;
}
constexpr std::string_view gpuMappingName(GpuMapping mapping) {
  return mapping == GpuMapping::Lanes ? "lanes" : "sample";
}
constexpr std::string_view imageFormatName(ImageFormat format) {
  return format == ImageFormat::Cubin ? "cubin" : "ptx";
}

/// Samples per tile of CPU kernels when none is asked for: one 512-bit
/// vector.
constexpr int64_t defaultTile(Dtype dtype) {
  return dtype == Dtype::F64 ? 8 : 16;
}

/// The most samples per tile (tiles are 1..kMaxTile). LLVM's compile time
/// grows faster than the tile: 1-24-24-24-1 tanh with the backward, f64,
/// order 16 takes 0.9 s at tile 8, 5.4 s at 64, 23 s at 128 (order 9 f32:
/// 0.4 s at 16, 1.0 s at 64, 2.1 s at 128, 5.8 s at 256, 20 s at 512).
inline constexpr int64_t kMaxTile = 64;

/// The widest layer. The verifier of ntp.mlp refuses wider ones.
inline constexpr int64_t kMaxWidth = 65536;

/// The most parameters (countParams) of one network, 2^24: the backward
/// also keeps tile lane-wise gradient accumulators per parameter (8 GiB at
/// kMaxTile in f64). The verifier of ntp.mlp refuses more.
inline constexpr int64_t kMaxParams = int64_t(1) << 24;

/// The most bytes of jets one tile may keep on the stack
/// (jetStackElementsPerTile): half of the usual 8 MiB thread stack, the
/// rest is the caller's. A forward of 1-8192-1 at order 9 in f32 (10 MiB of
/// jets at tile 16) overflows the stack; the pass choosing the tile
/// (ntp-decompose-mlp) refuses a tile whose jets exceed this.
inline constexpr int64_t kMaxTileStackBytes = int64_t(4) << 20;

/// x86 instruction-set features the compiler records in cpu_features (those
/// the target has) and the runtime checks against the host before the first
/// call. LLVM feature names.
inline constexpr std::array<std::string_view, 16> kRecordedCpuFeatures = {
    "sse4.2",     "avx",        "avx2",       "fma",
    "bmi",        "bmi2",       "avx512f",    "avx512dq",
    "avx512cd",   "avx512bw",   "avx512vl",   "avx512ifma",
    "avx512vbmi", "avx512vnni", "avx512bf16", "avx512fp16"};

/// The launch shape and image of a CUDA kernel.
struct CudaLaunch {
  std::string chip; // sm_XX or sm_XXa
  ImageFormat format = ImageFormat::Ptx;
  GpuMapping mapping = GpuMapping::Sample;
  int64_t blockSize = 0;       // threads per block
  int64_t samplesPerBlock = 0; // samples per block (the CUDA "tile")
  int64_t imageBytes = 0;
};

/// Typed layers (issue 14): what a hidden layer adds to dense + activation.
/// Hidden layer l (1-based, widths layers[l - 1] -> layers[l]) computes
///   Y = W_l H + b_l,  A = a_l * Y (adaptive slope),  S = sigma_l(A),
///   H_l = S, or H_{l-1} + S when residual.
/// a_l is one trainable scalar (Slope::Layer) or one per neuron
/// (Slope::Neuron); it follows b_l in the flat parameter vector, so the
/// order is W_1, b_1, [a_1], W_2, b_2, [a_2], ..., W_L, b_L: the order of
/// module.parameters() of nn.Sequential(nn.Linear, Adaptive(a), sigma, ...).
/// A residual layer needs layers[l - 1] == layers[l] and l >= 2 (its input
/// is a hidden layer's output, not the network input).
///
/// A Fourier-feature input embedding of m frequencies (`fourier` = m >= 1)
/// maps the input x (width d = layers[0]) to H_0 = [sin(2 pi B x),
/// cos(2 pi B x)] (width 2m) before the first layer, with B [m, d]
/// row-major trainable and first in the parameter vector: B, W_1 [h_1, 2m],
/// b_1, ... (module.parameters() of nn.Sequential(FourierFeatures(B),
/// nn.Linear(2m, h_1), ...)). A fixed B is the same kernel whose B entries
/// the caller does not update.
///
/// A gated network (`gated`: the modified MLP of Wang, Teng and Perdikaris
/// 2021, jaxpi's ModifiedMlp) computes, from X (the input, or its Fourier
/// features), U = sigma_1(W_u X + b_u) and V = sigma_1(W_v X + b_v) (the
/// first hidden layer's activation, no slopes), H_0 = X and per hidden layer
/// l: Z_l = sigma_l(a_l * (W_l H_{l-1} + b_l)), H_l = U + Z_l * (V - U)
/// (= (1 - Z_l) U + Z_l V), then the output layer. Every hidden width is the
/// width h of U and V, and no layer is residual. W_u [h, in] and W_v precede
/// the hidden layers: [B], W_u, b_u, W_v, b_v, W_1, b_1, [a_1], ..., W_L,
/// b_L (module.parameters() of a module registering the u-encoder Linear,
/// the v-encoder Linear, the hidden Linears, then the output Linear).
enum class Slope : int32_t { None = 0, Layer = 1, Neuron = 2 };

constexpr std::string_view slopeName(Slope slope) {
  return slope == Slope::Layer    ? "layer"
         : slope == Slope::Neuron ? "neuron"
                                  : "none";
}
constexpr std::optional<Slope> parseSlope(std::string_view name) {
  if (name == "none")
    return Slope::None;
  if (name == "layer")
    return Slope::Layer;
  if (name == "neuron")
    return Slope::Neuron;
  return std::nullopt;
}

/// The typed-layer facts of a network: empty vectors for a plain MLP (what
/// every kernel before issue 14 is), else one entry per hidden layer.
struct LayerKinds {
  std::vector<Slope> slopes;
  std::vector<bool> residual;
  /// Frequencies m of the Fourier-feature input embedding; 0: none.
  int64_t fourier = 0;
  /// The modified MLP's gates U and V around every hidden layer.
  bool gated = false;

  /// The width the first layer reads: 2m with a Fourier embedding, else d.
  int64_t firstInputWidth(int64_t d) const {
    return fourier > 0 ? 2 * fourier : d;
  }

  bool empty() const {
    if (fourier != 0 || gated)
      return false;
    for (Slope s : slopes)
      if (s != Slope::None)
        return false;
    for (bool r : residual)
      if (r)
        return false;
    return true;
  }
  /// Of hidden layer `hidden` (0-based).
  Slope slope(size_t hidden) const {
    return hidden < slopes.size() ? slopes[hidden] : Slope::None;
  }
  bool isResidual(size_t hidden) const {
    return hidden < residual.size() && residual[hidden];
  }
  /// Trainable slopes of hidden layer `hidden` of width `width`.
  int64_t slopeCount(size_t hidden, int64_t width) const {
    Slope s = slope(hidden);
    return s == Slope::Layer ? 1 : s == Slope::Neuron ? width : 0;
  }
  /// The canonical manifest spellings: "none,neuron" / "0,1", or "" when no
  /// hidden layer has one.
  std::string slopesText() const {
    bool any = false;
    for (Slope s : slopes)
      any |= s != Slope::None;
    std::string text;
    for (size_t i = 0; any && i < slopes.size(); ++i)
      text += (i ? "," : "") + std::string(slopeName(slopes[i]));
    return text;
  }
  std::string residualText() const {
    bool any = false;
    for (bool r : residual)
      any |= r;
    std::string text;
    for (size_t i = 0; any && i < residual.size(); ++i)
      text += std::string(i ? "," : "") + (residual[i] ? "1" : "0");
    return text;
  }
  /// One sentence naming the broken rule for a network with these widths,
  /// or "" when the kinds are valid (slopes/residual empty or one per hidden
  /// layer; residual layers square and not the first).
  std::string check(const std::vector<int64_t> &layers) const {
    size_t hidden = layers.size() < 2 ? 0 : layers.size() - 2;
    if (fourier < 0 || fourier > (int64_t(1) << 15))
      return "a Fourier embedding has 1.." + std::to_string(int64_t(1) << 15) +
             " frequencies (2m <= kMaxWidth), got " + std::to_string(fourier);
    if (!slopes.empty() && slopes.size() != hidden)
      return "slopes lists " + std::to_string(slopes.size()) +
             " entries but the network has " + std::to_string(hidden) +
             " hidden layers";
    if (!residual.empty() && residual.size() != hidden)
      return "residual lists " + std::to_string(residual.size()) +
             " entries but the network has " + std::to_string(hidden) +
             " hidden layers";
    if (std::string broken = checkGated(layers); !broken.empty())
      return broken;
    for (size_t i = 0; i < residual.size(); ++i) {
      if (!residual[i])
        continue;
      if (i == 0)
        return "the first hidden layer cannot be residual: its input is the "
               "network input, not a hidden layer's output";
      if (layers[i] != layers[i + 1])
        return "residual hidden layer " + std::to_string(i + 1) +
               " maps width " + std::to_string(layers[i]) + " to " +
               std::to_string(layers[i + 1]) +
               "; a residual layer H + F(H) needs equal widths";
    }
    return "";
  }
  /// The gated network's rules (see Slope above), or "".
  std::string checkGated(const std::vector<int64_t> &layers) const {
    if (!gated)
      return "";
    if (layers.size() < 3)
      return "a gated network needs at least one hidden layer (U and V gate "
             "the hidden layers)";
    for (size_t i = 2; i + 1 < layers.size(); ++i)
      if (layers[i] != layers[1])
        return "a gated layer's branches differ in width: U and V have the "
               "first hidden width " +
               std::to_string(layers[1]) + " but hidden layer " +
               std::to_string(i) + " has width " + std::to_string(layers[i]) +
               "; every hidden layer of a gated network has the width of U "
               "and V";
    for (bool r : residual)
      if (r)
        return "a gated network has no residual layers: each hidden layer's "
               "output is already the gate U + Z (V - U)";
    return "";
  }
  /// Parameters of the gates U and V (W_u, b_u, W_v, b_v), 0 when not
  /// gated; nullopt on overflow.
  std::optional<int64_t> gateParams(const std::vector<int64_t> &layers) const {
    if (!gated || layers.size() < 3)
      return 0;
    int64_t in = firstInputWidth(layers[0]), count = 0;
    if (__builtin_add_overflow(in, int64_t(1), &count) ||
        __builtin_mul_overflow(count, layers[1], &count) ||
        __builtin_mul_overflow(count, int64_t(2), &count))
      return std::nullopt;
    return count;
  }
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

/// The number of parameters of an MLP with these widths: sum over layers of
/// out * in + out (torch.nn.Linear order), plus the slopes of `kinds`.
/// nullopt on fewer than two widths, a width < 1, or int64 overflow. The one
/// definition: the verifier, the passes, the manifest and the runtime all
/// call it.
inline std::optional<int64_t> countParams(const std::vector<int64_t> &layers,
                                          const LayerKinds &kinds = {}) {
  if (layers.size() < 2 || kinds.fourier < 0)
    return std::nullopt;
  int64_t total = 0;
  // A Fourier embedding: B [m, d], and the first layer reads 2m.
  if (kinds.fourier > 0 && layers[0] > 0 &&
      __builtin_mul_overflow(kinds.fourier, layers[0], &total))
    return std::nullopt;
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l] < 1)
      return std::nullopt;
    if (l == 0)
      continue;
    int64_t layer = 0;
    // A gated network: W_u, b_u, W_v, b_v before the first hidden layer.
    std::optional<int64_t> gates = kinds.gateParams(layers);
    if (l == 1 && (!gates || __builtin_add_overflow(total, *gates, &total)))
      return std::nullopt;
    int64_t in = l == 1 ? kinds.firstInputWidth(layers[0]) : layers[l - 1];
    if (__builtin_add_overflow(in, int64_t(1), &layer) ||
        __builtin_mul_overflow(layer, layers[l], &layer) ||
        __builtin_add_overflow(total, layer, &total))
      return std::nullopt;
    if (l + 1 < layers.size() &&
        __builtin_add_overflow(total, kinds.slopeCount(l - 1, layers[l]),
                               &total))
      return std::nullopt;
  }
  return total;
}

/// Elements of saved jets per tile for the forward-save / backward-saved
/// path: the seed, then per layer the affine output and (hidden layers) the
/// activation output, [order + 1, width, tile] each; a hidden layer with a
/// slope also saves the scaled jet, a residual one the sum, a gated one the
/// gate, and a gated network the affine and activation outputs of U and V
/// (4 h). nullopt on overflow.
inline std::optional<int64_t>
workspaceElementsPerTile(const std::vector<int64_t> &layers, int64_t order,
                         int64_t tile, const LayerKinds &kinds = {}) {
  if (layers.size() < 2 || order < 0 || tile < 1 || kinds.fourier < 0)
    return std::nullopt;
  int64_t widths = layers.front();
  // A Fourier embedding saves 2 pi B x (with its phases) and the sines.
  if (kinds.fourier > 0 &&
      __builtin_add_overflow(widths, 4 * kinds.fourier, &widths))
    return std::nullopt;
  int64_t gates = 0;
  if (kinds.gated && layers.size() > 2 &&
      (__builtin_mul_overflow(layers[1], int64_t(4), &gates) ||
       __builtin_add_overflow(widths, gates, &widths)))
    return std::nullopt;
  for (size_t l = 1; l < layers.size(); ++l) {
    int64_t width = 0;
    bool hidden = l + 1 < layers.size();
    int64_t jets = hidden ? 2 + (kinds.slope(l - 1) != Slope::None) +
                                kinds.isResidual(l - 1) + kinds.gated
                          : 1;
    if (__builtin_mul_overflow(layers[l], jets, &width) ||
        __builtin_add_overflow(widths, width, &widths))
      return std::nullopt;
  }
  int64_t elements = 0;
  if (__builtin_mul_overflow(order + 1, widths, &elements) ||
      __builtin_mul_overflow(elements, tile, &elements))
    return std::nullopt;
  return elements;
}

/// The same for a partials kernel whose rays propagate `columns` jet
/// coefficients in all (partials::Plan::jetCoefficients): each ray's jets,
/// [orders of the ray, width, tile] per layer as above, the top ones stacked
/// as the forward combines them. Its manifest cannot be checked against
/// the plan by the runtime (which does not plan), only for being a positive
/// multiple of workspaceElementsPerTile(layers, 0, tile, kinds).
inline std::optional<int64_t>
partialsWorkspaceElementsPerTile(const std::vector<int64_t> &layers,
                                 int64_t columns, int64_t tile,
                                 const LayerKinds &kinds = {}) {
  if (columns < 1)
    return std::nullopt;
  return workspaceElementsPerTile(layers, columns - 1, tile, kinds);
}

/// Elements of jets one tile keeps on the stack, at most: the backward that
/// recomputes the forward holds every forward jet (workspaceElementsPerTile)
/// and two cotangent buffers of the widest layer, [order + 1, width, tile]
/// each, three with a residual layer, four in a gated network (the forward
/// alone: two buffers of the widest layer, three with a residual layer, four
/// in a gated network: U, V and two). nullopt on overflow.
inline std::optional<int64_t>
jetStackElementsPerTile(const std::vector<int64_t> &layers, int64_t order,
                        int64_t tile, const LayerKinds &kinds = {}) {
  std::optional<int64_t> jets =
      workspaceElementsPerTile(layers, order, tile, kinds);
  if (!jets)
    return std::nullopt;
  int64_t widest = 0, cotangents = 0;
  for (int64_t width : layers)
    widest = width > widest ? width : widest;
  if (2 * kinds.fourier > widest)
    widest = 2 * kinds.fourier;
  bool residual = false;
  for (bool r : kinds.residual)
    residual |= r;
  if (__builtin_mul_overflow(order + 1, widest, &cotangents) ||
      __builtin_mul_overflow(cotangents, tile, &cotangents) ||
      __builtin_mul_overflow(cotangents,
                             int64_t(kinds.gated ? 4
                                     : residual  ? 3
                                                 : 2),
                             &cotangents) ||
      __builtin_add_overflow(*jets, cotangents, &cotangents))
    return std::nullopt;
  return cotangents;
}

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

/// Elements of a CUDA kernel's workspace after its header, for `batch`:
/// the saved jets (tiles * workspacePerTile), the per-sample gradient
/// columns (P * batch), the per-block partial sums (blocks * P) and an x
/// gradient for callers that pass none (batch * d_in). nullopt on overflow.
inline std::optional<int64_t> cudaWorkspaceElements(const KernelManifest &m,
                                                    int64_t batch) {
  if (m.tile < 1 || batch < 0)
    return std::nullopt;
  int64_t blocks = batch / m.tile + (batch % m.tile != 0);
  int64_t jets = 0, columns = 0, partials = 0, xGrad = 0, total = 0;
  if (__builtin_mul_overflow(blocks, m.workspacePerTile, &jets) ||
      __builtin_mul_overflow(m.numParams, batch, &columns) ||
      __builtin_mul_overflow(blocks, m.numParams, &partials) ||
      __builtin_mul_overflow(batch, m.inputDim(), &xGrad) ||
      __builtin_add_overflow(jets, columns, &total) ||
      __builtin_add_overflow(total, partials, &total) ||
      __builtin_add_overflow(total, xGrad, &total))
    return std::nullopt;
  return total;
}

/// The manifest text: kManifestMagic, then one key=value line per field, in
/// this order, every key always present (the CUDA keys only for device=cuda):
///   abi_version name activation order dtype device layers num_params tile
///   backward workspace_per_tile target_cpu cpu_features
///   [chip format mapping block_size samples_per_block image_bytes]
///   [partials]
/// `partials` (rows separated by ';', entries by ',') only for partials
/// kernels: a runtime that predates them refuses the key. `slopes`
/// ("none,neuron": one of none, layer, neuron per hidden layer),
/// `residual` ("0,1"), `fourier` (m) and `gated` (1) only for networks with
/// typed layers (LayerKinds).
/// A runtime that predates them refuses the keys.
/// Lists are comma-separated. Unknown keys are an error: a field that
/// changes what the runtime must do bumps kAbiVersion instead.
std::string serializeManifest(const KernelManifest &manifest);

/// The network of `manifest` as the canonical one-line IR of its ntp.mlp:
///   ntp.mlp @pinn layers [1, 24, 24, 1] activation "tanh" order 9 : f64
/// with per-layer activations as the list `activation ["silu", "tanh"]`
/// (what ntp_kernel_description returns; ntp-opt parses it back).
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

//===----------------------------------------------------------------------===//
// The container (ABI version 2)
//===----------------------------------------------------------------------===//
//
// One container for every artifact, CPU and CUDA:
//
//   payload | manifest text | trailer (kTrailerBytes)
//
// The payload is the ELF shared object (CPU) or the PTX text / cubin (CUDA).
// The trailer, little-endian, fixed size, at the very end of the file:
//
//   offset  0  uint64  payload bytes
//   offset  8  uint64  manifest bytes
//   offset 16  uint64  checksum: checksum64 over the payload, the manifest
//                      and the trailer with this field left out
//   offset 24  uint32  trailer bytes (kTrailerBytes)
//   offset 28  uint32  ABI version (kAbiVersion)
//   offset 32  char[8] kTrailerMagic
//
// The magic and the version sit at fixed offsets from the end, so any later
// version's artifact is recognised as such and refused by number. A shared
// object with bytes appended still loads with dlopen (the loader maps only
// its segments), so the runtime reads and validates the whole file, manifest
// and checksum included, before dlopen runs any of its code. The CPU payload
// also exports the same manifest text as the symbol <prefix>_manifest, which
// the loader compares with the trailer's after dlopen.
//
// ABI version 1 (before the container): a CPU artifact was a bare shared
// object exporting ntp_kernel_manifest; a CUDA artifact was the text
// "ntp-cuda-artifact\n", the manifest, "end-manifest\n", the image. Both are
// recognised and refused with NTP_ERROR_ABI_MISMATCH naming version 1.

inline constexpr std::string_view kTrailerMagic = "NTPARTF\n";
inline constexpr size_t kTrailerBytes = 40;
/// The magic of version 1 CUDA artifacts (recognised to refuse them).
inline constexpr std::string_view kLegacyCudaMagic = "ntp-cuda-artifact\n";

/// Size caps the reader enforces before reading anything.
inline constexpr int64_t kMaxManifestBytes = 64 * 1024;
inline constexpr int64_t kMaxArtifactBytes = int64_t(1) << 30; // 1 GiB

/// 64-bit FNV-1a, continuing from `state` (kChecksumSeed to start). Any
/// change of a single byte changes the result.
inline constexpr uint64_t kChecksumSeed = 0xcbf29ce484222325ull;
uint64_t checksum64(std::string_view bytes, uint64_t state = kChecksumSeed);

/// The artifact holding `payload` and `manifest` (serialized with
/// serializeManifest): the one writer of the container, for both targets.
std::string sealArtifact(std::string_view payload,
                         const KernelManifest &manifest);

/// The same with manifest text as is and any version number in the
/// trailer: for tests and tools that must write artifacts the reader
/// refuses. Compilers call sealArtifact.
std::string sealArtifactText(std::string_view payload,
                             std::string_view manifestText,
                             int32_t abiVersion = kAbiVersion);

/// An artifact whose container, checksum and manifest were validated; the
/// views point into the bytes given to openArtifact.
struct ArtifactView {
  std::string_view payload;
  std::string_view manifestText;
  KernelManifest manifest;
};

/// Validates `bytes` as a whole artifact: trailer, sizes, checksum, the
/// manifest (parseManifest), and for CUDA image_bytes == payload size.
/// Version 1 artifacts and trailers of other versions give
/// NTP_ERROR_ABI_MISMATCH; anything else NTP_ERROR_BAD_ARTIFACT. `error` is
/// a sentence fragment to prefix with the artifact's name, as for
/// parseManifest.
ntp_status openArtifact(std::string_view bytes, ArtifactView &view,
                        std::string &error);

/// Reads the file at `path` for openArtifact without ever blocking or
/// reading without bound: opened with O_NONBLOCK, refused unless fstat says
/// it is a regular file, refused when larger than `maxBytes`. NTP_ERROR_IO
/// (cannot open, not a regular file, read error) or NTP_ERROR_BAD_ARTIFACT
/// (too large); `error` is a sentence fragment: the system's reason ("No
/// such file or directory"), "it is not a regular file", ... With `keepFd`, the
/// open descriptor is returned there (the caller closes it) so that the caller
/// can use exactly the file that was read.
ntp_status readArtifactFile(const std::string &path, std::string &bytes,
                            std::string &error,
                            int64_t maxBytes = kMaxArtifactBytes,
                            int *keepFd = nullptr);

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_HPP
