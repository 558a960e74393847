//===- WorkspaceSizes.hpp - Tiles, limits and workspace sizes ---*- C++ -*-===//
//
// Part of ntp/artifact.hpp (include that): the default tile, the bounds
// the verifier and the passes enforce (kMaxTile, kMaxWidth, kMaxParams,
// kMaxTileStackBytes), and the one definition of each workspace and
// stack size.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_WORKSPACESIZES_HPP
#define NTP_ARTIFACT_WORKSPACESIZES_HPP

#include "ntp/artifact/LayerKinds.hpp"
#include "ntp/artifact/Manifest.hpp"
#include "ntp/artifact/Types.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace ntp::artifact {

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

/// The same for a partials kernel whose reverse mode saves `columns` jet
/// coefficient rows in all: the per-ray reverse each ray's jets
/// (partials::Plan::jetCoefficients), [orders of the ray, width, tile] per
/// layer as above, the top ones stacked as the forward combines them; a
/// reverse mode that follows a multi-direction or collapsed forward the
/// rows of its blocks (fewer; KernelTarget::partialsSavedRows). Its manifest
/// cannot be checked against the plan by the runtime (which does not plan),
/// only for being a positive multiple of workspaceElementsPerTile(layers,
/// 0, tile, kinds); ntp_workspace_size is then exactly what the save
/// writes.
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

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_WORKSPACESIZES_HPP
