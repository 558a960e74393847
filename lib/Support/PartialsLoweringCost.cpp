//===- PartialsLoweringCost.cpp - Exact operation counts of a plan
//---------===//
//
// The operation counts of the per-ray and the blocked (multi-direction,
// collapsed) lowerings, node by node as the lowering emits them; the plans
// themselves are in PartialsLowering.cpp.
//
//===----------------------------------------------------------------------===//

#include "PartialsLoweringCost.h"
#include "ntp/Support/ActivationJet.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace ntp {
namespace partials {
namespace detail {

SplitCost splitCost(const JetExpressionGraph &g,
                    const std::vector<int> &outputs,
                    SharedKeys *keys = nullptr) {
  const auto &nodes = g.getNodes();
  std::vector<bool> ray = perRayNodes(g), needed = g.neededBy(outputs);
  SplitCost c;
  std::vector<int> id(nodes.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i])
      continue;
    const JetExpression &n = nodes[i];
    if (keys && !ray[i]) {
      auto operand = [&](int o) { return o >= 0 ? id[o] : -1; };
      auto [it, inserted] = keys->emplace(
          std::make_tuple(static_cast<int>(n.kind), n.index, n.value,
                          operand(n.lhs), operand(n.rhs), operand(n.acc)),
          static_cast<int>(keys->size()));
      id[i] = it->second;
      if (!inserted)
        continue;
    }
    int64_t flops = 0;
    switch (n.kind) {
    case JetExpression::Kind::Add:
    case JetExpression::Kind::Mul:
      flops = 1;
      break;
    case JetExpression::Kind::Fma:
      flops = 2;
      break;
    case JetExpression::Kind::Primitive:
      ++c.primitives;
      break;
    default:
      break;
    }
    (ray[i] ? c.rayFlops : c.sharedFlops) += flops;
  }
  return c;
}

/// The expansion of `activation` of `order` reading `live` input orders,
/// restricted to outputs [first, last].
SplitCost activationCost(const std::string &activation, int64_t order,
                         int64_t live, int64_t first, int64_t last,
                         SharedKeys *keys) {
  const ActivationRule *rule = lookupActivation(activation);
  if (!rule)
    return {};
  ActivationJetExpansion e =
      expandActivationJet(*rule, static_cast<unsigned>(order),
                          static_cast<unsigned>(std::min(live, order + 1)));
  std::vector<int> outputs(e.outputs.begin() + first,
                           e.outputs.begin() + last + 1);
  return splitCost(e.graph, outputs, keys);
}

bool hasHidden(const LoweringNetwork &n) { return n.layers.size() > 2; }

bool gatesFrom(const LoweringNetwork &n, size_t l) {
  return n.gatedInput >= 0 && static_cast<int64_t>(l) - 1 == n.gatedInput;
}
bool gated(const LoweringNetwork &n, size_t l) {
  return n.gatedInput >= 0 && static_cast<int64_t>(l) > n.gatedInput;
}

/// Flops of the Leibniz sum out_k = u_k + sum_{i=0..k} C(k, i) z_i d_{k-i}
/// for k = 1..n of one ray, with d_k = v_k - u_k, as GateOpsToLoops.cpp and
/// GateRaysToLoops.cpp emit it: a subtraction per order, an FMA per term and
/// a multiply by C(k, i) where it is not 1 (k - 1 of the k + 1 terms).
int64_t gateRayFlops(int64_t n) { return n + 3 * n * (n + 1) / 2 + n; }

void costPerRay(const Plan &plan, const LoweringNetwork &net,
                LoweringPlan &out) {
  const auto &layers = net.layers;
  for (int64_t n : plan.rayOrders) {
    int64_t live = std::min<int64_t>(n + 1, 2);
    for (size_t l = 1; l < layers.size(); ++l) {
      if (gatesFrom(net, l)) {
        // U and V: two more affine layers and activations.
        SplitCost c = activationCost(net.activations[l - 1], n, live, 0, n);
        out.flops += 2 * (2 * live * layers[l - 1] * layers[l] +
                          layers[l] * (c.sharedFlops + c.rayFlops));
        out.primitives += 2 * layers[l] * c.primitives;
      }
      out.flops += 2 * live * layers[l - 1] * layers[l];
      if (l + 1 == layers.size())
        break;
      SplitCost c = activationCost(net.activations[l - 1], n, live, 0, n);
      out.flops += layers[l] * (c.sharedFlops + c.rayFlops);
      out.primitives += layers[l] * c.primitives;
      live = n + 1;
      // ntp.gate_jets: order 0 (a subtraction and an FMA) and orders 1..n.
      if (gated(net, l))
        out.flops += layers[l] * (3 + gateRayFlops(n));
    }
  }
}

/// Rows of a block an affine layer computes with `live` orders per ray;
/// with `needed`, only those of them it marks (RaysToLoops.cpp's
/// {ntp.needed_rows}).
int64_t liveRows(const RayBlock &block, int64_t live,
                 const std::vector<bool> *needed = nullptr) {
  auto isNeeded = [&](int64_t row) { return !needed || (*needed)[row]; };
  int64_t rows = isNeeded(0), base = 1;
  for (const RayGroup &g : block.groups) {
    for (size_t r = 0; r < g.rays.size(); ++r)
      for (int64_t k = 1; k <= std::min(live - 1, g.order); ++k)
        rows += isNeeded(base + static_cast<int64_t>(r) * g.order + k - 1);
    base += static_cast<int64_t>(g.rays.size()) * g.order;
  }
  if (block.collapsedOrder > 0 && block.collapsedOrder < live)
    rows += isNeeded(base);
  return rows;
}

/// The rows of a block (its top rows from `column` on) that a request
/// weighs: what the top layer computes (MlpPartialsKernels.cpp).
std::vector<bool> neededTopRows(const LoweringPlan &out, const RayBlock &block,
                                int64_t column) {
  int64_t rows = block.rows();
  int64_t requests = static_cast<int64_t>(out.weights.size()) /
                     std::max<int64_t>(1, out.columns);
  std::vector<bool> needed(rows, false);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t p = 0; p < requests; ++p)
      if (out.weights[p * out.columns + column + row] != 0)
        needed[row] = true;
  return needed;
}

/// Flops per neuron of ntp.gate_rays on `block` (GateRaysToLoops.cpp):
/// order 0 once, each ray's orders, and the collapsed row: S_V - S_U and two
/// FMAs, an FMA per term t = 1..N-1 of each weighted ray and one per term and
/// weighted group scaling its sum into the row.
int64_t gateBlockFlops(const RayBlock &block) {
  int64_t n = block.collapsedOrder, flops = 3;
  for (const RayGroup &g : block.groups) {
    int64_t count = static_cast<int64_t>(g.rays.size());
    flops += count * gateRayFlops(g.order);
    if (g.weight != 0 && n > 0)
      flops += (count + 1) * 2 * (n - 1);
  }
  if (n > 0)
    flops += 5;
  return flops;
}

/// Flops and primitives per neuron of ntp.activate_rays "act" on `block`
/// reading `live` input orders; with `needed`, writing only the rows it
/// marks (RaysToLoops.cpp: row 0, a group's orders if any of its rows, the
/// collapsed row and its R_N terms).
SplitCost activateBlockCost(const std::string &act, const RayBlock &block,
                            int64_t live,
                            const std::vector<bool> *needed = nullptr,
                            bool invariantRays = false) {
  auto isNeeded = [&](int64_t row) { return !needed || (*needed)[row]; };
  bool collapsedNeeded = block.collapsedOrder > 0 && isNeeded(block.rows() - 1);
  SharedKeys keys;
  int64_t flops = 0, primitives = 0;
  if (isNeeded(0)) {
    SplitCost value = activationCost(act, 0, 1, 0, 0, &keys);
    flops += value.sharedFlops;
    primitives += value.primitives;
  }
  int64_t base = 1;
  for (const RayGroup &g : block.groups) {
    int64_t count = static_cast<int64_t>(g.rays.size());
    bool rays = false;
    for (int64_t row = base; row < base + count * g.order; ++row)
      rays = rays || isNeeded(row);
    base += count * g.order;
    if (rays) {
      SplitCost c = activationCost(act, g.order, live, 1, g.order, &keys);
      flops += c.sharedFlops + count * c.rayFlops;
      primitives += c.primitives;
    }
    if (g.weight != 0 && collapsedNeeded) {
      int64_t n = block.collapsedOrder;
      SplitCost r = activationCost(act, n, std::min(live, n), n, n, &keys);
      if (g.order == 1 && n == 2 && live >= 2)
        // RaysToLoops: an FMA per ray summing y1^2 (once per call on rows
        // invariant across tiles), R_2 at y1 = 1 (the shared factor) times
        // the weight, times the sum.
        flops += r.sharedFlops + r.rayFlops + (g.weight != 1) + 1 +
                 (invariantRays ? 0 : count * 2);
      else
        flops += r.sharedFlops + count * (r.rayFlops + 2);
      primitives += r.primitives;
    }
  }
  if (collapsedNeeded && block.collapsedOrder < live) {
    SplitCost s = activationCost(act, 1, 2, 1, 1, &keys);
    flops += s.sharedFlops + s.rayFlops + 1;
    primitives += s.primitives;
  }
  SplitCost c;
  c.sharedFlops = flops;
  c.primitives = primitives;
  return c;
}

void costBlocks(const LoweringNetwork &net, LoweringPlan &out) {
  const auto &layers = net.layers;
  int64_t column = 0;
  for (const RayBlock &block : out.blocks) {
    int64_t full = block.maxOrder() + 1, live = 2;
    // The top layer computes the rows the combine weighs, and so does the
    // activation feeding it unless a gate or a residual sum is between.
    std::vector<bool> needed = neededTopRows(out, block, column);
    column += block.rows();
    for (size_t l = 1; l < layers.size(); ++l) {
      // Rows past row 0 of the layers reading the seed (the first, a gated
      // network's U and V from the input) once per call, not per sample.
      bool once = l == 1 && net.invariantSeedRows;
      if (gatesFrom(net, l)) {
        // U and V: two more affine layers and activations on the block.
        SplitCost c = activateBlockCost(net.activations[l - 1], block, live,
                                        nullptr, once);
        out.flops += 2 * (2 * (once ? 1 : liveRows(block, live)) *
                              layers[l - 1] * layers[l] +
                          layers[l] * c.sharedFlops);
        out.primitives += 2 * layers[l] * c.primitives;
      }
      bool top = l + 1 == layers.size();
      int64_t rows = liveRows(block, live, top ? &needed : nullptr);
      if (once)
        rows = top ? liveRows(block, 1, &needed) : 1;
      out.flops += 2 * rows * layers[l - 1] * layers[l];
      if (top)
        break;
      bool feedsTop =
          l + 2 == layers.size() && !gated(net, l) && !net.lastHiddenResidual;
      SplitCost c = activateBlockCost(net.activations[l - 1], block, live,
                                      feedsTop ? &needed : nullptr, once);
      out.flops += layers[l] * c.sharedFlops;
      out.primitives += layers[l] * c.primitives;
      live = full;
      if (gated(net, l))
        out.flops += layers[l] * gateBlockFlops(block);
    }
  }
}

} // namespace detail
} // namespace partials
} // namespace ntp
