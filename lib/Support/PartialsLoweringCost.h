//===- PartialsLoweringCost.h - Exact operation counts of a plan -*- C++
//-*-===//
//
// Private to lib/Support: the counts PartialsLowering.cpp's plans are
// compared by (PartialsLoweringCost.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_SUPPORT_PARTIALSLOWERINGCOST_H
#define NTP_LIB_SUPPORT_PARTIALSLOWERINGCOST_H

#include "ntp/Support/PartialsLowering.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

namespace ntp {
namespace partials {
namespace detail {

/// The shared nodes already counted in one activation of a block, by
/// structure: MLIR's CSE merges the identical primitives and polynomials
/// that the expansions of different orders emit, so they count once.
using SharedKeys = std::map<std::tuple<int, int, double, int, int, int>, int>;

/// The cost of the nodes `outputs` need, split into what is shared by every
/// ray (primitives, polynomials in them) and what each ray computes. With
/// `keys`, shared nodes already in it cost nothing.
struct SplitCost {
  int64_t sharedFlops = 0, primitives = 0, rayFlops = 0;
};

/// The expansion of `activation` of `order` reading `live` input orders,
/// restricted to outputs [first, last].
SplitCost activationCost(const std::string &activation, int64_t order,
                         int64_t live, int64_t first, int64_t last,
                         SharedKeys *keys = nullptr);

/// Whether the network has a hidden layer.
bool hasHidden(const LoweringNetwork &n);

/// Whether a gated network's U and V are computed before layer l (from
/// layers[l - 1]), and whether hidden layer l ends with a gate.
bool gatesFrom(const LoweringNetwork &n, size_t l);
bool gated(const LoweringNetwork &n, size_t l);

/// Adds the per-ray lowering's operations to `out.flops`.
void costPerRay(const Plan &plan, const LoweringNetwork &net,
                LoweringPlan &out);

/// Adds the blocked lowerings' operations (out.blocks) to `out.flops`.
void costBlocks(const LoweringNetwork &net, LoweringPlan &out);

} // namespace detail
} // namespace partials
} // namespace ntp

#endif // NTP_LIB_SUPPORT_PARTIALSLOWERINGCOST_H
