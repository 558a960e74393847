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

#include <cmath>

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

  /// tanh(x) = sign(x) * -m / (2 + m), m = expm1(y), y = -2|x|, with expm1
  /// reduced as exp is (y = k ln2 + r, |r| <= ln2 / 2): m = 2^k expm1(r) +
  /// (2^k - 1), one FMA that is exact for k = 0 (full relative accuracy near
  /// x = 0) and loses nothing where k < 0 (there |m| > 0.29). The reduction
  /// works on s = r / 2 = -|x| - k ln2 / 2, which folds the factor -2 of y
  /// into constants (every value is bitwise the r-form's scaled by a power of
  /// two), and expm1(r) = r + r^2 q(r) with q the minimax polynomial of
  /// degree 10 (relative error of expm1 below 1e-18 on |r| <= ln2 / 2; the
  /// Taylor polynomial of degree 11 it replaces: 1.2e-17). At most 2.5 ulp.
  /// The factor 2 of expm1(r) = 2 (s + s^2 Q(s)) is carried by the power of
  /// two instead of an add, and the quotient's sign by the final copysign
  /// instead of a negation (both bitwise the same values as before): 16
  /// FMAs, a multiply, 6 other vector operations and the division (was 25
  /// and the division). With 512-bit vectors every one of them uses the two
  /// FMA ports; on Emerald Rapids the division's throughput (about one per
  /// 16 cycles) binds a layer's tanh loop all the same (measured: 1.01x,
  /// and 1.07x with no division at all), so the gain is for cores with a
  /// faster divider.
  Value tanh(Value x) {
    // -|x|, clamped: past |x| = 20, m rounds to -1 and tanh to +-1
    // (1 - tanh(20) < 2^-56). (LLVM makes -|x| one OR of the sign bit.)
    Value na = arith::MaximumFOp::create(
        b, arith::NegFOp::create(b, math::AbsFOp::create(b, x)), cst(-20.0));
    // k = round(y / ln2) by adding 1.5 * 2^52 + 1024: the sum's low mantissa
    // bits are k + 1024, the biased exponent of 2^(k + 1), built without a
    // rounding or conversion op (and a NaN stays a NaN instead of an
    // out-of-range conversion).
    const double shifter = 6755399441055744.0 + 1024.0; // 1.5 * 2^52 + 1024
    Value shifted = fma(na, cst(2.0 * 1.4426950408889634), cst(shifter));
    Value k = sub(shifted, cst(shifter));
    // Two-part ln2 / 2 (Cody-Waite): k ln2_hi / 2 is exact for |k| <= 58.
    Value s = fma(k, cst(-6.93147180369123816490e-01 / 2), na);
    s = fma(k, cst(-1.90821492927058770002e-10 / 2), s);
    // expm1(r) / 2 = s + s (s Q(s)), Q(s) = 2 q(2s): q's coefficients times
    // powers of two, exact.
    SmallVector<double> coefficients = expm1Minimax();
    for (size_t j = 0; j < coefficients.size(); ++j)
      coefficients[j] = std::ldexp(coefficients[j], static_cast<int>(j) + 1);
    Value halfExpm1r = fma(mul(s, horner(s, coefficients)), s, s);
    // 2^(k + 1): the low 12 bits of k + 1024 (k in [-58, 0]) moved into the
    // exponent field.
    Value bits = arith::ShLIOp::create(
        b, arith::BitcastOp::create(b, intType(), shifted), intCst(52));
    Value twiceScale = arith::BitcastOp::create(b, type, bits);
    Value m = fma(twiceScale, halfExpm1r, fma(twiceScale, cst(0.5), cst(-1.0)));
    // m / (2 + m) = -tanh(|x|); copysign takes only the magnitude.
    Value t = div(m, add(cst(2.0), m));
    return math::CopySignOp::create(b, t, x);
  }

private:
  static SmallVector<double> taylorExp() {
    SmallVector<double> c = {1.0};
    for (int i = 1; i <= 13; ++i)
      c.push_back(c.back() / i);
    return c;
  }

  /// q(r) ~ (expm1(r) - r) / r^2 on |r| <= ln2 / 2 (+2^-40 relative), the
  /// minimax polynomial of degree 10 in the relative error of r + r^2 q(r)
  /// (weighted Remez in 60-digit arithmetic, then rounded to double: at most
  /// 9.2e-19).
  static SmallVector<double> expm1Minimax() {
    return {0.5,
            0.16666666666666677,
            0.04166666666666651,
            0.0083333333333217,
            0.0013888888888962312,
            0.00019841269885939418,
            2.4801587172617272e-05,
            2.7557244403828003e-06,
            2.7557402607942233e-07,
            2.5108967606457213e-08,
            2.0875330793805424e-09};
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
