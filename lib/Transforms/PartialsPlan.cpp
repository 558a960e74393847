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
#include "llvm/ADT/TypeSwitch.h"

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
      if (plan.rays.empty() || combined)
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
      ray.orders = jet.orders();
      ray.firstColumn = plan.rays.empty() ? 0
                                          : plan.rays.back().firstColumn +
                                                plan.rays.back().orders;
      if (failed(readConstantBuffer(seed, seed.getDirection(), plan.inputDim,
                                    "direction of a partials kernel's ray",
                                    "ray's direction", ray.direction)))
        return WalkResult::interrupt();
      ray.steps.push_back({JetStep::Kind::Seed, jet.neurons(), 0, 0, ""});
      plan.maxOrders = std::max(plan.maxOrders, ray.orders);
      plan.rays.push_back(std::move(ray));
      writer.clear();
    } else if (auto affine = dyn_cast<AffineOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      int64_t in = neurons(affine.getInput()),
              out = neurons(affine.getOutput());
      plan.numParams = std::max<int64_t>(
          plan.numParams, affine.getWeightOffset() + out * in + out);
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Affine, out,
           static_cast<int64_t>(affine.getLiveOrders()),
           static_cast<int64_t>(affine.getWeightOffset()), ""});
      operands = {affine.getInput()};
    } else if (auto activate = dyn_cast<ActivateOp>(op)) {
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Activate, neurons(activate.getOutput()),
           static_cast<int64_t>(activate.getLiveOrders()), 0,
           activate.getActivation().str()});
      operands = {activate.getInput()};
    } else if (auto combine = dyn_cast<CombinePartialsOp>(op)) {
      if (combined)
        return op->emitOpError("a partials kernel combines its rays once");
      combined = true;
      plan.columns = JetBufferShape::of(combine.getRays()).orders();
      plan.requests = JetBufferShape::of(combine.getOutput()).orders();
      plan.outputDim = neurons(combine.getOutput());
      plan.weights.assign(combine.getWeights().begin(),
                          combine.getWeights().end());
    } else if (auto store = dyn_cast<StoreJetOp>(op)) {
      plan.storedLiveOrders = store.getLiveOrders();
      stored = true;
    } else if (isa<ScaleOp, FourierProjectOp, AddJetsOp>(op)) {
      // Typed layers (issue 14): the jet chain's rules, on the ray's steps.
      if (failed(needRay()))
        return WalkResult::interrupt();
      JetPlan chain;
      chain.steps = std::move(plan.rays.back().steps);
      chain.numParams = plan.numParams;
      FailureOr<bool> layer = readTypedLayerStep(op, chain, writer);
      plan.rays.back().steps = std::move(chain.steps);
      plan.numParams = chain.numParams;
      if (failed(layer))
        return WalkResult::interrupt();
      if (auto add = dyn_cast<AddJetsOp>(op))
        operands = {add.getLhs(), add.getRhs()};
      else
        operands = {op->getOperand(0)};
    } else if (auto gate = dyn_cast<GateJetsOp>(op)) {
      // The modified MLP's gates (a DAG; emitRayReverseDag).
      if (failed(needRay()))
        return WalkResult::interrupt();
      plan.rays.back().steps.push_back(
          {JetStep::Kind::Gate, neurons(gate.getOutput()),
           static_cast<int64_t>(gate.getLiveOrders()), 0, ""});
      operands = {gate.getU(), gate.getV(), gate.getZ()};
    } else if (isa<NtpDialect>(op->getDialect())) {
      return op->emitOpError("unexpected op in a partials kernel function");
    }
    // The steps this one reads, from the buffers' writers.
    if (isa<SeedOp>(op))
      plan.rays.back().inputs.emplace_back();
    else if (!operands.empty()) {
      SmallVector<size_t, 3> inputs;
      for (Value operand : operands) {
        auto it = writer.find(operand);
        if (it == writer.end())
          return op->emitOpError("reads a jet that no earlier op of its ray "
                                 "wrote");
        inputs.push_back(it->second);
      }
      plan.rays.back().inputs.push_back(inputs);
    }
    Value written = TypeSwitch<Operation *, Value>(op)
                        .Case([](SeedOp o) { return o.getJet(); })
                        .Case([](AffineOp o) { return o.getOutput(); })
                        .Case([](ActivateOp o) { return o.getOutput(); })
                        .Case([](ScaleOp o) { return o.getOutput(); })
                        .Case([](AddJetsOp o) { return o.getOutput(); })
                        .Case([](FourierProjectOp o) { return o.getOutput(); })
                        .Case([](GateJetsOp o) { return o.getOutput(); })
                        .Default([](Operation *) { return Value(); });
    if (written && !plan.rays.empty() && !combined)
      writer[written] = plan.rays.back().steps.size() - 1;
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (plan.rays.empty() || !combined || !stored)
    return func.emitError("a partials kernel function must propagate rays, "
                          "then combine and store them");
  // Every ray runs the same layers and ends in the top affine; the rays'
  // coefficients fill the combine's input in order.
  const RayPlan &last = plan.rays.back();
  if (last.firstColumn + last.orders != plan.columns)
    return func.emitError("the rays propagate ")
           << last.firstColumn + last.orders
           << " jet coefficients but the combine reads " << plan.columns;
  for (const RayPlan &ray : plan.rays) {
    const std::vector<JetStep> &first = plan.rays.front().steps;
    bool same = ray.steps.size() == first.size() && ray.steps.size() >= 2 &&
                ray.inputs.size() == ray.steps.size() &&
                ray.steps.back().kind == JetStep::Kind::Affine &&
                ray.steps.back().width == plan.outputDim;
    for (size_t i = 0; same && i < ray.steps.size(); ++i)
      same = ray.steps[i].kind == first[i].kind &&
             ray.steps[i].width == first[i].width &&
             ray.steps[i].weightOffset == first[i].weightOffset &&
             ray.steps[i].activation == first[i].activation &&
             ray.steps[i].perNeuron == first[i].perNeuron &&
             ray.steps[i].skip == first[i].skip &&
             ray.inputs[i] == plan.rays.front().inputs[i];
    if (!same)
      return func.emitError("the rays of a partials kernel must run the same "
                            "layers, ending in an affine layer of the output "
                            "width");
  }
  return plan;
}
