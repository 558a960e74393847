//===- MlpKernelBuilder.h - ntp.mlp -> per-layer jet ops ---------*- C++
//-*-===//
//
// The builder ntp-decompose-mlp (DecomposeMlp.cpp) runs: jet kernels in
// MlpJetKernels.cpp, partials kernels in MlpPartialsKernels.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_TRANSFORMS_MLPKERNELBUILDER_H
#define NTP_LIB_TRANSFORMS_MLPKERNELBUILDER_H

#include "ConstantBuffer.h"
#include "JetCorner.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/Partials.h"
#include "ntp/Support/PartialsLowering.h"
#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ntp::decompose {

// A private header of one pass, written in the pass's MLIR idiom.
using namespace mlir;

/// Builds `@<name>_forward_tiles` for one ntp.mlp.
class KernelBuilder {
public:
  KernelBuilder(MlpOp mlp, int64_t tileSize) : mlp(mlp), tileSize(tileSize) {}

  /// `@<name>_forward_tiles(x, v, params, out, batch, tile_begin,
  /// tile_end)` with its entry block; `b` is left at the block's start.
  /// With another `suffix`, a private helper function of the same signature
  /// that is not a kernel entry (the per-ray rays a partials kernel's reverse
  /// mode is generated from).
  func::FuncOp createTilesFunction(OpBuilder &b,
                                   StringRef suffix = "_forward_tiles") {
    auto flat = MemRefType::get({ShapedType::kDynamic}, mlp.getElementType());
    auto index = b.getIndexType();
    auto type =
        b.getFunctionType({flat, flat, flat, flat, index, index, index}, {});
    auto func = func::FuncOp::create(b, mlp.getLoc(),
                                     (mlp.getSymName() + suffix).str(), type);
    if (suffix == "_forward_tiles")
      func->setAttr("ntp.kernel", b.getUnitAttr());
    else
      func.setPrivate();
    b.setInsertionPointToStart(func.addEntryBlock());
    return func;
  }

  /// A jet kernel of a plain or typed chain network (MlpJetKernels.cpp).
  func::FuncOp build(OpBuilder &b);

  /// A gated network (the modified MLP): X (the seed, or its Fourier
  /// features), U and V from X into buffers of their own, then per hidden
  /// layer affine, [scale], activate and ntp.gate_jets of U, V and the
  /// activation, and the output affine. Two ping-pong buffers besides U and
  /// V: every op there reads the previous op's jet only (X is last read by
  /// the first hidden affine).
  func::FuncOp buildGated(OpBuilder &b);

  /// A partials kernel: the same signature (the direction argument is not
  /// read), a tile's body propagating one univariate jet per ray of `plan`
  /// (each up to its own order, through the same per-layer ops), the top
  /// layer's jets stacked into one buffer, and ntp.combine_partials with the
  /// exact interpolation weights into [P, q, tile], stored as out [P, batch,
  /// q].
  func::FuncOp buildPartials(OpBuilder &b, const partials::Plan &plan,
                             StringRef suffix = "_forward_tiles");

  /// A partials kernel lowered multi-direction or collapsed
  /// (ntp/Support/PartialsLowering.h): per block of rays, one seed_rays,
  /// affine_rays and activate_rays per layer on a buffer holding order 0
  /// once and every ray's orders 1..n (and the collapsed row), the top
  /// layer's rows of every block stacked into one buffer and combined with
  /// the plan's weights as in buildPartials. A gated network: U and V per
  /// block into two buffers of their own, ntp.gate_rays after each hidden
  /// activation.
  func::FuncOp buildMultiPartials(OpBuilder &b, const partials::Plan &plan,
                                  const partials::LoweringPlan &lowering,
                                  StringRef suffix = "_forward_tiles");

  /// A partials kernel lowered multivariate (MlpPolyKernels.cpp): one
  /// buffer of the Taylor coefficients over `lowering`'s monomials per
  /// layer, ntp.activate_poly for the activations, the top rows combined
  /// with the plan's weights. Not for gated networks.
  func::FuncOp buildPolyPartials(OpBuilder &b, const partials::Plan &plan,
                                 const partials::LoweringPlan &lowering);

  /// Elements of jets one tile of a partials kernel keeps on the stack.
  static int64_t partialsStackElements(ArrayRef<int64_t> layers,
                                       const artifact::LayerKinds &kinds,
                                       const partials::Plan &plan,
                                       int64_t tile) {
    int64_t orders =
        *std::max_element(plan.rayOrders.begin(), plan.rayOrders.end()) + 1;
    int64_t gates = kinds.gated ? 2 * orders * layers[1] : 0;
    return (partialsBuffers(kinds) * orders * typedMaxWidth(layers, kinds) +
            gates +
            (plan.jetCoefficients() + static_cast<int64_t>(plan.terms.size())) *
                layers.back()) *
           tile;
  }

  /// The widest jet of a network with typed layers (the Fourier features
  /// are 2m wide).
  static int64_t typedMaxWidth(ArrayRef<int64_t> layers,
                               const artifact::LayerKinds &kinds) {
    return std::max(*std::max_element(layers.begin(), layers.end()),
                    2 * kinds.fourier);
  }
  int64_t typedMaxWidth() {
    return typedMaxWidth(mlp.getLayers(), mlp.getLayerKinds());
  }
  /// Ping-pong buffers of a partials kernel's rays: a residual layer keeps
  /// its input in a third.
  static int partialsBuffers(const artifact::LayerKinds &kinds) {
    return llvm::is_contained(kinds.residual, true) ? 3 : 2;
  }
  int partialsBuffers() { return partialsBuffers(mlp.getLayerKinds()); }

private:
  /// A tiles function (createTilesFunction) and its arguments, named once
  /// for every kernel builder.
  struct TilesFunction {
    func::FuncOp func;
    Block *entry;
    Value x, v, params, out, batch, tileBegin, tileEnd;
  };
  TilesFunction beginTilesFunction(OpBuilder &b,
                                   StringRef suffix = "_forward_tiles") {
    func::FuncOp func = createTilesFunction(b, suffix);
    Block *entry = &func.front();
    auto arg = [&](unsigned i) { return entry->getArgument(i); };
    return {func,   entry,  arg(0), arg(1), arg(2),
            arg(3), arg(4), arg(5), arg(6)};
  }
  /// A partials kernel's tiles function: marked ntp.partials (its seeds'
  /// directions are constants, the direction argument is not read).
  TilesFunction beginPartialsFunction(OpBuilder &b,
                                      StringRef suffix = "_forward_tiles") {
    TilesFunction tiles = beginTilesFunction(b, suffix);
    tiles.func->setAttr("ntp.partials", b.getUnitAttr());
    return tiles;
  }

  /// The ping-pong jet buffers of [rows, widest typed layer, tile]: two, a
  /// third where a residual layer keeps its input (partialsBuffers()).
  /// `padded`: rows 4 KiB apart (JetBufferShape::paddedNeurons).
  SmallVector<Value, 3> allocatePingPong(OpBuilder &b, int64_t rows,
                                         bool padded) {
    Type element = mlp.getElementType();
    int64_t width = typedMaxWidth();
    if (padded)
      width = JetBufferShape::paddedNeurons(width, tileSize, element);
    auto type = JetBufferShape::get(rows, width, tileSize, element);
    SmallVector<Value, 3> buffers;
    for (int i = 0, e = partialsBuffers(); i < e; ++i)
      buffers.push_back(memref::AllocaOp::create(b, mlp.getLoc(), type));
    return buffers;
  }

  /// A gated network's U and V, [rows, first hidden width, tile] each.
  std::array<Value, 2> allocateGates(OpBuilder &b, int64_t rows) {
    auto type = JetBufferShape::get(rows, mlp.getLayers()[1], tileSize,
                                    mlp.getElementType());
    Value u = memref::AllocaOp::create(b, mlp.getLoc(), type);
    return {u, memref::AllocaOp::create(b, mlp.getLoc(), type)};
  }

  /// A partials kernel's stacked top rows, [columns, q, tile], and their
  /// combination, [requests, q, tile].
  std::pair<Value, Value> allocateTops(OpBuilder &b, int64_t columns,
                                       int64_t requests) {
    Type element = mlp.getElementType();
    int64_t q = mlp.getLayers().back();
    Value top = memref::AllocaOp::create(
        b, mlp.getLoc(), JetBufferShape::get(columns, q, tileSize, element));
    return {top, memref::AllocaOp::create(
                     b, mlp.getLoc(),
                     JetBufferShape::get(requests, q, tileSize, element))};
  }

  /// A partials kernel's end: `top` combined with `weights` into
  /// `combined`, its `requests` rows stored to `out`, the return.
  void finishPartials(OpBuilder &b, Block *entry, Value top, Value combined,
                      ArrayRef<double> weights, Value out, Value batch,
                      Value tile, int64_t requests) {
    Location loc = mlp.getLoc();
    CombinePartialsOp::create(b, loc, top, combined,
                              b.getDenseF64ArrayAttr(weights));
    StoreJetOp::create(b, loc, combined, out, batch, tile, requests);
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
  }

  /// The ping-pong buffer a layer writes: the first other than `busy` and
  /// `kept` (-1: none).
  static int otherBuffer(int busy, int kept) {
    int i = 0;
    while (i == busy || i == kept)
      ++i;
    return i;
  }

  /// The loop over the tiles [tileBegin, tileEnd) of a tiles function; `b`
  /// is left at the start of its body. Returns the tile.
  Value beginTileLoop(OpBuilder &b, Value tileBegin, Value tileEnd) {
    Location loc = mlp.getLoc();
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    return loop.getInductionVar();
  }

  /// The parameters of layer l's affine map (W and b), l >= 1: the first
  /// reads the input or its Fourier features.
  int64_t affineParams(size_t l) {
    ArrayRef<int64_t> layers = mlp.getLayers();
    int64_t in =
        l == 1 ? mlp.getLayerKinds().firstInputWidth(layers[0]) : layers[l - 1];
    return layers[l] * in + layers[l];
  }

  /// The [orders, width, tile] block of `buffer` starting at order `first`.
  Value corner(OpBuilder &b, Value buffer, int64_t first, int64_t orders,
               int64_t width) {
    return jetCorner(b, mlp.getLoc(), buffer, first, orders, width, tileSize);
  }

  /// The [orders, width, tile] corner of a ping-pong buffer (of `orders`).
  Value view(OpBuilder &b, Value buffer, int64_t orders, int64_t width) {
    return corner(b, buffer, 0, orders, width);
  }

  MlpOp mlp;
  int64_t tileSize;
};

} // namespace ntp::decompose

#endif // NTP_LIB_TRANSFORMS_MLPKERNELBUILDER_H
