//===- ApproximateMath.cpp - f32 transcendental functions as polynomials --===//

#include "ntp/Transforms/Passes.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ntp {
#define GEN_PASS_DEF_NTPAPPROXIMATEMATH
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;

namespace {
struct ApproximateMathPass
    : public ntp::impl::NtpApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The upstream patterns match f32 operands only; f64 ops stay as they
    // are (deliberately no f32 expansion of f64 ops).
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          return llvm::is_contained({"math.tanh", "math.exp", "math.log1p",
                                     "math.sin", "math.cos"},
                                    name);
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
