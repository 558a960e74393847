//===- RayLoopUtils.h - Helpers of the ray ops' loop lowerings --*- C++ -*-===//
//
// Private to lib/Conversion/NtpToLoops: what RaysToLoops.cpp and
// ActivateRaysToLoops.cpp both emit (index constants, loops, the rows an op
// must write).
//
//===----------------------------------------------------------------------===//

#ifndef NTP_LIB_CONVERSION_NTPTOLOOPS_RAYLOOPUTILS_H
#define NTP_LIB_CONVERSION_NTPTOLOOPS_RAYLOOPUTILS_H

#include "ntp/Dialect/Ntp/IR/RayLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <vector>

namespace ntp::rayloops {

using namespace mlir;

inline Value index(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `for (iv = begin; iv < end; ++iv)` with iter_args; body returns yields.
inline scf::ForOp forLoop(
    OpBuilder &b, Location loc, Value begin, Value end, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body) {
  return scf::ForOp::create(
      b, loc, begin, end, index(b, loc, 1), init,
      [&](OpBuilder &b, Location loc, Value iv, ValueRange args) {
        scf::YieldOp::create(b, loc, body(b, loc, iv, args));
      });
}

inline scf::ForOp
simpleLoop(OpBuilder &b, Location loc, int64_t count,
           function_ref<void(OpBuilder &, Location, Value)> body) {
  return forLoop(b, loc, index(b, loc, 0), index(b, loc, count), {},
                 [&](OpBuilder &b, Location loc, Value iv, ValueRange) {
                   body(b, loc, iv);
                   return SmallVector<Value>();
                 });
}

/// a + s * c for index values.
inline Value affineIndex(OpBuilder &b, Location loc, int64_t a, Value s,
                         int64_t c) {
  Value scaled =
      c == 1 ? s : arith::MulIOp::create(b, loc, s, index(b, loc, c));
  return a == 0 ? scaled
                : arith::AddIOp::create(b, loc, scaled, index(b, loc, a));
}

/// The rows of `op`'s output to write: those its {ntp.needed_rows} lists
/// (verified ascending and within the layout), else every row.
inline std::vector<bool> neededRows(Operation *op, int64_t rows) {
  auto listed = op->getAttrOfType<DenseI64ArrayAttr>(kNeededRowsAttrName);
  std::vector<bool> needed(rows, !listed);
  if (listed)
    for (int64_t row : listed.asArrayRef())
      needed[row] = true;
  return needed;
}

/// Adds the lowering of ntp.activate_rays (ActivateRaysToLoops.cpp); part of
/// populateRaysToLoopsConversionPatterns.
void populateActivateRaysToLoopsPatterns(RewritePatternSet &patterns);

} // namespace ntp::rayloops

#endif // NTP_LIB_CONVERSION_NTPTOLOOPS_RAYLOOPUTILS_H
