//===- VectorMath.h - The primitives as vector IR ---------------*- C++ -*-===//
//
// The Math object of evaluatePrimitive (Primitives.h) that emits the
// elementary functions of Primitives.def as arith and math ops on vectors:
// the IR twin of ScalarMath, shared by ntp-expand-activation-jets and the
// rays lowering. Header only, so that NtpSupport itself links no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_VECTORMATH_H
#define NTP_SUPPORT_VECTORMATH_H

#include "ntp/Support/Primitives.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace ntp {

/// The elementary functions of Primitives.def as vector math on `type`.
struct VectorMath {
  using Value = mlir::Value;
  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::VectorType type;

  Value constant(double c) {
    return mlir::arith::ConstantOp::create(
        b, loc,
        mlir::DenseElementsAttr::get(type,
                                     b.getFloatAttr(type.getElementType(), c)));
  }
  Value add(Value x, Value y) {
    return mlir::arith::AddFOp::create(b, loc, x, y);
  }
  Value mul(Value x, Value y) {
    return mlir::arith::MulFOp::create(b, loc, x, y);
  }
  Value div(Value x, Value y) {
    return mlir::arith::DivFOp::create(b, loc, x, y);
  }
  Value neg(Value x) { return mlir::arith::NegFOp::create(b, loc, x); }
  Value max(Value x, Value y) {
    return mlir::arith::MaximumFOp::create(b, loc, x, y);
  }
#define NTP_ELEMENTARY(name, MathOp, libm)                                     \
  Value name(Value x) { return mlir::math::MathOp::create(b, loc, x); }
#include "ntp/Support/ElementaryFunctions.def"
};

} // namespace ntp

#endif // NTP_SUPPORT_VECTORMATH_H
