//===- PartialsLowering.h - How a partials kernel propagates its jets -*- C++
//-*-===//
//
// A partials request (Partials.h) is computed from univariate jets along
// integer rays. This header decides how a kernel propagates them:
//
//  - per-ray: one univariate jet per ray through every layer, each repeating
//    the order-0 values, the activation's primitives and the weight loads;
//  - multi-direction: one jet buffer per block of rays holding the shared
//    order-0 row once and, per ray, its orders 1..n_r; each affine layer
//    loads a weight once per chunk of rows and each activation evaluates its
//    primitives (tanh(y0), ...) once per neuron and sample;
//  - collapsed (collapsed Taylor mode, Dangel et al. 2024; the forward
//    Laplacian of Li et al. 2023): like multi-direction, but one operator
//    request that sums the top order N over its rays (laplacian: N = 2,
//    biharmonic: N = 4) propagates one row S = sum_r w_r y_N^(r) instead of
//    order N of every ray: rays carry orders 1..N-1 and the activation
//    writes Z = s'(y0) S + sum_r w_r R_N(y^(r)), R_N the expansion of order
//    N without its term linear in y_N;
//  - multivariate (truncated multivariate Taylor arithmetic,
//    Multivariate.h): one buffer holding, per neuron, the Taylor
//    coefficients over the down-closed set M of monomials below the
//    requested multi-indices (35 for all partials of order <= 4 in 3
//    variables, against 61 rows of 15 rays of order 4); affine layers map
//    every row (ntp.affine_rays on |M| - 1 rays of order 1), activations
//    compose sigma's Taylor series with the polynomial (ntp.activate_poly).
//
// The choice is by exact operation count (flops of the affine products and
// of the activation expansions as the lowering emits them), like the choice
// between Faà di Bruno and the Taylor recurrence (ActivationJet.h).
// Plain C++17, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_PARTIALSLOWERING_H
#define NTP_SUPPORT_PARTIALSLOWERING_H

#include "ntp/Support/JetExpression.h"
#include "ntp/Support/Multivariate.h"
#include "ntp/Support/Partials.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ntp::partials {

enum class Lowering { Auto, PerRay, MultiDirection, Collapsed, Multivariate };

/// "auto", "per-ray", "multi-direction", "collapsed", "multivariate".
const char *loweringName(Lowering lowering);
std::optional<Lowering> parseLowering(const std::string &name);

/// Rays of one order and one collapse weight, contiguous in a block: rows
/// 1 + offset + i * order + (k - 1) hold order k of its i-th ray.
struct RayGroup {
  int64_t order = 0;
  /// Weight of each ray's R_N in the block's collapsed row (0: none).
  double weight = 0;
  std::vector<int64_t> rays; // indices into Plan::rays
};

/// One jet buffer's worth of rays: row 0 (order 0, shared), the groups'
/// rows, then the collapsed row if collapsedOrder > 0.
struct RayBlock {
  std::vector<RayGroup> groups;
  int64_t collapsedOrder = 0;
  int64_t rows() const;
  /// The highest order any row holds.
  int64_t maxOrder() const;
};

/// The lowering of one request.
struct LoweringPlan {
  Lowering lowering = Lowering::PerRay;
  /// Multi-direction and collapsed: the blocks, propagated one after the
  /// other; their top-layer rows are stacked (block 0's rows, block 1's,
  /// ...) into the columns the combine reads.
  std::vector<RayBlock> blocks;
  /// Collapsed: the request whose top-order sum is collapsed.
  int64_t collapsedRequest = -1;
  /// Multivariate: the monomials, graded (row 0 the zero monomial); the
  /// columns are their rows at the top layer.
  std::vector<Monomial> monomials;
  /// Columns of the stacked top-layer rows and the P x columns weights of
  /// the combine (zero where a row is a structural zero at the top).
  /// Per-ray: the columns of Plan::jetCoefficients (ray-major, orders
  /// 0..n_r each).
  int64_t columns = 0;
  std::vector<double> weights;
  /// Exact counts per sample of what the lowering emits: flops (an FMA is
  /// two) and primitive evaluations (tanh, exp, ...), and the cost the
  /// choice compares: flops + kPrimitiveFlops * primitives.
  int64_t flops = 0, primitives = 0;
  int64_t cost() const;
  /// One line: "collapsed: 1 block of 34 rows, ... flops/sample".
  std::string summary() const;
};

/// What a primitive evaluation counts as in LoweringPlan::cost (a vector
/// tanh or exp is a polynomial of about this many operations).
inline constexpr int64_t kPrimitiveFlops = 20;
/// The most rows one block holds (beside the stack bound): two ping-pong
/// buffers of this many rows of a 64-wide layer stay within the L2 cache.
inline constexpr int64_t kMaxBlockRows = 128;

/// The network a partials kernel runs: widths, the activation of each hidden
/// layer, samples per tile and the bytes of one element.
struct LoweringNetwork {
  std::vector<int64_t> layers;
  std::vector<std::string> activations;
  int64_t tile = 8;
  int64_t elementBytes = 8;
  int64_t stackBytes = int64_t(4) << 20;
  /// Ping-pong jet buffers of a block (3 with residual layers, 2 more for a
  /// gated network's U and V).
  int64_t buffers = 2;
  /// A gated network (the modified MLP): U and V computed from
  /// layers[gatedInput] (the input, or the Fourier features) into the width
  /// of the next layer with its activation, and a gate (ntp.gate_jets per
  /// ray, ntp.gate_rays per block) after every hidden activation past it;
  /// -1: none.
  int64_t gatedInput = -1;
  /// Whether a block's first affine layer (and a gated network's U and V)
  /// reads its seed directly (no Fourier features) in tiles of more than one
  /// sample: then the rows past row 0 are computed once per call
  /// (ntp.invariant_rays), and per sample only row 0 counts.
  bool invariantSeedRows = false;
  /// Whether the last hidden layer is residual (its activation's output is
  /// summed with the layer's input before the top layer): then that
  /// activation writes every row, else only the rows the top layer computes
  /// (the ones the combine weighs).
  bool lastHiddenResidual = false;
  /// Whether the multivariate lowering may be planned (a target that does
  /// not lower ntp.activate_poly and ntp.gate_poly would say no; the CPU
  /// and both GPU mappings do).
  bool multivariate = true;
};

/// The most products one ntp.activate_poly (with a gated network's
/// ntp.gate_poly) unrolls per neuron (its code grows with them).
inline constexpr int64_t kMaxPolyProducts = 20000;

/// Plans `lowering` (Auto: the cheapest by cost(), ties to per-ray then
/// multi-direction; with `backward`, only per-ray, the one the generated
/// reverse mode supports). False and one sentence when the forced lowering
/// does not apply (collapsed without an operator request, or with
/// backward; multivariate where not allowed) or a
/// block does not fit the stack.
bool planLowering(const Plan &plan, const std::vector<Row> &rows,
                  const LoweringNetwork &network, Lowering lowering,
                  bool backward, LoweringPlan &out, std::string &error);

/// Which nodes of `graph` depend on an input of order >= 1 (computed per
/// ray); the others (primitives, y0, constants) are shared by every ray.
std::vector<bool> perRayNodes(const JetExpressionGraph &graph);

} // namespace ntp::partials

#endif // NTP_SUPPORT_PARTIALSLOWERING_H
