//===- PartialsPlan.cpp - Reading a partials kernel's rays ----------------===//
//
// Reads the plan of a partials kernel's per-ray forward (PartialsPlan.h): the
// rays' constant directions, steps and inputs, and the combine's weights,
// checking that every ray runs the same layers.
//
//===----------------------------------------------------------------------===//

#include "PartialsPlan.h"

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

FailureOr<PartialsPlan> ntp::backward::readPartialsPlan(func::FuncOp func,
                                                        StringRef name) {
  PartialsPlan plan;
  plan.name = name.str();
  bool combined = false, stored = false;
  // The step of the current ray that last wrote each buffer value (the
  // operands of a residual add), as for a jet kernel.
  DenseMap<Value, size_t> writer;
  WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
    auto neurons = [](Value v) { return JetBufferShape::of(v).neurons(); };
    SmallVector<Value, 3> operands; // the jets a ray's step reads
    auto needRay = [&]() -> LogicalResult {
      if (plan.groups.empty() || combined)
        return op->emitOpError("expected inside a ray of a partials kernel");
      return success();
    };
    if (auto seed = dyn_cast<SeedOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel seeds after its combine");
      JetBufferShape jet = JetBufferShape::of(seed.getJet());
      RayPlan ray;
      plan.element = jet.elementType();
      plan.tile = jet.lanes();
      plan.inputDim = jet.neurons();
      ray.rows = jet.orders();
      if (failed(readConstantBuffer(seed, seed.getDirection(), plan.inputDim,
                                    "direction of a partials kernel's ray",
                                    "ray's direction", ray.direction)))
        return WalkResult::interrupt();
      ray.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
      plan.addGroup(std::move(ray));
      writer.clear();
    } else if (auto affine = dyn_cast<AffineOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.groups.back().steps.push_back(
          {JetStep::Kind::Affine, out,
           static_cast<int64_t>(affine.getLiveOrders()),
           static_cast<int64_t>(affine.getWeightOffset()), ""});
      operands = {affine.getInput()};
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.groups.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
      operands = {activate.getInput()};
    } else if (auto combine = dyn_cast<CombinePartialsOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel combines its rays once");
      combined = true;
      plan.readCombine(combine);
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else if (isa<ScaleOp, FourierProjectOp, AddJetsOp>(op)) {
      // Typed layers (issue 14): the jet chain's rules, on the ray's steps.
      if (failed(needRay()))
        return WalkResult::interrupt();
      if (failed(plan.readTypedLayer(op, writer)))
        return WalkResult::interrupt();
      if (auto add = dyn_cast<AddJetsOp>(op))
        operands = {add.getLhs(), add.getRhs()};
      else
        operands = {op->getOperand(0)};
    } else if (auto gate = dyn_cast<GateJetsOp>(op)) {
      // The modified MLP's gates (a DAG; RayVjpEmission.h's
      // emitGroupReverseDag).
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.groups.back().steps.push_back(
          {JetStep::Kind::Gate, neurons(gate.getOutput()),
           static_cast<int64_t>(gate.getLiveOrders()), 0, ""});
      operands = {gate.getU(), gate.getV(), gate.getZ()};
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a partials kernel function");
    }
    // The steps this one reads, from the buffers' writers.
    if (isa<SeedOp>(op))
      plan.groups.back().inputs.emplace_back();
    else if (!operands.empty()) {
      SmallVector<size_t, 3> inputs;
      for (Value operand : operands) {
        auto it = writer.find(operand);
        if (it == writer.end())
          return op->emitOpError("reads a jet that no earlier op of its ray "
                                 "wrote");
        inputs.push_back(it->second);
      }
      plan.groups.back().inputs.push_back(inputs);
    }
    Value written = writtenJet(op);
    if (written && !plan.groups.empty() && !combined)
      writer[written] = plan.groups.back().steps.size() - 1;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.groups.empty() || !combined || !stored)
    return func.emitError("a partials kernel function must propagate rays, "
                          "then combine and store them");
  // Every ray runs the same layers and ends in the top affine; the rays'
  // coefficients fill the combine's input in order.
  const RayPlan &last = plan.groups.back();
  if (last.firstColumn + last.rows != plan.columns)
    return func.emitError("the rays propagate ")
           << last.firstColumn + last.rows
           << " jet coefficients but the combine reads " << plan.columns;
  for (const RayPlan &ray : plan.groups) {
    bool same = ray.steps.size() >= 2 &&
                ray.inputs.size() == ray.steps.size() &&
                ray.inputs == plan.groups.front().inputs &&
                ray.steps.back().kind == JetStep::Kind::Affine &&
                ray.steps.back().width == plan.outputDim &&
                sameLayers(ray.steps, plan.steps());
    if (!same)
      return func.emitError("the rays of a partials kernel must run the same "
                            "layers, ending in an affine layer of the output "
                            "width");
  }
  return plan;
}
