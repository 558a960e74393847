//===- BackwardPlan.h - What the reverse-mode generators share --*- C++ -*-===//
//
// Internal to lib/Transforms: the plan of a kernel's forward (its jet ops in
// order) and the helpers that ntp-generate-backward's parts share: the jet
// chain and the pass (GenerateBackward.cpp), the partials kernels
// (PartialsBackward.cpp) and the typed layers' rules (TypedLayerBackward.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_BACKWARDPLAN_H
#define NTP_LIB_TRANSFORMS_BACKWARDPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLExtras.h"

#include <string>
#include <vector>

namespace ntp::backward {

/// One jet op of the forward, in order.
struct JetStep {
  /// Gate: the modified MLP's ntp.gate_jets, in a partials kernel's rays
  /// (PartialsBackward.cpp; a jet kernel's gates are GatedBackward.cpp's).
  enum class Kind {
    Seed,
    Affine,
    Activate,
    Scale,
    Add,
    FourierProject,
    Gate
  } kind;
  int64_t width;          // width of the jet it produces
  int64_t liveOrders;     // live orders of its input (seed: unused)
  int64_t weightOffset;   // affine; scale: the slopes' offset
  std::string activation; // activate
  bool perNeuron = false; // scale: one slope per neuron
  size_t skip = 0;        // add: the step whose jet is added to step i - 1's
};

/// The forward of one kernel, as read from its tile loop.
struct JetPlan {
  std::string name; // without the _forward_tiles suffix
  mlir::Type element;
  int64_t orders = 0, tile = 0;
  int64_t storedLiveOrders = 0;
  int64_t numParams = 0;
  std::vector<JetStep> steps;

  /// Whether a step adds jets (a residual layer): its reverse keeps the
  /// skip connection's cotangent in a third buffer.
  bool hasAdd() const {
    return llvm::any_of(
        steps, [](const JetStep &s) { return s.kind == JetStep::Kind::Add; });
  }

  /// Elements of one tile's saved jets (every step's buffer).
  int64_t workspacePerTile() const {
    int64_t total = 0;
    for (const JetStep &s : steps)
      total += orders * s.width * tile;
    return total;
  }
};

/// What a generated function does.
enum class BackwardMode {
  Recompute,    // forward on the stack, then reverse
  ForwardSave,  // forward into the workspace, then store the output
  ReverseSaved, // reverse only, from the workspace
};

//===----------------------------------------------------------------------===//
// Shared by the jet and partials reverse modes (BackwardPlan.cpp)
//===----------------------------------------------------------------------===//

/// The empty generated function of `mode` for kernel `name`, the same
/// signature for jet and partials kernels: (x, v, params, out | cotangent,
/// [grad, x_grad], [workspace], batch, tile_begin, tile_end).
mlir::func::FuncOp createFunction(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::Type element, const std::string &name,
                                  BackwardMode mode, int64_t workspacePerTile);

/// Lane-wise gradient accumulators [numParams, tile] on the heap, zeroed.
mlir::Value createZeroedLanes(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Type element, int64_t numParams,
                              int64_t tile);

/// Sample `tile`'s gradient column of `grad`, [numParams] with stride
/// `batch` (per-sample gradients, tile size 1: the GPU's), zeroed by a
/// neuron loop (which the lanes mapping spreads over a warp).
mlir::Value createSampleColumn(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::Type element, int64_t numParams,
                               mlir::Value grad, mlir::Value tile,
                               mlir::Value batch);

/// `tile`'s [orders, width, tileSize] block of `workspace` at `offset`
/// elements into the tile's slice of `workspacePerTile` elements.
mlir::Value sliceWorkspace(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value workspace, mlir::Value tile,
                           int64_t workspacePerTile, int64_t offset,
                           int64_t orders, int64_t width, int64_t tileSize,
                           mlir::Type element);

/// Stamps `forward` with its workspace per tile (ntp.workspace_per_tile) and
/// the module's #ntp.kernel with the reverse mode (when it describes kernel
/// `name`), checking that the kernel's workspace is `workspacePerTile`.
mlir::LogicalResult stampBackwardFacts(mlir::ModuleOp module,
                                       mlir::func::FuncOp forward,
                                       llvm::StringRef name,
                                       int64_t workspacePerTile);

//===----------------------------------------------------------------------===//
// Typed layers (TypedLayerBackward.cpp)
//===----------------------------------------------------------------------===//

/// Appends the step of `op` to `plan` when it is a typed layer; `writer` maps
/// each jet buffer to the step that last wrote it. Returns false when `op` is
/// no typed layer, failure (with an error) when it is a malformed one.
mlir::FailureOr<bool>
readTypedLayerStep(mlir::Operation *op, JetPlan &plan,
                   const llvm::DenseMap<mlir::Value, size_t> &writer);

/// The forward of typed-layer step `i` (`s`) into jets[i].
void emitTypedLayerForward(mlir::OpBuilder &b, mlir::Location loc,
                           const JetStep &s, llvm::ArrayRef<mlir::Value> jets,
                           size_t i, mlir::Value params);

/// The VJP rule of typed-layer step `s` (scale, fourier_project): from `bar`
/// to `inBar`, the parameter gradient into `lanes`. A residual add has no
/// rule of its own: the jet chain routes its cotangent.
void emitTypedLayerVjp(mlir::OpBuilder &b, mlir::Location loc, const JetStep &s,
                       mlir::Value input, mlir::Value params, mlir::Value bar,
                       mlir::Value lanes, mlir::Value inBar);

//===----------------------------------------------------------------------===//
// Partials kernels (PartialsBackward.cpp)
//===----------------------------------------------------------------------===//

/// Generates the reverse mode of the partials kernel `forward`.
mlir::LogicalResult generatePartialsBackward(mlir::ModuleOp module,
                                             mlir::func::FuncOp forward,
                                             bool perSampleGrads);

} // namespace ntp::backward

#endif // NTP_LIB_TRANSFORMS_BACKWARDPLAN_H
