//===- VectorMath.h - The primitives as vector IR ---------------*- C++ -*-===//
//
// The Math object of evaluatePrimitive (Primitives.h) that emits the
// elementary functions of Primitives.def as arith and math ops on vectors:
// the IR twin of ScalarMath, shared by ntp-expand-activation-jets and the
// rays lowering, with the arithmetic nodes of a jet expression both emit.
// Header only, so that NtpSupport itself links no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_VECTORMATH_H
#define NTP_SUPPORT_VECTORMATH_H

#include "ntp/Support/JetExpression.h"
#include "ntp/Support/Primitives.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/ErrorHandling.h"

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
  Value sub(Value x, Value y) {
    return mlir::arith::SubFOp::create(b, loc, x, y);
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

  /// Node `n` of a jet expression (JetExpression.h) of kind Constant, Add,
  /// Mul or Fma, its operands taken from `values`. The Input and Primitive
  /// nodes are the caller's: where their values come from differs.
  Value arithmeticNode(const JetExpression &n, llvm::ArrayRef<Value> values) {
    switch (n.kind) {
    case JetExpression::Kind::Constant:
      return constant(n.value);
    case JetExpression::Kind::Add:
      return add(values[n.lhs], values[n.rhs]);
    case JetExpression::Kind::Mul:
      return mul(values[n.lhs], values[n.rhs]);
    case JetExpression::Kind::Fma:
      return mlir::math::FmaOp::create(b, loc, values[n.lhs], values[n.rhs],
                                       values[n.acc]);
    case JetExpression::Kind::Input:
    case JetExpression::Kind::Primitive:
      break;
    }
    llvm_unreachable("an input or a primitive is the caller's");
  }
};

} // namespace ntp

#endif // NTP_SUPPORT_VECTORMATH_H
