//===- PartialsLowering.cpp - Per-ray, multi-direction or collapsed -------===//
//
// The plans of the three lowerings of a partials request, their exact
// operation counts and the choice between them; see
// ntp/Support/PartialsLowering.h.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/PartialsLowering.h"
#include "PartialsLoweringCost.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <tuple>

using namespace ntp;
using namespace ntp::partials;
using namespace ntp::partials::detail;

const char *ntp::partials::loweringName(Lowering lowering) {
  switch (lowering) {
  case Lowering::Auto:
    return "auto";
  case Lowering::PerRay:
    return "per-ray";
  case Lowering::MultiDirection:
    return "multi-direction";
  case Lowering::Collapsed:
    return "collapsed";
  case Lowering::Multivariate:
    return "multivariate";
  }
  return "?";
}

std::optional<Lowering> ntp::partials::parseLowering(const std::string &name) {
  for (Lowering l : {Lowering::Auto, Lowering::PerRay, Lowering::MultiDirection,
                     Lowering::Collapsed, Lowering::Multivariate})
    if (name == loweringName(l))
      return l;
  return std::nullopt;
}

int64_t RayBlock::rows() const {
  int64_t rows = 1 + (collapsedOrder > 0 ? 1 : 0);
  for (const RayGroup &g : groups)
    rows += static_cast<int64_t>(g.rays.size()) * g.order;
  return rows;
}

int64_t RayBlock::maxOrder() const {
  int64_t m = collapsedOrder;
  for (const RayGroup &g : groups)
    m = std::max(m, g.order);
  return m;
}

int64_t LoweringPlan::cost() const {
  return flops + kPrimitiveFlops * primitives;
}

std::string LoweringPlan::summary() const {
  std::ostringstream os;
  os << loweringName(lowering);
  if (!blocks.empty()) {
    os << ": " << blocks.size() << (blocks.size() == 1 ? " block" : " blocks")
       << " of rows";
    for (size_t i = 0; i < blocks.size(); ++i)
      os << (i ? "," : " ") << blocks[i].rows();
  }
  if (collapsedRequest >= 0)
    os << ", request " << collapsedRequest << " collapsed";
  if (!monomials.empty()) {
    int64_t degree = 0;
    for (const Monomial &m : monomials) {
      int64_t d = 0;
      for (int64_t e : m)
        d += e;
      degree = std::max(degree, d);
    }
    os << ": " << monomials.size() << " monomials of degree <= " << degree;
  }
  os << "; " << flops << " flops + " << primitives << " primitives per sample";
  return os.str();
}

std::vector<bool> ntp::partials::perRayNodes(const JetExpressionGraph &graph) {
  const auto &nodes = graph.getNodes();
  std::vector<bool> ray(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const JetExpression &n = nodes[i];
    if (n.kind == JetExpression::Kind::Input) {
      ray[i] = n.index > 0;
      continue;
    }
    for (int operand : {n.lhs, n.rhs, n.acc})
      if (operand >= 0 && ray[operand])
        ray[i] = true;
  }
  return ray;
}

namespace {
/// Packs `groups` into blocks of at most `cap` rows (a group may be split).
std::vector<RayBlock> packBlocks(const std::vector<RayGroup> &groups,
                                 int64_t collapsedOrder, int64_t cap) {
  std::vector<RayBlock> blocks(1);
  auto rowsOf = [&](const RayBlock &b) { return b.rows(); };
  for (const RayGroup &g : groups) {
    size_t i = 0;
    while (i < g.rays.size()) {
      RayBlock &block = blocks.back();
      int64_t extra = g.weight != 0 && block.collapsedOrder == 0 ? 1 : 0;
      int64_t room = (cap - rowsOf(block) - extra) / g.order;
      if (room <= 0) {
        blocks.emplace_back();
        continue;
      }
      if (block.groups.empty() || block.groups.back().order != g.order ||
          block.groups.back().weight != g.weight ||
          block.groups.back().rays.empty() || i == 0)
        block.groups.push_back({g.order, g.weight, {}});
      if (g.weight != 0)
        block.collapsedOrder = collapsedOrder;
      int64_t take = std::min<int64_t>(room, g.rays.size() - i);
      for (int64_t t = 0; t < take; ++t)
        block.groups.back().rays.push_back(g.rays[i++]);
    }
  }
  return blocks;
}

/// Blocks for the groups within the stack bound; the columns and combine
/// weights of the stacked top rows. `collapsed` maps a (request, ray) pair
/// to true where the request's top-order term of that ray is in the
/// collapsed rows.
bool planBlocks(const Plan &plan, const std::vector<Row> &rows,
                const LoweringNetwork &net, std::vector<RayGroup> groups,
                int64_t collapsedRequest, int64_t collapsedOrder,
                const std::vector<bool> &rayCollapsed, LoweringPlan &out,
                std::string &error) {
  int64_t q = net.layers.back();
  int64_t maxWidth = *std::max_element(net.layers.begin(), net.layers.end());
  int64_t requests = static_cast<int64_t>(rows.size());
  int64_t rayRows = 0, maxOrder = collapsedOrder;
  for (const RayGroup &g : groups) {
    rayRows += static_cast<int64_t>(g.rays.size()) * g.order;
    maxOrder = std::max(maxOrder, g.order);
  }
  int64_t budget = net.stackBytes / net.elementBytes / net.tile;
  // Every block adds its row 0 and collapsed row to the stacked columns;
  // shrink the cap until the blocks fit.
  int64_t cap = kMaxBlockRows;
  std::vector<RayBlock> blocks;
  while (true) {
    if (cap < maxOrder + 2) {
      error = "one block of rays of this partials request needs more than "
              "kMaxTileStackBytes of stack; use a smaller tile or narrower "
              "layers";
      return false;
    }
    blocks = packBlocks(groups, collapsedOrder, cap);
    int64_t columns = 0, largest = 0;
    for (const RayBlock &b : blocks) {
      columns += b.rows();
      largest = std::max(largest, b.rows());
    }
    if (net.buffers * largest * maxWidth + (columns + requests) * q <= budget)
      break;
    cap = std::min(cap - 1, largest - 1);
  }
  (void)rayRows;
  out.blocks = blocks;
  // Where each ray's rows are: its column of order 1.
  std::vector<int64_t> firstColumn(plan.rays.size(), -1);
  std::vector<int64_t> collapsedColumns;
  int64_t column = 0;
  for (const RayBlock &b : blocks) {
    int64_t row = column + 1;
    for (const RayGroup &g : b.groups)
      for (int64_t r : g.rays) {
        firstColumn[r] = row;
        row += g.order;
      }
    if (b.collapsedOrder > 0)
      collapsedColumns.push_back(row);
    column += b.rows();
  }
  out.columns = column;
  out.weights.assign(requests * column, 0.0);
  // Orders a top row can be nonzero in: without a hidden layer the network
  // is affine, and orders >= 2 are structural zeros (never written).
  int64_t topLive = hasHidden(net) ? INT64_MAX : 2;
  for (int64_t p = 0; p < requests; ++p) {
    for (const Plan::Term &t : plan.terms[p]) {
      if (t.order == 0) {
        out.weights[p * column] += t.weight.toDouble();
        continue;
      }
      if (p == collapsedRequest && rayCollapsed[t.ray])
        continue;
      if (t.order < topLive)
        out.weights[p * column + firstColumn[t.ray] + t.order - 1] +=
            t.weight.toDouble();
    }
    if (p == collapsedRequest && collapsedOrder < topLive)
      for (int64_t c : collapsedColumns)
        out.weights[p * column + c] = 1.0;
  }
  return true;
}

/// Groups rays of equal (order, weight), orders > 0, ascending.
std::vector<RayGroup> groupRays(const std::vector<int64_t> &orders,
                                const std::vector<double> &weights) {
  std::map<std::pair<int64_t, double>, RayGroup> byKey;
  for (size_t r = 0; r < orders.size(); ++r) {
    if (orders[r] == 0)
      continue;
    RayGroup &g = byKey[{orders[r], weights[r]}];
    g.order = orders[r];
    g.weight = weights[r];
    g.rays.push_back(static_cast<int64_t>(r));
  }
  std::vector<RayGroup> groups;
  for (auto &[key, g] : byKey)
    groups.push_back(std::move(g));
  return groups;
}

bool planMulti(const Plan &plan, const std::vector<Row> &rows,
               const LoweringNetwork &net, LoweringPlan &out,
               std::string &error) {
  out = LoweringPlan();
  out.lowering = Lowering::MultiDirection;
  std::vector<double> zero(plan.rays.size(), 0.0);
  if (!planBlocks(plan, rows, net, groupRays(plan.rayOrders, zero), -1, 0,
                  std::vector<bool>(plan.rays.size(), false), out, error))
    return false;
  costBlocks(net, out);
  return true;
}

/// Collapses request p (an operator row: all its terms of order N).
bool planCollapsed(const Plan &plan, const std::vector<Row> &rows,
                   const LoweringNetwork &net, int64_t p, LoweringPlan &out,
                   std::string &error) {
  out = LoweringPlan();
  out.lowering = Lowering::Collapsed;
  int64_t n = totalOrder(rows[p]);
  std::vector<int64_t> other(plan.rays.size(), 0);
  for (size_t q = 0; q < rows.size(); ++q)
    if (static_cast<int64_t>(q) != p)
      for (const Plan::Term &t : plan.terms[q])
        other[t.ray] = std::max(other[t.ray], t.order);
  std::vector<int64_t> orders = other;
  std::vector<double> weights(plan.rays.size(), 0.0);
  std::vector<bool> collapsed(plan.rays.size(), false);
  for (const Plan::Term &t : plan.terms[p]) {
    if (t.order != n || other[t.ray] >= n) {
      // Read from the ray's own rows like any other request.
      orders[t.ray] = std::max(orders[t.ray], t.order);
      continue;
    }
    collapsed[t.ray] = true;
    weights[t.ray] = t.weight.toDouble();
    orders[t.ray] = std::max(other[t.ray], n - 1);
  }
  if (std::none_of(collapsed.begin(), collapsed.end(),
                   [](bool c) { return c; })) {
    error = "request " + std::to_string(p) +
            " has no term the collapsed lowering can sum";
    return false;
  }
  out.collapsedRequest = p;
  if (!planBlocks(plan, rows, net, groupRays(orders, weights), p, n, collapsed,
                  out, error))
    return false;
  costBlocks(net, out);
  return true;
}

void planPerRay(const Plan &plan, const std::vector<Row> &rows,
                const LoweringNetwork &net, LoweringPlan &out) {
  out = LoweringPlan();
  out.lowering = Lowering::PerRay;
  out.columns = plan.jetCoefficients();
  out.weights.assign(rows.size() * out.columns, 0.0);
  std::vector<int64_t> first;
  int64_t column = 0;
  for (int64_t o : plan.rayOrders) {
    first.push_back(column);
    column += o + 1;
  }
  for (size_t p = 0; p < rows.size(); ++p)
    for (const Plan::Term &t : plan.terms[p]) {
      int64_t top = hasHidden(net)
                        ? plan.rayOrders[t.ray] + 1
                        : std::min<int64_t>(plan.rayOrders[t.ray] + 1, 2);
      if (t.order < top)
        out.weights[p * out.columns + first[t.ray] + t.order] =
            t.weight.toDouble();
    }
  costPerRay(plan, net, out);
}

/// The multivariate Taylor lowering: one buffer of |M| rows through every
/// layer (affine: every row; activation: ntp.activate_poly; a gated
/// network's gates: ntp.gate_poly).
bool planMultivariate(const std::vector<Row> &rows, const LoweringNetwork &net,
                      LoweringPlan &out, std::string &error) {
  out = LoweringPlan();
  out.lowering = Lowering::Multivariate;
  if (!net.multivariate) {
    error = "the multivariate lowering is not available for this target";
    return false;
  }
  const auto &layers = net.layers;
  out.monomials = requestMonomials(rows, layers.front());
  int64_t m = static_cast<int64_t>(out.monomials.size());
  int64_t q = layers.back();
  int64_t maxWidth = *std::max_element(layers.begin(), layers.end());
  int64_t budget = net.stackBytes / net.elementBytes / net.tile;
  if (net.buffers * m * maxWidth + (m + static_cast<int64_t>(rows.size())) * q >
      budget) {
    error = "the " + std::to_string(m) +
            " monomials of the multivariate lowering need more than "
            "kMaxTileStackBytes of stack; use a smaller tile or narrower "
            "layers";
    return false;
  }
  PolySchedule schedule = polySchedule(out.monomials);
  int64_t products = 0;
  for (const auto &power : schedule.powers)
    for (const PolySchedule::Entry &e : power)
      products += static_cast<int64_t>(e.terms.size());
  // A gated network's gate product table, built once for the product
  // count and the gates' flops.
  std::vector<std::vector<PolySchedule::Term>> gateTable;
  if (net.gatedInput >= 0)
    gateTable = polyProductTable(out.monomials);
  for (const auto &terms : gateTable)
    products += static_cast<int64_t>(terms.size());
  if (products > kMaxPolyProducts) {
    error = "the multivariate lowering of this request needs " +
            std::to_string(products) +
            " products per neuron, more than kMaxPolyProducts";
    return false;
  }
  out.columns = m;
  out.weights = monomialWeights(rows, out.monomials);
  // Per sample: every affine layer maps the |M| rows; every activation
  // evaluates sigma^(0..n)(y0) (the activation's jet of order n along
  // y0 + t, as ntp.activate_poly emits it) and the schedule's products; a
  // gated network adds U and V (an affine layer and an activation each)
  // and a gate after each hidden activation (ntp.gate_poly).
  auto activation = [&](size_t l) {
    SplitCost c = activationCost(net.activations[l - 1], schedule.degree, 2, 0,
                                 schedule.degree);
    out.flops += layers[l] * (c.sharedFlops + c.rayFlops + schedule.flops());
    out.primitives += layers[l] * c.primitives;
  };
  int64_t gateFlops = net.gatedInput >= 0 ? gatePolyFlops(gateTable) : 0;
  for (size_t l = 1; l < layers.size(); ++l) {
    if (gatesFrom(net, l))
      for (int gate = 0; gate < 2; ++gate) {
        out.flops += 2 * m * layers[l - 1] * layers[l];
        activation(l);
      }
    out.flops += 2 * m * layers[l - 1] * layers[l];
    if (l + 1 == layers.size())
      break;
    activation(l);
    if (gated(net, l))
      out.flops += layers[l] * gateFlops;
  }
  return true;
}

} // namespace

bool ntp::partials::planLowering(const Plan &plan, const std::vector<Row> &rows,
                                 const LoweringNetwork &network,
                                 Lowering lowering, bool backward,
                                 LoweringPlan &out, std::string &error) {
  if (backward && lowering != Lowering::Auto && lowering != Lowering::PerRay) {
    error = std::string("the reverse mode of partials kernels supports only "
                        "the per-ray lowering, not ") +
            loweringName(lowering);
    return false;
  }
  if (backward || lowering == Lowering::PerRay) {
    planPerRay(plan, rows, network, out);
    return true;
  }
  if (lowering == Lowering::MultiDirection)
    return planMulti(plan, rows, network, out, error);
  if (lowering == Lowering::Multivariate)
    return planMultivariate(rows, network, out, error);
  // Collapsed: each operator request is a candidate; the cheapest wins.
  std::vector<LoweringPlan> candidates;
  for (size_t p = 0; p < rows.size(); ++p) {
    if (operatorName(rows[p])[0] == 0)
      continue;
    LoweringPlan c;
    std::string ignored;
    if (planCollapsed(plan, rows, network, static_cast<int64_t>(p), c, ignored))
      candidates.push_back(std::move(c));
  }
  if (lowering == Lowering::Collapsed && candidates.empty()) {
    error = "the collapsed lowering needs an operator request (laplacian or "
            "biharmonic) whose top-order terms it can sum";
    return false;
  }
  if (lowering == Lowering::Auto) {
    LoweringPlan perRay, multi;
    planPerRay(plan, rows, network, perRay);
    candidates.insert(candidates.begin(), std::move(perRay));
    if (planMulti(plan, rows, network, multi, error))
      candidates.insert(candidates.begin() + 1, std::move(multi));
    LoweringPlan multivariate;
    std::string ignored;
    if (planMultivariate(rows, network, multivariate, ignored))
      candidates.push_back(std::move(multivariate));
  }
  // Ties keep the earlier (per-ray, then multi-direction).
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i)
    if (candidates[i].cost() < candidates[best].cost())
      best = i;
  out = std::move(candidates[best]);
  return true;
}
