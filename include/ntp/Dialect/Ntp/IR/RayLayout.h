//===- RayLayout.h - The rows of a multi-direction jet buffer ---*- C++ -*-===//
//
// The ray layout of ntp.seed_rays, ntp.affine_rays and ntp.activate_rays (see
// their description in NtpOps.td): row 0 is order 0, then groups of rays of
// one order each, then an optional collapsed row. The verifiers and the
// lowerings read it through this struct.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_DIALECT_NTP_IR_RAYLAYOUT_H
#define NTP_DIALECT_NTP_IR_RAYLAYOUT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <cstdint>

namespace ntp {

/// Discardable array<i64> attribute on an ntp.affine_rays or
/// ntp.activate_rays: the rows of its output that anything reads (ascending;
/// the top layer's rows the combine weighs, and those of the activation
/// feeding it). The lowering writes only those of the live rows and leaves
/// the others unwritten; without it every live row is written.
constexpr llvm::StringLiteral kNeededRowsAttrName = "ntp.needed_rows";
// ntp.invariant_rays (kInvariantRaysAttrName, NtpDialect.h) marks, besides
// an ntp.affine_rays reading the seed, the ntp.activate_rays after such a
// layer: its input rows past row 0 are the same in every tile and lane, so
// the lowering sums the order-1 rays' y1^2 once per call.

struct RayLayout {
  struct Group {
    int64_t count, order;
    double weight;
    int64_t base;     // row of order 1 of the group's first ray
    int64_t firstRay; // index of its first ray across groups
  };
  llvm::SmallVector<Group> groups;
  int64_t collapsedOrder = 0;
  int64_t collapsedRow = -1;
  int64_t rows = 1, rays = 0, maxOrder = 0;

  template <class OpTy> static RayLayout of(OpTy op) {
    return get(op.getRayCounts(), op.getRayOrders(), op.getCollapseWeights(),
               op.getCollapsedOrder());
  }
  /// The layout; the caller has checked the arrays have equal sizes.
  static RayLayout get(llvm::ArrayRef<int64_t> counts,
                       llvm::ArrayRef<int64_t> orders,
                       llvm::ArrayRef<double> weights, int64_t collapsed) {
    RayLayout l;
    for (size_t g = 0; g < counts.size(); ++g) {
      l.groups.push_back({counts[g], orders[g], weights[g], l.rows, l.rays});
      l.rows += counts[g] * orders[g];
      l.rays += counts[g];
      l.maxOrder = std::max(l.maxOrder, orders[g]);
    }
    l.collapsedOrder = collapsed;
    if (collapsed > 0) {
      l.collapsedRow = l.rows++;
      l.maxOrder = std::max(l.maxOrder, collapsed);
    }
    return l;
  }
};

} // namespace ntp

#endif // NTP_DIALECT_NTP_IR_RAYLAYOUT_H
