//===- TypedLayerBackward.cpp - Typed layers in the jet chain -------------===//
//
// Part of ntp-generate-backward: how the typed layers (issue 14: adaptive
// slopes, residual adds, Fourier features) enter a jet kernel's plan, and
// their forward and VJP rules in the generated functions. The jet chain
// (GenerateBackward.cpp) calls these for the steps that are no affine or
// activation.
//
//===----------------------------------------------------------------------===//

#include "BackwardPlan.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "llvm/Support/ErrorHandling.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

FailureOr<bool>
ntp::backward::readTypedLayerStep(Operation *op, JetPlan &plan,
                                  const DenseMap<Value, size_t> &writer) {
  auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
  if (auto scale = dyn_cast<ScaleOp>(op)) {
    // Typed layers (issue 14): adaptive slopes.
    int64_t width = neurons(scale.getOutput());
    plan.numParams = std::max<int64_t>(plan.numParams,
                                       scale.getSlopeOffset() +
                                           (scale.getPerNeuron() ? width : 1));
    JetStep step{JetStep::Kind::Scale, width,
                 static_cast<int64_t>(scale.getLiveOrders()),
                 static_cast<int64_t>(scale.getSlopeOffset()), ""};
    step.perNeuron = scale.getPerNeuron();
    plan.steps.push_back(step);
  } else if (auto project = dyn_cast<FourierProjectOp>(op)) {
    // Fourier features: B [m, d] at the offset.
    int64_t in = neurons(project.getInput()),
            out = neurons(project.getOutput());
    plan.numParams = std::max<int64_t>(
        plan.numParams, project.getWeightOffset() + out / 2 * in);
    plan.steps.push_back({JetStep::Kind::FourierProject, out,
                          static_cast<int64_t>(project.getLiveOrders()),
                          static_cast<int64_t>(project.getWeightOffset()), ""});
  } else if (auto add = dyn_cast<AddJetsOp>(op)) {
    // Residual connections: rhs is the previous step's jet, lhs an
    // earlier one's.
    auto lhs = writer.find(add.getLhs());
    auto rhs = writer.find(add.getRhs());
    if (lhs == writer.end() || rhs == writer.end() ||
        rhs->second + 1 != plan.steps.size() || lhs->second >= rhs->second)
      return add.emitOpError("must add an earlier step's jet to the "
                             "previous step's");
    JetStep step{JetStep::Kind::Add, neurons(add.getOutput()),
                 static_cast<int64_t>(add.getLiveOrders()), 0, ""};
    step.skip = lhs->second;
    plan.steps.push_back(step);
  } else {
    return false;
  }
  return true;
}

void ntp::backward::emitTypedLayerForward(OpBuilder &b, Location loc,
                                          const JetStep &s,
                                          ArrayRef<Value> jets, size_t i,
                                          Value params) {
  switch (s.kind) {
  case JetStep::Kind::Scale:
    ScaleOp::create(b, loc, jets[i - 1], params, s.weightOffset, jets[i],
                    s.liveOrders, s.perNeuron);
    break;
  case JetStep::Kind::Add:
    AddJetsOp::create(b, loc, jets[s.skip], jets[i - 1], jets[i], s.liveOrders);
    break;
  case JetStep::Kind::FourierProject:
    FourierProjectOp::create(b, loc, jets[i - 1], params, s.weightOffset,
                             jets[i], s.liveOrders);
    break;
  case JetStep::Kind::Seed:
  case JetStep::Kind::Affine:
  case JetStep::Kind::Activate:
  case JetStep::Kind::Gate:
    llvm_unreachable("not a typed layer");
  }
}

void ntp::backward::emitTypedLayerVjp(OpBuilder &b, Location loc,
                                      const JetStep &s, Value input,
                                      Value params, Value bar, Value lanes,
                                      Value inBar) {
  switch (s.kind) {
  case JetStep::Kind::FourierProject:
    FourierProjectVjpOp::create(b, loc, input, params, s.weightOffset, bar,
                                lanes, inBar, s.liveOrders);
    break;
  case JetStep::Kind::Scale:
    ScaleVjpOp::create(b, loc, input, params, s.weightOffset, bar, lanes, inBar,
                       s.liveOrders, s.perNeuron);
    break;
  case JetStep::Kind::Add:
  case JetStep::Kind::Seed:
  case JetStep::Kind::Affine:
  case JetStep::Kind::Activate:
  case JetStep::Kind::Gate:
    llvm_unreachable("not a typed layer with a VJP rule");
  }
}
