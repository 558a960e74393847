//===- ApproximateMath.cpp - Vectorizable transcendental functions --------===//
//
// f32: upstream MLIR's polynomial approximations of tanh, exp, log1p, sin and
// cos. f64: exp and tanh here, to full double accuracy, so that f64 kernels
// vectorize instead of calling libm once per lane (a 1-24-24-24-1 tanh
// network evaluates 18432 tanh per batch of 256).
//
//===----------------------------------------------------------------------===//

#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ntp {
#define GEN_PASS_DEF_NTPAPPROXIMATEMATH
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;

namespace {

/// Builds f64 arithmetic on scalars or vectors of the type of `like`.
class F64Builder {
public:
  F64Builder(ImplicitLocOpBuilder &b, Type type) : b(b), type(type) {}

  Value cst(double v) {
    if (auto vector = dyn_cast<VectorType>(type))
      return arith::ConstantOp::create(
          b, DenseElementsAttr::get(vector, b.getF64FloatAttr(v)));
    return arith::ConstantOp::create(b, b.getF64FloatAttr(v));
  }
  Value intCst(int64_t v) {
    Type i64 = intType();
    if (auto vector = dyn_cast<VectorType>(i64))
      return arith::ConstantOp::create(
          b, DenseElementsAttr::get(vector, b.getI64IntegerAttr(v)));
    return arith::ConstantOp::create(b, b.getI64IntegerAttr(v));
  }
  Type intType() {
    if (auto vector = dyn_cast<VectorType>(type))
      return VectorType::get(vector.getShape(), b.getI64Type());
    return b.getI64Type();
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, x, y); }
  Value fma(Value x, Value y, Value z) {
    return math::FmaOp::create(b, x, y, z);
  }
  /// c[0] + x (c[1] + x (c[2] + ...)).
  Value horner(Value x, ArrayRef<double> c) {
    Value acc = cst(c.back());
    for (int i = static_cast<int>(c.size()) - 2; i >= 0; --i)
      acc = fma(acc, x, cst(c[i]));
    return acc;
  }

  /// exp(x), relative error about 1 ulp: x = k ln2 + r with |r| <= ln2 / 2
  /// (Cody-Waite, two-part ln2), e^r by its Taylor polynomial of degree 13
  /// (remainder below 4e-18), times 2^k built in the exponent bits.
  Value exp(Value x) {
    x = arith::MaximumFOp::create(b, x, cst(-708.0));
    x = arith::MinimumFOp::create(b, x, cst(709.0));
    Value k = math::RoundEvenOp::create(b, mul(x, cst(1.4426950408889634)));
    Value r = fma(k, cst(-6.93147180369123816490e-01), x);
    r = fma(k, cst(-1.90821492927058770002e-10), r);
    Value p = horner(r, taylorExp());
    Value bits = arith::ShLIOp::create(
        b,
        arith::AddIOp::create(b, arith::FPToSIOp::create(b, intType(), k),
                              intCst(1023)),
        intCst(52));
    return mul(p, arith::BitcastOp::create(b, type, bits));
  }

  /// expm1(y) for y <= 0: its Taylor polynomial where |y| < 0.34 (no
  /// cancellation; remainder below 4e-18 relative), exp(y) - 1 elsewhere
  /// (where |expm1(y)| > 0.28, so the subtraction loses nothing).
  Value expm1NonPositive(Value y) {
    SmallVector<double> c = taylorExp();
    c.erase(c.begin()); // (e^y - 1) / y
    Value small = mul(y, horner(y, c));
    Value large = sub(exp(y), cst(1.0));
    Value useSmall =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, y, cst(-0.34));
    return arith::SelectOp::create(b, useSmall, small, large);
  }

  /// tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|): full relative
  /// accuracy near 0 and exactly +-1 in the limit.
  Value tanh(Value x) {
    Value m = expm1NonPositive(mul(math::AbsFOp::create(b, x), cst(-2.0)));
    Value t = div(arith::NegFOp::create(b, m), add(cst(2.0), m));
    return math::CopySignOp::create(b, t, x);
  }

private:
  static SmallVector<double> taylorExp() {
    SmallVector<double> c = {1.0};
    for (int i = 1; i <= 13; ++i)
      c.push_back(c.back() / i);
    return c;
  }

  ImplicitLocOpBuilder &b;
  Type type;
};

template <class Op> struct ApproximateF64 : public OpRewritePattern<Op> {
  using OpRewritePattern<Op>::OpRewritePattern;

  LogicalResult matchAndRewrite(Op op,
                                PatternRewriter &rewriter) const override {
    if (!getElementTypeOrSelf(op.getOperand()).isF64())
      return rewriter.notifyMatchFailure(op, "not f64");
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    F64Builder f(b, op.getType());
    Value result = std::is_same_v<Op, math::TanhOp> ? f.tanh(op.getOperand())
                                                    : f.exp(op.getOperand());
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ApproximateMathPass
    : public ntp::impl::NtpApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The upstream patterns match f32 operands only (and deliberately no f32
    // expansion of f64 ops, which would cost f64 kernels their accuracy).
    // The elementary functions the primitives are built from; those with no
    // upstream approximation (abs) match no pattern.
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef name) {
      return llvm::is_contained(
          {
#define NTP_ELEMENTARY(name, MathOp, libm) math::MathOp::getOperationName(),
#include "ntp/Support/ElementaryFunctions.def"
          },
          name);
    });
    patterns.add<ApproximateF64<math::TanhOp>, ApproximateF64<math::ExpOp>>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
