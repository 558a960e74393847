//===- MlpPolyKernels.cpp - ntp.mlp -> a multivariate Taylor kernel -------===//
//
// Part of ntp-decompose-mlp: the tile body of a partials kernel lowered
// multivariate (ntp/Support/Multivariate.h). One buffer of |M| rows (the
// Taylor coefficients over the monomial set) per layer: ntp.seed_rays and
// ntp.affine_rays on the layout of |M| - 1 rays of order 1 (every row an
// affine image of the input's, the bias on row 0), the typed layers' jet
// ops on every row, ntp.activate_poly for the activations, ntp.gate_poly
// for a gated network's gates, and the top rows combined with beta!
// (operators: their sums) as the other lowerings.
//
//===----------------------------------------------------------------------===//

#include "MlpKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <numeric>

using namespace mlir;
using namespace ntp;
using namespace ntp::decompose;

func::FuncOp
KernelBuilder::buildPolyPartials(OpBuilder &b, const partials::Plan &plan,
                                 const partials::LoweringPlan &lowering) {
  Location loc = mlp.getLoc();
  Type element = mlp.getElementType();
  OpBuilder::InsertionGuard guard(b);
  auto [func, entry, x, v, params, out, batch, tileBegin, tileEnd] =
      beginPartialsFunction(b);

  ArrayRef<int64_t> layers = mlp.getLayers();
  int64_t d = layers.front();
  const std::vector<partials::Monomial> &monomials = lowering.monomials;
  int64_t rows = static_cast<int64_t>(monomials.size());
  artifact::LayerKinds kinds = mlp.getLayerKinds();
  // Padded as buildMultiPartials' buffers (a neuron's rows in one L1 set).
  SmallVector<Value, 3> buffers = allocatePingPong(b, rows, /*padded=*/true);
  // A gated network's U and V (as in buildMultiPartials).
  std::array<Value, 2> gates;
  if (kinds.gated)
    gates = allocateGates(b, rows);
  int64_t requests = static_cast<int64_t>(plan.terms.size());
  auto [top, combined] = allocateTops(b, rows, requests);
  // The seed's directions ([max(rows - 1, 1) * d]): e_i for the monomial
  // e_i, zeros for the others (their coefficients are zero in x + t),
  // constants written once per call.
  SmallVector<int64_t> flat;
  SmallVector<double> values;
  for (int64_t r = 0; r < rows; ++r) {
    flat.append(monomials[r].begin(), monomials[r].end());
    if (r == 0)
      continue;
    bool linear = std::accumulate(monomials[r].begin(), monomials[r].end(),
                                  int64_t(0)) == 1;
    for (int64_t l = 0; l < d; ++l)
      values.push_back(static_cast<double>(linear && monomials[r][l] == 1));
  }
  Value directions = castToDynamic(
      b, loc, createConstantBuffer(b, loc, element, values, /*minSize=*/d));
  auto monomialsAttr = b.getDenseI64ArrayAttr(flat);
  auto variablesAttr = b.getI64IntegerAttr(d);

  Value tile = beginTileLoop(b, tileBegin, tileEnd);

  SmallVector<std::string> activations = mlp.getHiddenActivations();
  SmallVector<int64_t> counts, orders;
  SmallVector<double> weights;
  if (rows > 1) {
    counts.push_back(rows - 1);
    orders.push_back(1);
    weights.push_back(0.0);
  }
  auto countsAttr = b.getDenseI64ArrayAttr(counts);
  auto ordersAttr = b.getDenseI64ArrayAttr(orders);
  auto weightsAttr = b.getDenseF64ArrayAttr(weights);
  auto collapsedAttr = b.getI64IntegerAttr(0);
  auto activate = [&](StringRef act, Value in, Value result) {
    ActivatePolyOp::create(b, loc, b.getStringAttr(act), in, result,
                           monomialsAttr, variablesAttr);
  };
  int current = 0;
  Value jet = corner(b, buffers[current], 0, rows, d);
  SeedRaysOp::create(b, loc, x, directions, jet, batch, tile, countsAttr,
                     ordersAttr, weightsAttr, collapsedAttr);
  int64_t offset = 0;
  // Typed layers map every row (ntp.fourier_project adds its phase to row 0
  // only; sin of the projected polynomial is the same composition).
  if (int64_t m = kinds.fourier) {
    current = otherBuffer(current, -1);
    Value z = corner(b, buffers[current], 0, rows, 2 * m);
    FourierProjectOp::create(b, loc, jet, params, 0, z, rows);
    offset = m * d;
    current = otherBuffer(current, -1);
    Value features = corner(b, buffers[current], 0, rows, 2 * m);
    activate("sin", z, features);
    jet = features;
  }
  // The modified MLP: U and V from X (the input or the Fourier features),
  // through the buffer X is not in.
  Value u, gv;
  if (kinds.gated) {
    int64_t h = layers[1];
    u = corner(b, gates[0], 0, rows, h);
    gv = corner(b, gates[1], 0, rows, h);
    for (Value gate : {u, gv}) {
      Value y = corner(b, buffers[otherBuffer(current, -1)], 0, rows, h);
      AffineRaysOp::create(b, loc, jet, params, offset, y, 2, counts, orders,
                           weights, 0);
      offset += h * kinds.firstInputWidth(d) + h;
      activate(activations[0], y, gate);
    }
  }
  for (size_t l = 1; l < layers.size(); ++l) {
    size_t hidden = l - 1;
    bool residual = kinds.isResidual(hidden);
    int kept = residual ? current : -1;
    Value layerInput = jet;
    current = otherBuffer(current, -1);
    bool isTop = l + 1 == layers.size();
    Value next = isTop ? top : corner(b, buffers[current], 0, rows, layers[l]);
    // live_orders 2: every row of the order-1 rays.
    AffineRaysOp::create(b, loc, jet, params, offset, next, 2, counts, orders,
                         weights, 0);
    offset += affineParams(l);
    jet = next;
    if (isTop)
      break;
    if (int64_t slopes = kinds.slopeCount(hidden, layers[l])) {
      current = otherBuffer(current, kept);
      next = corner(b, buffers[current], 0, rows, layers[l]);
      ScaleOp::create(b, loc, jet, params, offset, next, rows,
                      kinds.slope(hidden) == artifact::Slope::Neuron);
      offset += slopes;
      jet = next;
    }
    current = otherBuffer(current, kept);
    next = corner(b, buffers[current], 0, rows, layers[l]);
    activate(activations[l - 1], jet, next);
    jet = next;
    if (residual)
      AddJetsOp::create(b, loc, layerInput, jet, jet, rows);
    if (kinds.gated) {
      current = otherBuffer(current, -1);
      next = corner(b, buffers[current], 0, rows, layers[l]);
      GatePolyOp::create(b, loc, u, gv, jet, next, monomialsAttr,
                         variablesAttr);
      jet = next;
    }
  }
  finishPartials(b, entry, top, combined, lowering.weights, out, batch, tile,
                 requests);
  return func;
}
