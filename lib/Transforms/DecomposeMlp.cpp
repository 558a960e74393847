//===- DecomposeMlp.cpp - ntp.mlp -> per-layer jet ops --------------------===//
//
// Turns the network description into the kernel function: a loop over tiles
// of samples whose body is one seed, one affine + activate per hidden layer,
// a final affine and one store. This is where the structural zeros of the
// input jet (orders >= 2) are tracked, as `live_orders` on every op.
//
//===----------------------------------------------------------------------===//

#include "JetCorner.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/Partials.h"
#include "ntp/Support/PartialsLowering.h"
#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace ntp {
#define GEN_PASS_DEF_NTPDECOMPOSEMLP
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

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

  func::FuncOp build(OpBuilder &b) {
    Location loc = mlp.getLoc();
    Type element = mlp.getElementType();
    OpBuilder::InsertionGuard guard(b);
    auto func = createTilesFunction(b);
    Block *entry = &func.front();
    Value x = entry->getArgument(0), v = entry->getArgument(1),
          params = entry->getArgument(2), out = entry->getArgument(3),
          batch = entry->getArgument(4), tileBegin = entry->getArgument(5),
          tileEnd = entry->getArgument(6);

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
    // A buffer other than `busy` and `kept` (-1: none).
    auto other = [&](int busy, int kept) {
      int i = 0;
      while (i == busy || i == kept)
        ++i;
      return i;
    };

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

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
      current = other(current, -1);
      Value next = view(b, buffers[current], orders, layers[l]);
      AffineOp::create(b, loc, jet, params, offset, next, live);
      offset += layers[l] * (l == 1 ? kinds.firstInputWidth(layers[0])
                                    : layers[l - 1]) +
                layers[l];
      jet = next;
      if (l + 1 == layers.size())
        break;
      // Adaptive activation: sigma(a * y), the slopes after the bias.
      if (int64_t count = kinds.slopeCount(hidden, layers[l])) {
        current = other(current, kept);
        next = view(b, buffers[current], orders, layers[l]);
        ScaleOp::create(b, loc, jet, params, offset, next, live,
                        kinds.slope(hidden) == artifact::Slope::Neuron);
        offset += count;
        jet = next;
      }
      current = other(current, kept);
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

  /// A gated network (the modified MLP): X (the seed, or its Fourier
  /// features), U and V from X into buffers of their own, then per hidden
  /// layer affine, [scale], activate and ntp.gate_jets of U, V and the
  /// activation, and the output affine. Two ping-pong buffers besides U and
  /// V: every op there reads the previous op's jet only (X is last read by
  /// the first hidden affine).
  func::FuncOp buildGated(OpBuilder &b) {
    Location loc = mlp.getLoc();
    Type element = mlp.getElementType();
    OpBuilder::InsertionGuard guard(b);
    auto func = createTilesFunction(b);
    Block *entry = &func.front();
    Value x = entry->getArgument(0), v = entry->getArgument(1),
          params = entry->getArgument(2), out = entry->getArgument(3),
          batch = entry->getArgument(4), tileBegin = entry->getArgument(5),
          tileEnd = entry->getArgument(6);

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

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

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
      offset += layers[l] * (l == 1 ? in : layers[l - 1]) + layers[l];
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

  /// A partials kernel: the same signature (the direction argument is not
  /// read), a tile's body propagating one univariate jet per ray of `plan`
  /// (each up to its own order, through the same per-layer ops), the top
  /// layer's jets stacked into one buffer, and ntp.combine_partials with the
  /// exact interpolation weights into [P, q, tile], stored as out [P, batch,
  /// q].
  func::FuncOp buildPartials(OpBuilder &b, const partials::Plan &plan,
                             StringRef suffix = "_forward_tiles") {
    Location loc = mlp.getLoc();
    Type element = mlp.getElementType();
    OpBuilder::InsertionGuard guard(b);
    auto func = createTilesFunction(b, suffix);
    func->setAttr("ntp.partials", b.getUnitAttr());
    Block *entry = &func.front();
    Value x = entry->getArgument(0), params = entry->getArgument(2),
          out = entry->getArgument(3), batch = entry->getArgument(4),
          tileBegin = entry->getArgument(5), tileEnd = entry->getArgument(6);

    ArrayRef<int64_t> layers = mlp.getLayers();
    int64_t d = layers.front(), q = layers.back();
    int64_t orders =
        *std::max_element(plan.rayOrders.begin(), plan.rayOrders.end()) + 1;
    artifact::LayerKinds kinds = mlp.getLayerKinds();
    // Typed layers as in build(): a third buffer keeps a residual layer's
    // input, the Fourier features are 2m wide.
    auto bufferType =
        JetBufferShape::get(orders, typedMaxWidth(), tileSize, element);
    SmallVector<Value, 3> buffers;
    for (int i = 0, e = partialsBuffers(); i < e; ++i)
      buffers.push_back(memref::AllocaOp::create(b, loc, bufferType));
    auto other = [&](int busy, int kept) {
      int i = 0;
      while (i == busy || i == kept)
        ++i;
      return i;
    };
    // A gated network's U and V, per ray (as in buildGated).
    Value gates[2];
    if (kinds.gated)
      for (Value &gate : gates)
        gate = memref::AllocaOp::create(
            b, loc, JetBufferShape::get(orders, layers[1], tileSize, element));
    int64_t columns = plan.jetCoefficients();
    int64_t requests = static_cast<int64_t>(plan.terms.size());
    Value rays = memref::AllocaOp::create(
        b, loc, JetBufferShape::get(columns, q, tileSize, element));
    Value combined = memref::AllocaOp::create(
        b, loc, JetBufferShape::get(requests, q, tileSize, element));
    // The directions, constants written once per call.
    SmallVector<Value> directions;
    for (const std::vector<int64_t> &ray : plan.rays) {
      Value direction =
          memref::AllocaOp::create(b, loc, MemRefType::get({d}, element));
      for (int64_t l = 0; l < d; ++l)
        memref::StoreOp::create(
            b, loc,
            arith::ConstantOp::create(
                b, loc, b.getFloatAttr(element, static_cast<double>(ray[l]))),
            direction, ValueRange{arith::ConstantIndexOp::create(b, loc, l)});
      directions.push_back(direction);
    }

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

    SmallVector<std::string> activations = mlp.getHiddenActivations();
    // Column of (ray r, order k) in `rays`, and the rows each ray's top
    // layer writes (orders past them are structural zeros).
    SmallVector<int64_t> firstColumn;
    SmallVector<int64_t> liveColumns;
    int64_t column = 0;
    for (size_t r = 0; r < plan.rays.size(); ++r) {
      int64_t rayOrders = plan.rayOrders[r] + 1;
      firstColumn.push_back(column);
      int current = 0;
      Value jet = corner(b, buffers[current], 0, rayOrders, d);
      SeedOp::create(b, loc, x, directions[r], jet, batch, tile);
      int64_t live = std::min<int64_t>(rayOrders, 2);
      int64_t offset = 0;
      // Each typed layer as in build(), on the ray's [orders_r, width, tile]
      // corners: the ray through the Fourier embedding is the jet of
      // sin / cos along 2 pi B v.
      if (int64_t m = kinds.fourier) {
        current = other(current, -1);
        Value z = corner(b, buffers[current], 0, rayOrders, 2 * m);
        FourierProjectOp::create(b, loc, jet, params, 0, z, live);
        offset = m * d;
        current = other(current, -1);
        Value features = corner(b, buffers[current], 0, rayOrders, 2 * m);
        ActivateOp::create(b, loc, "sin", z, features, live);
        live = rayOrders;
        jet = features;
      }
      // The modified MLP: U and V from X through the buffer X is not in.
      Value u, gv;
      if (kinds.gated) {
        int64_t h = layers[1], in = kinds.firstInputWidth(d);
        u = corner(b, gates[0], 0, rayOrders, h);
        gv = corner(b, gates[1], 0, rayOrders, h);
        for (Value gate : {u, gv}) {
          Value y = corner(b, buffers[other(current, -1)], 0, rayOrders, h);
          AffineOp::create(b, loc, jet, params, offset, y, live);
          offset += h * in + h;
          ActivateOp::create(b, loc, activations[0], y, gate, live);
        }
      }
      for (size_t l = 1; l < layers.size(); ++l) {
        size_t hidden = l - 1;
        bool residual = kinds.isResidual(hidden);
        int kept = residual ? current : -1;
        Value layerInput = jet;
        current = other(current, -1);
        bool top = l + 1 == layers.size();
        Value next = top ? corner(b, rays, column, rayOrders, q)
                         : corner(b, buffers[current], 0, rayOrders, layers[l]);
        AffineOp::create(b, loc, jet, params, offset, next, live);
        offset +=
            layers[l] * (l == 1 ? kinds.firstInputWidth(d) : layers[l - 1]) +
            layers[l];
        jet = next;
        if (top)
          break;
        if (int64_t count = kinds.slopeCount(hidden, layers[l])) {
          current = other(current, kept);
          next = corner(b, buffers[current], 0, rayOrders, layers[l]);
          ScaleOp::create(b, loc, jet, params, offset, next, live,
                          kinds.slope(hidden) == artifact::Slope::Neuron);
          offset += count;
          jet = next;
        }
        current = other(current, kept);
        next = corner(b, buffers[current], 0, rayOrders, layers[l]);
        ActivateOp::create(b, loc, activations[l - 1], jet, next, live);
        live = rayOrders;
        jet = next;
        if (residual)
          AddJetsOp::create(b, loc, layerInput, jet, jet, live);
        if (kinds.gated) {
          current = other(current, -1);
          next = corner(b, buffers[current], 0, rayOrders, layers[l]);
          GateJetsOp::create(b, loc, u, gv, jet, next, live);
          jet = next;
        }
      }
      liveColumns.push_back(live);
      column += rayOrders;
    }
    SmallVector<double> weights(requests * columns, 0.0);
    for (int64_t p = 0; p < requests; ++p)
      for (const partials::Plan::Term &t : plan.terms[p])
        if (t.order < liveColumns[t.ray])
          weights[p * columns + firstColumn[t.ray] + t.order] =
              t.weight.toDouble();
    CombinePartialsOp::create(b, loc, rays, combined,
                              b.getDenseF64ArrayAttr(weights));
    StoreJetOp::create(b, loc, combined, out, batch, tile, requests);
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
    return func;
  }

  /// A partials kernel lowered multi-direction or collapsed
  /// (ntp/Support/PartialsLowering.h): per block of rays, one seed_rays,
  /// affine_rays and activate_rays per layer on a buffer holding order 0
  /// once and every ray's orders 1..n (and the collapsed row), the top
  /// layer's rows of every block stacked into one buffer and combined with
  /// the plan's weights as in buildPartials.
  func::FuncOp buildMultiPartials(OpBuilder &b, const partials::Plan &plan,
                                  const partials::LoweringPlan &lowering) {
    Location loc = mlp.getLoc();
    Type element = mlp.getElementType();
    OpBuilder::InsertionGuard guard(b);
    auto func = createTilesFunction(b);
    func->setAttr("ntp.partials", b.getUnitAttr());
    Block *entry = &func.front();
    Value x = entry->getArgument(0), params = entry->getArgument(2),
          out = entry->getArgument(3), batch = entry->getArgument(4),
          tileBegin = entry->getArgument(5), tileEnd = entry->getArgument(6);

    ArrayRef<int64_t> layers = mlp.getLayers();
    int64_t d = layers.front(), q = layers.back();
    int64_t maxRows = 0;
    for (const partials::RayBlock &block : lowering.blocks)
      maxRows = std::max(maxRows, block.rows());
    artifact::LayerKinds kinds = mlp.getLayerKinds();
    auto bufferType =
        JetBufferShape::get(maxRows, typedMaxWidth(), tileSize, element);
    SmallVector<Value, 3> buffers;
    for (int i = 0, e = partialsBuffers(); i < e; ++i)
      buffers.push_back(memref::AllocaOp::create(b, loc, bufferType));
    auto other = [&](int busy, int kept) {
      int i = 0;
      while (i == busy || i == kept)
        ++i;
      return i;
    };
    int64_t requests = static_cast<int64_t>(plan.terms.size());
    Value top = memref::AllocaOp::create(
        b, loc, JetBufferShape::get(lowering.columns, q, tileSize, element));
    Value combined = memref::AllocaOp::create(
        b, loc, JetBufferShape::get(requests, q, tileSize, element));
    // Each block's directions, in layout order: constants written once per
    // call.
    SmallVector<Value> directions;
    for (const partials::RayBlock &block : lowering.blocks) {
      int64_t rays = 0;
      for (const partials::RayGroup &g : block.groups)
        rays += static_cast<int64_t>(g.rays.size());
      Value buffer = memref::AllocaOp::create(
          b, loc, MemRefType::get({std::max<int64_t>(rays, 1) * d}, element));
      int64_t i = 0;
      for (const partials::RayGroup &g : block.groups)
        for (int64_t r : g.rays)
          for (int64_t l = 0; l < d; ++l)
            memref::StoreOp::create(
                b, loc,
                arith::ConstantOp::create(
                    b, loc,
                    b.getFloatAttr(element,
                                   static_cast<double>(plan.rays[r][l]))),
                buffer,
                ValueRange{arith::ConstantIndexOp::create(b, loc, i++)});
      directions.push_back(memref::CastOp::create(
          b, loc, MemRefType::get({ShapedType::kDynamic}, element), buffer));
    }

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

    SmallVector<std::string> activations = mlp.getHiddenActivations();
    int64_t column = 0;
    for (auto [blockIndex, block] : llvm::enumerate(lowering.blocks)) {
      SmallVector<int64_t> counts, orders;
      SmallVector<double> weights;
      for (const partials::RayGroup &g : block.groups) {
        counts.push_back(static_cast<int64_t>(g.rays.size()));
        orders.push_back(g.order);
        weights.push_back(g.weight);
      }
      auto countsAttr = b.getDenseI64ArrayAttr(counts);
      auto ordersAttr = b.getDenseI64ArrayAttr(orders);
      auto weightsAttr = b.getDenseF64ArrayAttr(weights);
      auto collapsedAttr = b.getI64IntegerAttr(block.collapsedOrder);
      uint64_t collapsedOrder = block.collapsedOrder;
      int64_t rows = block.rows(), full = block.maxOrder() + 1;
      int current = 0;
      Value jet = corner(b, buffers[current], 0, rows, d);
      SeedRaysOp::create(b, loc, x, directions[blockIndex], jet, batch, tile,
                         countsAttr, ordersAttr, weightsAttr, collapsedAttr);
      int64_t live = 2;
      int64_t offset = 0;
      // Typed layers are linear maps of every row (slopes, residual sums;
      // the Fourier projection adds its phase to row 0, order 0), so they
      // run as the jet ops on the whole [rows, width, tile] buffer, the
      // collapsed row included (a linear map commutes with its weighted
      // sum). They read every row: the seed's rows past order 1 are zeros
      // (ntp.seed_rays writes them), and before the first activation an
      // affine feeding a scale computes every row.
      if (int64_t m = kinds.fourier) {
        current = other(current, -1);
        Value z = corner(b, buffers[current], 0, rows, 2 * m);
        FourierProjectOp::create(b, loc, jet, params, 0, z, rows);
        offset = m * d;
        current = other(current, -1);
        Value features = corner(b, buffers[current], 0, rows, 2 * m);
        ActivateRaysOp::create(b, loc, "sin", z, features, live, counts, orders,
                               weights, collapsedOrder);
        live = full;
        jet = features;
      }
      for (size_t l = 1; l < layers.size(); ++l) {
        size_t hidden = l - 1;
        bool residual = kinds.isResidual(hidden);
        int kept = residual ? current : -1;
        Value layerInput = jet;
        current = other(current, -1);
        bool isTop = l + 1 == layers.size();
        int64_t slopes = isTop ? 0 : kinds.slopeCount(hidden, layers[l]);
        Value next = isTop ? corner(b, top, column, rows, q)
                           : corner(b, buffers[current], 0, rows, layers[l]);
        AffineRaysOp::create(b, loc, jet, params, offset, next,
                             slopes ? full : live, counts, orders, weights,
                             collapsedOrder);
        offset +=
            layers[l] * (l == 1 ? kinds.firstInputWidth(d) : layers[l - 1]) +
            layers[l];
        jet = next;
        if (isTop)
          break;
        if (slopes) {
          current = other(current, kept);
          next = corner(b, buffers[current], 0, rows, layers[l]);
          ScaleOp::create(b, loc, jet, params, offset, next, rows,
                          kinds.slope(hidden) == artifact::Slope::Neuron);
          offset += slopes;
          live = full;
          jet = next;
        }
        current = other(current, kept);
        next = corner(b, buffers[current], 0, rows, layers[l]);
        ActivateRaysOp::create(b, loc, activations[l - 1], jet, next, live,
                               counts, orders, weights, collapsedOrder);
        live = full;
        jet = next;
        if (residual)
          AddJetsOp::create(b, loc, layerInput, jet, jet, rows);
      }
      column += rows;
    }
    CombinePartialsOp::create(b, loc, top, combined,
                              b.getDenseF64ArrayAttr(lowering.weights));
    StoreJetOp::create(b, loc, combined, out, batch, tile, requests);
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
    return func;
  }

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

struct DecomposeMlpPass
    : public ntp::impl::NtpDecomposeMlpBase<DecomposeMlpPass> {
  using NtpDecomposeMlpBase::NtpDecomposeMlpBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<MlpOp> mlps(module.getOps<MlpOp>());
    for (MlpOp mlp : mlps) {
      if (tileSize < 0 || tileSize > artifact::kMaxTile) {
        mlp.emitError("tile size must be in [1, ")
            << artifact::kMaxTile << "] (kMaxTile) or 0 for the default, got "
            << static_cast<int64_t>(tileSize);
        return signalPassFailure();
      }
      // The kernel's facts (the tile among them) come from the one function
      // that decides them; a module compiling to one kernel carries them as
      // #ntp.kernel for the passes after this one and the artifact writers.
      NetworkDescription network;
      network.name = mlp.getSymName().str();
      network.layers.assign(mlp.getLayers().begin(), mlp.getLayers().end());
      network.activation = mlp.getActivationSpec();
      network.order = mlp.getOrder();
      network.dtype = isa<Float64Type>(mlp.getElementType())
                          ? artifact::Dtype::F64
                          : artifact::Dtype::F32;
      network.partials = mlp.getRequestRows();
      network.kinds = mlp.getLayerKinds();
      KernelTarget target;
      target.tile = tileSize;
      artifact::KernelManifest facts;
      std::string error;
      if (!describeKernel(network, target, facts, error)) {
        mlp.emitError(error);
        return signalPassFailure();
      }
      partials::Plan plan;
      if (facts.isPartials() &&
          !partials::planPartials(facts.partials, facts.inputDim(), plan,
                                  error)) {
        mlp.emitError(error);
        return signalPassFailure();
      }
      // How the rays are propagated: the ntp.mlp's ntp.partials_lowering,
      // else the pass option; auto picks the fewest operations.
      partials::LoweringPlan lowering, reverseLowering;
      if (facts.isPartials()) {
        std::string name = partialsLowering;
        if (auto attr = mlp->getAttrOfType<StringAttr>("ntp.partials_lowering"))
          name = attr.str();
        std::optional<partials::Lowering> kind = partials::parseLowering(name);
        if (!kind) {
          mlp.emitError("unknown partials lowering '")
              << name
              << "' (expected auto, per-ray, multi-direction or collapsed)";
          return signalPassFailure();
        }
        // The gates of a modified MLP multiply jets: the ray layout has no
        // such op, so gated partials kernels run per ray.
        if (facts.kinds.gated && (*kind == partials::Lowering::MultiDirection ||
                                  *kind == partials::Lowering::Collapsed)) {
          mlp.emitError("the ")
              << partials::loweringName(*kind)
              << " lowering does not take gated layers (the modified MLP's "
                 "gates multiply jets); use per-ray or auto";
          return signalPassFailure();
        }
        if (facts.kinds.gated)
          kind = partials::Lowering::PerRay;
        partials::LoweringNetwork network;
        network.layers = facts.layers;
        for (const std::string &a : mlp.getHiddenActivations())
          network.activations.push_back(a);
        // Typed layers, as the count sees them: the Fourier embedding a
        // layer of width 2m with the sin activation, a residual network a
        // third buffer per block.
        if (int64_t m = facts.kinds.fourier) {
          network.layers.insert(network.layers.begin() + 1, 2 * m);
          network.activations.insert(network.activations.begin(), "sin");
        }
        network.buffers = KernelBuilder::partialsBuffers(facts.kinds);
        network.tile = facts.tile;
        network.elementBytes = artifact::dtypeBytes(facts.dtype);
        network.stackBytes = partialsStackBytes > 0
                                 ? int64_t(partialsStackBytes)
                                 : artifact::kMaxTileStackBytes;
        // The forward's lowering is chosen as for a forward-only kernel:
        // the reverse mode is generated from per-ray rays of its own
        // (reverseRays below).
        if (!partials::planLowering(plan, facts.partials, network, *kind,
                                    /*backward=*/false, lowering, error)) {
          mlp.emitError(error);
          return signalPassFailure();
        }
        if (backward)
          partials::planLowering(plan, facts.partials, network,
                                 partials::Lowering::PerRay, /*backward=*/true,
                                 reverseLowering, error);
      }
      bool fast =
          facts.isPartials() && lowering.lowering != partials::Lowering::PerRay;
      // A partials kernel with the reverse mode and a fast forward also gets
      // the per-ray rays ntp-generate-backward differentiates.
      bool reverseRays = fast && backward;
      // The jets of a tile live on the stack: bounded, or the kernel
      // overflows the thread's stack at run time (a fast forward's blocks
      // were kept within it by planLowering).
      std::optional<int64_t> stack =
          fast && !reverseRays ? std::optional<int64_t>(0)
          : facts.isPartials()
              ? std::optional<int64_t>(KernelBuilder::partialsStackElements(
                    facts.layers, facts.kinds, plan, facts.tile))
              : artifact::jetStackElementsPerTile(facts.layers, facts.order,
                                                  facts.tile, facts.kinds);
      if (!stack || *stack > artifact::kMaxTileStackBytes /
                                 artifact::dtypeBytes(facts.dtype)) {
        mlp.emitError("the jets of one tile of ")
            << facts.tile << " samples need more than "
            << artifact::kMaxTileStackBytes
            << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
               "narrower layers or a lower order";
        return signalPassFailure();
      }
      if (mlps.size() == 1)
        module->setAttr(kKernelAttrName, KernelAttr::get(&getContext(), facts));
      // The choice, where a user sees it (ntp-compile
      // --partials-lowering, --emit=jets, CompileOutput::partialsLowering).
      // The reverse mode's (always per-ray) beside it.
      if (mlps.size() == 1 && facts.isPartials())
        module->setAttr("ntp.partials_lowering",
                        StringAttr::get(&getContext(), lowering.summary()));
      if (mlps.size() == 1 && facts.isPartials() && backward)
        module->setAttr(
            "ntp.partials_reverse_lowering",
            StringAttr::get(&getContext(), reverseLowering.summary()));
      OpBuilder b(mlp);
      if (fast) {
        func::FuncOp forward = KernelBuilder(mlp, facts.tile)
                                   .buildMultiPartials(b, plan, lowering);
        // ntp-generate-backward reads the reverse mode's plan from these
        // rays and then erases them; the kernel's forward entry stays the
        // fast one. Both compute out from the same exact weights, so
        // forward-save's out equals the forward's within rounding.
        if (reverseRays) {
          func::FuncOp rays = KernelBuilder(mlp, facts.tile)
                                  .buildPartials(b, plan, kReverseRaysSuffix);
          forward->setAttr(kReverseRaysAttrName,
                           FlatSymbolRefAttr::get(rays.getSymNameAttr()));
        }
      } else if (facts.isPartials())
        KernelBuilder(mlp, facts.tile).buildPartials(b, plan);
      else if (facts.kinds.gated)
        KernelBuilder(mlp, facts.tile).buildGated(b);
      else
        KernelBuilder(mlp, facts.tile).build(b);
      mlp.erase();
    }
  }
};

} // namespace
