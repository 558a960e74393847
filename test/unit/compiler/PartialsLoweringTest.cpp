//===- PartialsLoweringTest.cpp - Per-ray, multi-direction, collapsed -----===//
//
// The plans of the three lowerings of a partials request
// (lib/Support/PartialsLowering.cpp): the blocks and layouts, the combine
// weights, the exact operation counts, the choice and its refusals.
//
//===----------------------------------------------------------------------===//

#include "ntp/Support/PartialsLowering.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

using namespace ntp::partials;

namespace {

LoweringNetwork network(std::vector<int64_t> layers,
                        const std::string &act = "tanh") {
  LoweringNetwork n;
  n.layers = std::move(layers);
  n.activations.assign(n.layers.size() - 2, act);
  return n;
}

LoweringPlan lower(const std::vector<Row> &rows, const LoweringNetwork &net,
                   Lowering lowering, bool backward = false) {
  Plan plan;
  std::string error;
  EXPECT_TRUE(planPartials(rows, net.layers.front(), plan, error)) << error;
  LoweringPlan out;
  EXPECT_TRUE(planLowering(plan, rows, net, lowering, backward, out, error))
      << error;
  return out;
}

Row laplacian(int d) { return Row(d, kLaplacian); }

TEST(PartialsLowering, Names) {
  for (Lowering l : {Lowering::Auto, Lowering::PerRay, Lowering::MultiDirection,
                     Lowering::Collapsed})
    EXPECT_EQ(parseLowering(loweringName(l)), l);
  EXPECT_FALSE(parseLowering("fast"));
}

TEST(PartialsLowering, CollapsedLaplacianLayout) {
  // d first-order tangents and one collapsed row of order 2, weight 1.
  LoweringPlan p =
      lower({laplacian(3)}, network({3, 16, 1}), Lowering::Collapsed);
  ASSERT_EQ(p.blocks.size(), 1u);
  const RayBlock &b = p.blocks[0];
  ASSERT_EQ(b.groups.size(), 1u);
  EXPECT_EQ(b.groups[0].order, 1);
  EXPECT_EQ(b.groups[0].weight, 1.0);
  EXPECT_EQ(b.groups[0].rays.size(), 3u);
  EXPECT_EQ(b.collapsedOrder, 2);
  EXPECT_EQ(b.rows(), 5);
  EXPECT_EQ(p.collapsedRequest, 0);
  // The request reads the collapsed row (the last) only.
  EXPECT_EQ(p.columns, 5);
  EXPECT_EQ(p.weights, (std::vector<double>{0, 0, 0, 0, 1}));
}

TEST(PartialsLowering, CollapsedLaplacianExactFlops) {
  // identity d-64-1, one hidden layer: the activation is free but
  // for the collapse's FMA per ray (summing y1^2) and one multiply per
  // neuron (the shared R_2 factor times the sum). Layer 1 (live orders 0,
  // 1): 2 (1 + d) d 64; activation: 64 (2d + 1); layer 2: the collapsed
  // row alone (the one the combine weighs), 2 * 64.
  int64_t d = 2;
  LoweringNetwork net = network({d, 64, 1}, "identity");
  LoweringPlan p = lower({laplacian(d)}, net, Lowering::Collapsed);
  EXPECT_EQ(p.flops, 2 * (1 + d) * d * 64 + 64 * (2 * d + 1) + 2 * 64);
  // identity's one primitive (y) is its value, row 0, which the top layer
  // does not read: not evaluated.
  EXPECT_EQ(p.primitives, 0);
  // The seed's rows through layer 1 once per call (ntp.invariant_rays):
  // per sample, row 0 only; the activation's sums of y1^2 too (its rows
  // past row 0 are layer 1's): one multiply per neuron left.
  net.invariantSeedRows = true;
  LoweringPlan once = lower({laplacian(d)}, net, Lowering::Collapsed);
  EXPECT_EQ(once.flops, 2 * d * 64 + 64 + 2 * 64);
}

TEST(PartialsLowering, TopLayerComputesTheWeighedRows) {
  // tanh d-64-64-1, the Laplacian alone against f, its gradient and the
  // Laplacian (the same block: row 0, d rays of order 1, the collapsed
  // row): alone, the top layer computes the collapsed row only (2 * 64
  // flops, not 2 * 64 (d + 2)), and the activation feeding it skips the
  // rays' order-1 outputs (tanh' y1: one multiply per ray and neuron) and
  // row 0 (tanh(y0), the primitive it needs anyway: no flop).
  int64_t d = 8;
  LoweringNetwork net = network({d, 64, 64, 1});
  std::vector<Row> everything = {Row(d, 0)};
  for (int64_t i = 0; i < d; ++i) {
    everything.push_back(Row(d, 0));
    everything.back()[i] = 1;
  }
  everything.push_back(laplacian(d));
  LoweringPlan alone = lower({laplacian(d)}, net, Lowering::Collapsed);
  LoweringPlan all = lower(everything, net, Lowering::Collapsed);
  ASSERT_EQ(alone.blocks.size(), 1u);
  ASSERT_EQ(all.blocks.size(), 1u);
  EXPECT_EQ(alone.blocks[0].rows(), d + 2);
  EXPECT_EQ(all.blocks[0].rows(), d + 2);
  EXPECT_EQ(all.flops - alone.flops, 2 * 64 * (d + 1) + 64 * d);
  EXPECT_EQ(all.primitives, alone.primitives);
  // A residual last hidden layer sums the activation's rows with its
  // input's: the activation writes every row, the top still one.
  LoweringNetwork residual = net;
  residual.lastHiddenResidual = true;
  EXPECT_EQ(lower({laplacian(d)}, residual, Lowering::Collapsed).flops,
            alone.flops + 64 * d);
}

TEST(PartialsLowering, CollapsedLaplacianOverASubset) {
  // u_t and the Laplacian over x, y (the heat equation): e_t is read at
  // order 1, e_x and e_y are collapsed.
  Row lap = {kLaplacian, kLaplacian, 0};
  LoweringPlan p =
      lower({{0, 0, 1}, lap}, network({3, 16, 1}), Lowering::Collapsed);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.collapsedRequest, 1);
  int64_t collapsed = 0, plain = 0;
  for (const RayGroup &g : p.blocks[0].groups)
    (g.weight != 0 ? collapsed : plain) += static_cast<int64_t>(g.rays.size());
  EXPECT_EQ(collapsed, 2);
  EXPECT_EQ(plain, 1);
  EXPECT_EQ(p.blocks[0].rows(), 5);
}

TEST(PartialsLowering, ValueOnly) {
  // f alone: no ray rows, row 0 only.
  LoweringPlan p =
      lower({{0, 0}}, network({2, 8, 1}), Lowering::MultiDirection);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.blocks[0].rows(), 1);
  EXPECT_EQ(p.weights, (std::vector<double>{1}));
}

TEST(PartialsLowering, CollapsedBiharmonicCarriesOrderThree) {
  // Rays up to order 3, the order-4 sum collapsed.
  Row bi(2, kBiharmonic);
  LoweringPlan p = lower({bi}, network({2, 8, 1}), Lowering::Collapsed);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.blocks[0].collapsedOrder, 4);
  for (const RayGroup &g : p.blocks[0].groups) {
    EXPECT_EQ(g.order, 3);
    EXPECT_NE(g.weight, 0.0);
  }
}

TEST(PartialsLowering, RaysReadElsewhereAreNotCollapsed) {
  // u_xx is asked for too: e_0 keeps its order 2 and the Laplacian reads
  // it from its rows; e_1 is collapsed.
  LoweringPlan p =
      lower({{2, 0}, laplacian(2)}, network({2, 8, 1}), Lowering::Collapsed);
  ASSERT_EQ(p.blocks.size(), 1u);
  int64_t orders = 0;
  for (const RayGroup &g : p.blocks[0].groups)
    orders += g.order * static_cast<int64_t>(g.rays.size());
  EXPECT_EQ(orders, 3); // e_0 orders 1, 2 and e_1 order 1
  // Request 1: the collapsed row plus order 2 of e_0.
  int64_t nonzero =
      std::count_if(p.weights.begin() + p.columns, p.weights.end(),
                    [](double w) { return w != 0; });
  EXPECT_EQ(nonzero, 2);
}

TEST(PartialsLowering, AutoPicksTheFewestOperations) {
  auto net = network({8, 64, 64, 64, 1});
  LoweringPlan perRay = lower({laplacian(8)}, net, Lowering::PerRay);
  LoweringPlan multi = lower({laplacian(8)}, net, Lowering::MultiDirection);
  LoweringPlan collapsed = lower({laplacian(8)}, net, Lowering::Collapsed);
  LoweringPlan chosen = lower({laplacian(8)}, net, Lowering::Auto);
  EXPECT_LT(collapsed.cost(), multi.cost());
  EXPECT_LT(multi.cost(), perRay.cost());
  EXPECT_EQ(chosen.lowering, Lowering::Collapsed);
  EXPECT_EQ(chosen.cost(), collapsed.cost());
  // Shared primitives: tanh once per neuron and block, not once per ray.
  EXPECT_EQ(multi.primitives, 3 * 64);
  EXPECT_EQ(perRay.primitives, 8 * 3 * 64);
}

TEST(PartialsLowering, BackwardKeepsPerRay) {
  auto net = network({2, 8, 1});
  EXPECT_EQ(lower({laplacian(2)}, net, Lowering::Auto, true).lowering,
            Lowering::PerRay);
  Plan plan;
  std::string error;
  ASSERT_TRUE(planPartials({laplacian(2)}, 2, plan, error));
  LoweringPlan out;
  EXPECT_FALSE(planLowering(plan, {laplacian(2)}, net, Lowering::Collapsed,
                            true, out, error));
  EXPECT_EQ(error, "the reverse mode of partials kernels supports only the "
                   "per-ray lowering, not collapsed");
}

TEST(PartialsLowering, CollapsedNeedsAnOperator) {
  Plan plan;
  std::string error;
  std::vector<Row> rows = {{2, 0}, {1, 1}};
  ASSERT_TRUE(planPartials(rows, 2, plan, error));
  LoweringPlan out;
  EXPECT_FALSE(planLowering(plan, rows, network({2, 8, 1}), Lowering::Collapsed,
                            false, out, error));
  EXPECT_NE(error.find("needs an operator request"), std::string::npos);
}

TEST(PartialsLowering, BlocksCoverEveryRayOnceWithinBounds) {
  // All 462 directions of order 6 in 6 inputs: blocks of at most
  // kMaxBlockRows rows, every ray exactly once.
  std::vector<Row> rows = {{1, 1, 1, 1, 1, 1}};
  LoweringPlan p =
      lower(rows, network({6, 64, 64, 1}), Lowering::MultiDirection);
  std::set<int64_t> seen;
  size_t rays = 0;
  for (const RayBlock &b : p.blocks) {
    EXPECT_LE(b.rows(), kMaxBlockRows);
    for (const RayGroup &g : b.groups)
      for (int64_t r : g.rays) {
        seen.insert(r);
        ++rays;
      }
  }
  EXPECT_EQ(rays, 462u);
  EXPECT_EQ(seen.size(), 462u);
  EXPECT_GT(p.blocks.size(), 1u);
}

TEST(PartialsLowering, GatedExactFlops) {
  // The modified MLP (identity 2-4-4-1, the Laplacian): U and V are two
  // more affine layers and activations from the input, and each hidden
  // layer ends with a gate; the count adds exactly what the lowerings emit
  // (GateOpsToLoops.cpp, GateRaysToLoops.cpp) per neuron and sample.
  LoweringNetwork plain = network({2, 4, 4, 1}, "identity"), gated = plain;
  gated.gatedInput = 0;
  gated.buffers = 4;
  using Counts = std::pair<int64_t, int64_t>; // flops, primitives
  auto extra = [&](Lowering l) {
    LoweringPlan a = lower({laplacian(2)}, gated, l),
                 b = lower({laplacian(2)}, plain, l);
    EXPECT_EQ(a.lowering, l);
    return Counts(a.flops - b.flops, a.primitives - b.primitives);
  };
  // Collapsed: one block, rows 0, two rays of order 1 (weight 1), the
  // collapsed row. U, V: an affine of 3 live rows (2 * 3 * 2 * 4 flops) and
  // the identity (the collapse's FMA per ray and the scaled sum's multiply:
  // 2 * 2 + 1 flops per neuron, one primitive). A gate per neuron: order 0 (a
  // subtraction, an FMA: 3), each ray's order 1 (d_1, two FMAs: 5) and its term
  // z_1 d_1 of the collapsed row (an FMA: 2), the collapsed row's S_V - S_U and
  // two FMAs (5) and the scaled sum (an FMA: 2): 24; two gated layers of 4
  // neurons. Primitives: U's and V's, and the last hidden layer's (its
  // value, row 0, is read by the gate; without gates the top layer reads
  // the collapsed row alone and the activation feeding it skips row 0).
  EXPECT_EQ(
      extra(Lowering::Collapsed),
      (Counts(2 * (2 * 3 * 2 * 4 + 4 * (2 * 2 + 1)) + 2 * 4 * 24, 2 * 4 + 4)));
  // Multi-direction: two rays of order 2 (rows 0, 1..4). U, V: 3 live rows,
  // the identity free. A gate: order 0 (3) and per ray orders 1 and 2 (two
  // subtractions, 2 + 3 FMAs, one multiply by C(2, 1): 13).
  EXPECT_EQ(extra(Lowering::MultiDirection),
            (Counts(2 * (2 * 3 * 2 * 4) + 2 * 4 * (3 + 2 * 13), 2 * 4 + 4)));
  // Per ray: each of the two rays (order 2) repeats U, V (2 live orders)
  // and order 0 of the gate (ntp.gate_jets: 3 + 13 per neuron).
  EXPECT_EQ(extra(Lowering::PerRay),
            (Counts(2 * (2 * (2 * 2 * 2 * 4) + 2 * 4 * (3 + 13)), 2 * 2 * 4)));
}

TEST(PartialsLowering, GatedInvariantSeedRows) {
  // The modified MLP reading its seed: U, V and the first layer compute
  // their rows past row 0 once per call (ntp.invariant_rays), so per
  // sample each of the three maps row 0 alone: 3 * 2 * (d + 1 - 1) * d * h
  // flops fewer (d = 3, h = 4; the Laplacian's d + 2 rows, of which the
  // first layer reads d + 1 live ones), and the three activations after
  // them sum y1^2 once per call too (an FMA per ray and neuron: 3 * 2 d h).
  LoweringNetwork net = network({3, 4, 4, 1}, "tanh");
  net.gatedInput = 0;
  net.buffers = 4;
  LoweringPlan perTile = lower({laplacian(3)}, net, Lowering::Collapsed);
  net.invariantSeedRows = true;
  LoweringPlan once = lower({laplacian(3)}, net, Lowering::Collapsed);
  EXPECT_EQ(perTile.flops - once.flops, 3 * 2 * 3 * 3 * 4 + 3 * 2 * 3 * 4);
}

TEST(PartialsLowering, GatedAutoPicksTheFewestOperations) {
  // The modified MLP tanh 8-64-64-64-1: the choice covers gated networks.
  LoweringNetwork net = network({8, 64, 64, 64, 1});
  net.gatedInput = 0;
  net.buffers = 4;
  LoweringPlan perRay = lower({laplacian(8)}, net, Lowering::PerRay);
  LoweringPlan multi = lower({laplacian(8)}, net, Lowering::MultiDirection);
  LoweringPlan collapsed = lower({laplacian(8)}, net, Lowering::Collapsed);
  LoweringPlan chosen = lower({laplacian(8)}, net, Lowering::Auto);
  EXPECT_LT(collapsed.cost(), multi.cost());
  EXPECT_LT(multi.cost(), perRay.cost());
  EXPECT_EQ(chosen.lowering, Lowering::Collapsed);
  // tanh once per neuron and block: 3 hidden layers, U and V.
  EXPECT_EQ(multi.primitives, 5 * 64);
  EXPECT_EQ(perRay.primitives, 8 * 5 * 64);
}

TEST(PartialsLowering, StackBoundShrinksBlocks) {
  // A 4096-wide layer: two buffers of 128 rows would need 2 * 128 * 4096
  // * 8 lanes * 8 bytes = 64 MiB; the blocks shrink to fit 4 MiB.
  auto net = network({3, 4096, 1});
  LoweringPlan p =
      lower({laplacian(3), {1, 1, 1}}, net, Lowering::MultiDirection);
  for (const RayBlock &b : p.blocks)
    EXPECT_LE(2 * b.rows() * 4096 * 8 * 8, net.stackBytes);
}

} // namespace
