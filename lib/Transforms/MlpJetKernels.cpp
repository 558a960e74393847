//===- MlpJetKernels.cpp - ntp.mlp -> a jet kernel's per-layer ops ------===//
//
// Part of ntp-decompose-mlp: the tile body of a jet kernel, for a chain of
// (typed) layers and for the modified MLP's gated network.
//
//===----------------------------------------------------------------------===//

#include "MlpKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::decompose;

func::FuncOp KernelBuilder::build(OpBuilder &b) {
  Location loc = mlp.getLoc();
  Type element = mlp.getElementType();
  OpBuilder::InsertionGuard guard(b);
  auto [func, entry, x, v, params, out, batch, tileBegin, tileEnd] =
      beginTilesFunction(b);

  ArrayRef<int64_t> layers = mlp.getLayers();
  int64_t orders = mlp.getOrder() + 1;
  artifact::LayerKinds kinds = mlp.getLayerKinds();
  int64_t maxWidth = std::max(*std::max_element(layers.begin(), layers.end()),
                              2 * kinds.fourier);
  bool anyResidual = llvm::is_contained(kinds.residual, true);
  // Two ping-pong jet buffers of the widest layer: a layer reads one and
  // writes the other, so the working set stays 2 * orders * width * tile.
  // A residual layer keeps its input H while it computes F(H): a third.
  auto bufferType = JetBufferShape::get(
      orders, JetBufferShape::paddedNeurons(maxWidth, tileSize, element),
      tileSize, element);
  SmallVector<Value, 3> buffers;
  for (int i = 0, e = anyResidual ? 3 : 2; i < e; ++i)
    buffers.push_back(memref::AllocaOp::create(b, loc, bufferType));

  Value tile = beginTileLoop(b, tileBegin, tileEnd);

  int current = 0;
  Value jet = view(b, buffers[current], orders, layers[0]);
  SeedOp::create(b, loc, x, v, jet, batch, tile);
  // The seed is (x, v, 0, ...): orders >= 2 are structural zeros.
  int64_t live = std::min<int64_t>(orders, 2);
  int64_t offset = 0;
  // Fourier features: [sin(2 pi B x), cos(2 pi B x)] as the sines of
  // 2 pi B x and 2 pi B x + pi / 2; B leads the parameters.
  if (int64_t m = kinds.fourier) {
    current ^= 1;
    Value z = view(b, buffers[current], orders, 2 * m);
    FourierProjectOp::create(b, loc, jet, params, 0, z, live);
    offset = m * layers[0];
    current ^= 1;
    Value features = view(b, buffers[current], orders, 2 * m);
    ActivateOp::create(b, loc, "sin", z, features, live);
    live = orders;
    jet = features;
  }
  SmallVector<std::string> activations = mlp.getHiddenActivations();
  for (size_t l = 1; l < layers.size(); ++l) {
    size_t hidden = l - 1;
    bool residual = kinds.isResidual(hidden);
    // A residual layer's input stays in its buffer until the sum.
    int input = current, kept = residual ? input : -1;
    Value layerInput = jet;
    current = otherBuffer(current, -1);
    Value next = view(b, buffers[current], orders, layers[l]);
    AffineOp::create(b, loc, jet, params, offset, next, live);
    offset += affineParams(l);
    jet = next;
    if (l + 1 == layers.size())
      break;
    // Adaptive activation: sigma(a * y), the slopes after the bias.
    if (int64_t count = kinds.slopeCount(hidden, layers[l])) {
      current = otherBuffer(current, kept);
      next = view(b, buffers[current], orders, layers[l]);
      ScaleOp::create(b, loc, jet, params, offset, next, live,
                      kinds.slope(hidden) == artifact::Slope::Neuron);
      offset += count;
      jet = next;
    }
    current = otherBuffer(current, kept);
    next = view(b, buffers[current], orders, layers[l]);
    ActivateOp::create(b, loc, activations[l - 1], jet, next, live);
    // An activation fills every order from a jet with any nonzero order 1.
    live = orders;
    jet = next;
    // Residual: H_l = H_{l-1} + sigma(...), in place (both full jets).
    if (residual)
      AddJetsOp::create(b, loc, layerInput, jet, jet, live);
  }
  StoreJetOp::create(b, loc, jet, out, batch, tile, live);
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc);
  return func;
}

func::FuncOp KernelBuilder::buildGated(OpBuilder &b) {
  Location loc = mlp.getLoc();
  Type element = mlp.getElementType();
  OpBuilder::InsertionGuard guard(b);
  auto [func, entry, x, v, params, out, batch, tileBegin, tileEnd] =
      beginTilesFunction(b);

  ArrayRef<int64_t> layers = mlp.getLayers();
  int64_t orders = mlp.getOrder() + 1, h = layers[1];
  artifact::LayerKinds kinds = mlp.getLayerKinds();
  int64_t maxWidth = std::max(*std::max_element(layers.begin(), layers.end()),
                              2 * kinds.fourier);
  auto bufferType = JetBufferShape::get(orders, maxWidth, tileSize, element);
  Value buffers[2] = {memref::AllocaOp::create(b, loc, bufferType),
                      memref::AllocaOp::create(b, loc, bufferType)};
  auto gateType = JetBufferShape::get(orders, h, tileSize, element);
  Value u = memref::AllocaOp::create(b, loc, gateType);
  Value gv = memref::AllocaOp::create(b, loc, gateType);

  Value tile = beginTileLoop(b, tileBegin, tileEnd);

  int current = 0;
  // The other ping-pong buffer, [orders, width, tile], now current.
  auto next = [&](int64_t width) {
    current ^= 1;
    return view(b, buffers[current], orders, width);
  };
  Value jet = view(b, buffers[current], orders, layers[0]);
  SeedOp::create(b, loc, x, v, jet, batch, tile);
  int64_t live = std::min<int64_t>(orders, 2);
  int64_t offset = 0;
  if (int64_t m = kinds.fourier) {
    Value z = next(2 * m);
    FourierProjectOp::create(b, loc, jet, params, 0, z, live);
    offset = m * layers[0];
    jet = next(2 * m);
    ActivateOp::create(b, loc, "sin", z, jet, live);
    live = orders;
  }
  SmallVector<std::string> activations = mlp.getHiddenActivations();
  // U and V: the first hidden layer's activation of W X + b, written
  // through the buffer X is not in.
  int64_t in = kinds.firstInputWidth(layers[0]);
  for (Value gate : {u, gv}) {
    Value y = view(b, buffers[current ^ 1], orders, h);
    AffineOp::create(b, loc, jet, params, offset, y, live);
    offset += h * in + h;
    ActivateOp::create(b, loc, activations[0], y, gate, live);
  }
  for (size_t l = 1; l < layers.size(); ++l) {
    size_t hidden = l - 1;
    Value y = next(layers[l]);
    AffineOp::create(b, loc, jet, params, offset, y, live);
    offset += affineParams(l);
    jet = y;
    if (l + 1 == layers.size())
      break;
    if (int64_t count = kinds.slopeCount(hidden, layers[l])) {
      Value scaled = next(layers[l]);
      ScaleOp::create(b, loc, jet, params, offset, scaled, live,
                      kinds.slope(hidden) == artifact::Slope::Neuron);
      offset += count;
      jet = scaled;
    }
    Value z = next(layers[l]);
    ActivateOp::create(b, loc, activations[hidden], jet, z, live);
    live = orders;
    jet = next(layers[l]);
    GateJetsOp::create(b, loc, u, gv, z, jet, live);
  }
  StoreJetOp::create(b, loc, jet, out, batch, tile, live);
  b.setInsertionPointToEnd(entry);
  func::ReturnOp::create(b, loc);
  return func;
}
