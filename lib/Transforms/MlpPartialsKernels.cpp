//===- MlpPartialsKernels.cpp - ntp.mlp -> a partials kernel's rays -----===//
//
// Part of ntp-decompose-mlp: the tile body of a partials kernel, one jet per
// ray or blocks of rays (multi-direction, collapsed), then the exact
// interpolation weights.
//
//===----------------------------------------------------------------------===//

#include "MlpKernelBuilder.h"

#include "ntp/Dialect/Ntp/IR/RayLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::decompose;

func::FuncOp KernelBuilder::buildPartials(OpBuilder &b,
                                          const partials::Plan &plan,
                                          StringRef suffix) {
  Location loc = mlp.getLoc();
  Type element = mlp.getElementType();
  OpBuilder::InsertionGuard guard(b);
  auto [func, entry, x, v, params, out, batch, tileBegin, tileEnd] =
      beginPartialsFunction(b, suffix);

  ArrayRef<int64_t> layers = mlp.getLayers();
  int64_t d = layers.front(), q = layers.back();
  int64_t orders =
      *std::max_element(plan.rayOrders.begin(), plan.rayOrders.end()) + 1;
  artifact::LayerKinds kinds = mlp.getLayerKinds();
  // Typed layers as in build(): a third buffer keeps a residual layer's
  // input, the Fourier features are 2m wide.
  SmallVector<Value, 3> buffers = allocatePingPong(b, orders, /*padded=*/false);
  // A gated network's U and V, per ray (as in buildGated).
  std::array<Value, 2> gates;
  if (kinds.gated)
    gates = allocateGates(b, orders);
  int64_t columns = plan.jetCoefficients();
  int64_t requests = static_cast<int64_t>(plan.terms.size());
  auto [rays, combined] = allocateTops(b, columns, requests);
  // The directions, constants written once per call.
  SmallVector<Value> directions;
  for (const std::vector<int64_t> &ray : plan.rays)
    directions.push_back(createConstantBuffer(
        b, loc, element, SmallVector<double>(ray.begin(), ray.begin() + d)));

  Value tile = beginTileLoop(b, tileBegin, tileEnd);

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
      current = otherBuffer(current, -1);
      Value z = corner(b, buffers[current], 0, rayOrders, 2 * m);
      FourierProjectOp::create(b, loc, jet, params, 0, z, live);
      offset = m * d;
      current = otherBuffer(current, -1);
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
        Value y = corner(b, buffers[otherBuffer(current, -1)], 0, rayOrders, h);
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
      current = otherBuffer(current, -1);
      bool top = l + 1 == layers.size();
      Value next = top ? corner(b, rays, column, rayOrders, q)
                       : corner(b, buffers[current], 0, rayOrders, layers[l]);
      AffineOp::create(b, loc, jet, params, offset, next, live);
      offset += affineParams(l);
      jet = next;
      if (top)
        break;
      if (int64_t count = kinds.slopeCount(hidden, layers[l])) {
        current = otherBuffer(current, kept);
        next = corner(b, buffers[current], 0, rayOrders, layers[l]);
        ScaleOp::create(b, loc, jet, params, offset, next, live,
                        kinds.slope(hidden) == artifact::Slope::Neuron);
        offset += count;
        jet = next;
      }
      current = otherBuffer(current, kept);
      next = corner(b, buffers[current], 0, rayOrders, layers[l]);
      ActivateOp::create(b, loc, activations[l - 1], jet, next, live);
      live = rayOrders;
      jet = next;
      if (residual)
        AddJetsOp::create(b, loc, layerInput, jet, jet, live);
      if (kinds.gated) {
        current = otherBuffer(current, -1);
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
  finishPartials(b, entry, rays, combined, weights, out, batch, tile, requests);
  return func;
}

func::FuncOp
KernelBuilder::buildMultiPartials(OpBuilder &b, const partials::Plan &plan,
                                  const partials::LoweringPlan &lowering,
                                  StringRef suffix) {
  Location loc = mlp.getLoc();
  Type element = mlp.getElementType();
  OpBuilder::InsertionGuard guard(b);
  auto [func, entry, x, v, params, out, batch, tileBegin, tileEnd] =
      beginPartialsFunction(b, suffix);

  ArrayRef<int64_t> layers = mlp.getLayers();
  int64_t d = layers.front(), q = layers.back();
  int64_t maxRows = 0;
  for (const partials::RayBlock &block : lowering.blocks)
    maxRows = std::max(maxRows, block.rows());
  artifact::LayerKinds kinds = mlp.getLayerKinds();
  // Padded like the jet kernels' buffers: rows 4 KiB apart (64 neurons of
  // 64-byte vectors) put every row of a neuron, read and written together
  // by ntp.activate_rays and a block of ntp.affine_rays, in one L1 set
  // (measured: a collapsed Laplacian's activations took 40% of the time).
  SmallVector<Value, 3> buffers = allocatePingPong(b, maxRows, /*padded=*/true);
  // A gated network's U and V, per block (as in buildPartials).
  std::array<Value, 2> gates;
  if (kinds.gated)
    gates = allocateGates(b, maxRows);
  int64_t requests = static_cast<int64_t>(plan.terms.size());
  auto [top, combined] = allocateTops(b, lowering.columns, requests);
  // Each block's directions, in layout order ([max(rays, 1) * d]):
  // constants written once per call.
  SmallVector<Value> directions;
  for (const partials::RayBlock &block : lowering.blocks) {
    SmallVector<double> values;
    for (const partials::RayGroup &g : block.groups)
      for (int64_t r : g.rays)
        values.append(plan.rays[r].begin(), plan.rays[r].begin() + d);
    directions.push_back(castToDynamic(
        b, loc, createConstantBuffer(b, loc, element, values, /*minSize=*/d)));
  }

  Value tile = beginTileLoop(b, tileBegin, tileEnd);

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
    // The op that wrote `jet` if it is an activation (its rows may then be
    // pruned to those the top layer computes).
    ActivateRaysOp lastActivation;
    // Typed layers are linear maps of every row (slopes, residual sums;
    // the Fourier projection adds its phase to row 0, order 0), so they
    // run as the jet ops on the whole [rows, width, tile] buffer, the
    // collapsed row included (a linear map commutes with its weighted
    // sum). They read every row: the seed's rows past order 1 are zeros
    // (ntp.seed_rays writes them), and before the first activation an
    // affine feeding a scale computes every row.
    if (int64_t m = kinds.fourier) {
      current = otherBuffer(current, -1);
      Value z = corner(b, buffers[current], 0, rows, 2 * m);
      FourierProjectOp::create(b, loc, jet, params, 0, z, rows);
      offset = m * d;
      current = otherBuffer(current, -1);
      Value features = corner(b, buffers[current], 0, rows, 2 * m);
      lastActivation =
          ActivateRaysOp::create(b, loc, "sin", z, features, live, counts,
                                 orders, weights, collapsedOrder);
      live = full;
      jet = features;
    }
    // The affine layers reading the seed (the first, and a gated network's
    // U and V): its rows past row 0 (directions, zeros) are the same in
    // every tile, so are W's images of them (computed once per call; a GPU
    // thread's one-sample tiles gain nothing), and the sums of their
    // squares the activations after them take.
    bool readsSeed = !kinds.fourier && tileSize > 1;
    // The modified MLP: U and V from X on the block's layout, through the
    // buffer X is not in (every row of U and V is written).
    Value u, gv;
    if (kinds.gated) {
      int64_t h = layers[1];
      u = corner(b, gates[0], 0, rows, h);
      gv = corner(b, gates[1], 0, rows, h);
      for (Value gate : {u, gv}) {
        Value y = corner(b, buffers[otherBuffer(current, -1)], 0, rows, h);
        auto affine =
            AffineRaysOp::create(b, loc, jet, params, offset, y, live, counts,
                                 orders, weights, collapsedOrder);
        if (readsSeed)
          affine->setAttr(kInvariantRaysAttrName, b.getUnitAttr());
        offset += h * kinds.firstInputWidth(d) + h;
        auto activation =
            ActivateRaysOp::create(b, loc, activations[0], y, gate, live,
                                   counts, orders, weights, collapsedOrder);
        if (readsSeed)
          activation->setAttr(kInvariantRaysAttrName, b.getUnitAttr());
      }
    }
    for (size_t l = 1; l < layers.size(); ++l) {
      size_t hidden = l - 1;
      bool residual = kinds.isResidual(hidden);
      int kept = residual ? current : -1;
      Value layerInput = jet;
      current = otherBuffer(current, -1);
      bool isTop = l + 1 == layers.size();
      int64_t slopes = isTop ? 0 : kinds.slopeCount(hidden, layers[l]);
      Value next = isTop ? corner(b, top, column, rows, q)
                         : corner(b, buffers[current], 0, rows, layers[l]);
      auto affine = AffineRaysOp::create(b, loc, jet, params, offset, next,
                                         slopes ? full : live, counts, orders,
                                         weights, collapsedOrder);
      if (l == 1 && readsSeed)
        affine->setAttr(kInvariantRaysAttrName, b.getUnitAttr());
      offset += affineParams(l);
      jet = next;
      if (isTop) {
        // The top layer computes only the rows the combine weighs (a
        // Laplacian's: the collapsed row), and so does the activation
        // feeding it directly (not through a gate or a residual sum).
        SmallVector<int64_t> needed;
        for (int64_t row = 0; row < rows; ++row)
          for (int64_t p = 0; p < requests; ++p)
            if (lowering.weights[p * lowering.columns + column + row] != 0) {
              needed.push_back(row);
              break;
            }
        if (static_cast<int64_t>(needed.size()) < rows) {
          auto attr = b.getDenseI64ArrayAttr(needed);
          affine->setAttr(kNeededRowsAttrName, attr);
          if (lastActivation && layerInput == lastActivation.getOutput())
            lastActivation->setAttr(kNeededRowsAttrName, attr);
        }
        break;
      }
      if (slopes) {
        current = otherBuffer(current, kept);
        next = corner(b, buffers[current], 0, rows, layers[l]);
        ScaleOp::create(b, loc, jet, params, offset, next, rows,
                        kinds.slope(hidden) == artifact::Slope::Neuron);
        offset += slopes;
        live = full;
        jet = next;
      }
      current = otherBuffer(current, kept);
      next = corner(b, buffers[current], 0, rows, layers[l]);
      lastActivation =
          ActivateRaysOp::create(b, loc, activations[l - 1], jet, next, live,
                                 counts, orders, weights, collapsedOrder);
      // Its rows past row 0 are the first layer's invariant ones (scaled by
      // the slopes, constants): so are their sums of squares.
      if (l == 1 && readsSeed)
        lastActivation->setAttr(kInvariantRaysAttrName, b.getUnitAttr());
      live = full;
      jet = next;
      if (residual) {
        AddJetsOp::create(b, loc, layerInput, jet, jet, rows);
        lastActivation = ActivateRaysOp();
      }
      if (kinds.gated) {
        current = otherBuffer(current, -1);
        next = corner(b, buffers[current], 0, rows, layers[l]);
        GateRaysOp::create(b, loc, u, gv, jet, next, counts, orders, weights,
                           collapsedOrder);
        jet = next;
        lastActivation = ActivateRaysOp();
      }
    }
    column += rows;
  }
  finishPartials(b, entry, top, combined, lowering.weights, out, batch, tile,
                 requests);
  return func;
}
