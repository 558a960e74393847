//===- ExpandActivationJets.cpp - ntp.activate -> exact arithmetic --------===//
//
// ntp-expand-activation-jets (alias: ntp-expand-faa-di-bruno). The algebra
// (which products, which exact coefficients, what is shared and what folds
// to zero) is computed once per op by ntp::expandActivationJet in
// lib/Support/ActivationJet.cpp, in the formulation the `formulation` option
// names (by default the cheaper of Faà di Bruno and the Taylor recurrence);
// this file only turns that DAG into vector arithmetic inside a loop over
// the neurons of the layer.
//
//===----------------------------------------------------------------------===//

#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationJet.h"
#include "ntp/Support/VectorMath.h"
#include "ntp/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace ntp {
#define GEN_PASS_DEF_NTPEXPANDACTIVATIONJETS
#define GEN_PASS_DEF_NTPEXPANDFAADIBRUNO
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

/// Marks the stack buffer of hoisted primitives (hoistPrimitives).
constexpr llvm::StringLiteral kPrimitiveBufferAttrName = "ntp.primitive_buffer";

/// Emits a primitive of y_0 as vector math, from its entry in Primitives.def.
Value emitPrimitive(OpBuilder &b, Location loc, Primitive primitive, Value y) {
  VectorMath m{b, loc, cast<VectorType>(y.getType())};
  return evaluatePrimitive(primitive, y, m);
}

/// Emits the nodes of `graph` that `outputs` need, for `sets` neurons;
/// inputs[s * (inputs.size() / sets) + i] holds the value of Input(i) (y_k,
/// or a cotangent) of neuron s. Each node is emitted for every neuron before
/// the next node, so that the neurons' dependency chains interleave; the
/// results are the outputs of neuron 0, then of neuron 1, ...
/// A primitive p listed in `hoisted` at position j is not evaluated but read
/// from inputs[primitiveBase + j] (see hoistPrimitives).
SmallVector<Value> emitGraph(OpBuilder &b, Location loc,
                             const ActivationRule &rule,
                             const JetExpressionGraph &graph,
                             ArrayRef<int> outputs, ArrayRef<Value> allInputs,
                             int64_t sets = 1, ArrayRef<int> hoisted = {},
                             size_t primitiveBase = 0) {
  auto type = cast<VectorType>(allInputs.front().getType());
  size_t perSet = allInputs.size() / sets;
  const auto &nodes = graph.getNodes();
  // Nodes are created operands-first, so one forward walk is a topological
  // order. Only nodes the outputs reach are emitted.
  std::vector<bool> needed = graph.neededBy(outputs);
  std::vector<SmallVector<Value>> valueSets(sets,
                                            SmallVector<Value>(nodes.size()));
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!needed[i])
      continue;
    const JetExpression &n = nodes[i];
    for (int64_t set = 0; set < sets; ++set) {
      SmallVector<Value> &values = valueSets[set];
      ArrayRef<Value> inputs = allInputs.slice(set * perSet, perSet);
      switch (n.kind) {
      case JetExpression::Kind::Input:
        values[i] = inputs[n.index];
        break;
      case JetExpression::Kind::Primitive:
        if (const int *slot = llvm::find(hoisted, n.index);
            slot != hoisted.end())
          values[i] = inputs[primitiveBase + (slot - hoisted.begin())];
        else
          values[i] =
              emitPrimitive(b, loc, rule.getPrimitives()[n.index], inputs[0]);
        break;
      default:
        values[i] = VectorMath{b, loc, type}.arithmeticNode(n, values);
        break;
      }
    }
  }
  SmallVector<Value> results;
  for (const SmallVector<Value> &values : valueSets)
    for (int out : outputs)
      results.push_back(values[out]);
  return results;
}

/// The primitives (indices into the rule's list) that the nodes `outputs`
/// reach and that are worth hoisting (not y itself or a constant, which
/// cost nothing in place), in increasing order.
SmallVector<int> usedPrimitives(const ActivationRule &rule,
                                const JetExpressionGraph &graph,
                                ArrayRef<int> outputs) {
  const auto &nodes = graph.getNodes();
  std::vector<bool> needed(nodes.size(), false);
  for (int out : outputs)
    needed[out] = true;
  SmallVector<int> used;
  for (int i = static_cast<int>(nodes.size()) - 1; i >= 0; --i) {
    if (!needed[i])
      continue;
    if (nodes[i].kind == JetExpression::Kind::Primitive &&
        !llvm::is_contained(used, nodes[i].index) &&
        !llvm::is_contained(
            {Primitive::Identity, Primitive::GeluC1, Primitive::GeluC2},
            rule.getPrimitives()[nodes[i].index]))
      used.push_back(nodes[i].index);
    for (int operand : {nodes[i].lhs, nodes[i].rhs, nodes[i].acc})
      if (operand >= 0)
        needed[operand] = true;
  }
  llvm::sort(used);
  return used;
}

/// With hoist-primitives, the primitives of a layer (tanh(y_0), ...) are
/// evaluated for all its neurons in a loop of their own, into a stack
/// buffer laid out like a jet (one "order" per primitive), before the loop
/// of the jets reads them: a primitive is a long dependency chain (f64 tanh:
/// about 20 operations) at the head of each neuron's recurrence, which the
/// out-of-order window cannot overlap with the previous neuron's once a
/// neuron takes 100+ instructions, while 24 independent evaluations in one
/// loop pipeline. Measured (Zen 4, f64, 1-24-24-24-1, order 9): a free
/// tanh would save a fifth of the forward, where its operations are ~5% of
/// it. The values are the same operations on the same inputs, so the jets
/// are bitwise those computed in place. Returns the buffer, [p][neuron], or
/// null outside a function.
Value hoistPrimitives(ConversionPatternRewriter &rewriter, Location loc,
                      Operation *op, Value input, const ActivationRule &rule,
                      ArrayRef<int> primitives) {
  JetBufferShape jet = JetBufferShape::of(input);
  MemRefType type =
      JetBufferShape::get(static_cast<int64_t>(primitives.size()),
                          jet.neurons(), jet.lanes(), jet.elementType());
  // One buffer per type and function, shared by its activations (each
  // fills and reads its own before the next one runs).
  auto function = op->getParentOfType<FunctionOpInterface>();
  if (!function)
    return {};
  Value scratch;
  Block &entry = function->getRegion(0).front();
  for (Operation &candidate : entry)
    if (auto alloca = dyn_cast<memref::AllocaOp>(candidate))
      if (alloca->hasAttr(kPrimitiveBufferAttrName) && alloca.getType() == type)
        scratch = alloca;
  if (!scratch) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&entry);
    auto alloca = memref::AllocaOp::create(rewriter, loc, type);
    alloca->setAttr(kPrimitiveBufferAttrName, rewriter.getUnitAttr());
    scratch = alloca;
  }
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  auto loop = scf::ForOp::create(
      rewriter, loc, zero,
      arith::ConstantIndexOp::create(rewriter, loc, jet.neurons()),
      arith::ConstantIndexOp::create(rewriter, loc, 1));
  loop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(loop.getBody()->getTerminator());
  Value neuron = loop.getInductionVar();
  Value y = vector::LoadOp::create(rewriter, loc, jet.laneVectorType(), input,
                                   JetBufferShape::indices(zero, neuron, zero));
  for (auto [slot, p] : llvm::enumerate(primitives))
    vector::StoreOp::create(
        rewriter, loc, emitPrimitive(rewriter, loc, rule.getPrimitives()[p], y),
        scratch,
        JetBufferShape::indices(
            arith::ConstantIndexOp::create(rewriter, loc, slot), neuron, zero));
  return scratch;
}

/// The primitives of `graph` that `outputs` use, hoisted out of the neuron
/// loop of `op` (hoistPrimitives) with their buffer appended to `loads`;
/// empty where nothing is hoisted. Shared by the forward and the VJP.
SmallVector<int>
hoistUsedPrimitives(ConversionPatternRewriter &rewriter, Operation *op,
                    Value input, const ActivationRule &rule,
                    const JetExpressionGraph &graph,
                    const std::vector<int> &outputs,
                    SmallVectorImpl<std::pair<Value, int64_t>> &loads) {
  SmallVector<int> hoisted = usedPrimitives(rule, graph, outputs);
  if (hoisted.empty())
    return hoisted;
  Value buffer =
      hoistPrimitives(rewriter, op->getLoc(), op, input, rule, hoisted);
  if (!buffer)
    return {};
  loads.push_back({buffer, static_cast<int64_t>(hoisted.size())});
  return hoisted;
}

/// The primitive that the forward stores unchanged as the activation's
/// order 0 (tanh's tanh(y_0), exp's exp(y_0)), where it is the only one
/// `vjp` evaluates: then the VJP can read it from the output jet, bitwise
/// what it would compute from y_0. Checked on the expansion itself (z_0 is
/// built alike at every order) in both formulations, since the forward's
/// may differ from the VJP's.
std::optional<int> primitiveStoredAsValue(const ActivationRule &rule,
                                          const ActivationJetVjp &vjp) {
  SmallVector<int> used = usedPrimitives(rule, vjp.graph, vjp.inputCotangents);
  if (used.size() != 1)
    return std::nullopt;
  for (JetFormulation formulation :
       {JetFormulation::FaaDiBruno, JetFormulation::Taylor}) {
    ActivationJetExpansion forward =
        expandActivationJet(rule, 0, 1, formulation);
    const JetExpression &z0 = forward.graph.getNodes()[forward.outputs[0]];
    if (z0.kind != JetExpression::Kind::Primitive || z0.index != used[0])
      return std::nullopt;
  }
  return used[0];
}

using NeuronBody = function_ref<SmallVector<Value>(
    OpBuilder &, ArrayRef<Value> loaded, int64_t neurons)>;

/// The memref type an outlined expansion takes each buffer as: any sizes and
/// strides with contiguous lanes, so that every layer's buffers (subviews of
/// different widths, the primitive scratch buffer) share one function.
MemRefType outlinedBufferType(MemRefType type) {
  int64_t dynamic = ShapedType::kDynamic;
  SmallVector<int64_t> shape(type.getRank(), dynamic),
      strides(type.getRank(), dynamic);
  strides.back() = 1;
  return MemRefType::get(
      shape, type.getElementType(),
      StridedLayoutAttr::get(type.getContext(), dynamic, strides));
}

/// Loads `loads` (buffer, number of orders) of the `step` neurons from
/// `first`, calls `body` on them (the loads of neuron 0, then of neuron 1,
/// ...) and stores its results (per neuron, in the same order) into the
/// first `storeOrders` orders of `storeBuffer`.
void emitNeurons(OpBuilder &b, Location loc, VectorType vectorType,
                 ArrayRef<std::pair<Value, int64_t>> loads, Value storeBuffer,
                 int64_t storeOrders, Value first, int64_t step,
                 NeuronBody body) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  // Indices of every order loaded or stored (a buffer of hoisted
  // primitives may hold more rows than the jet has orders: gelu_tanh's 4).
  int64_t rows = storeOrders;
  for (auto [buffer, count] : loads)
    rows = std::max(rows, count);
  SmallVector<Value> orderIndex;
  for (int64_t k = 0; k < rows; ++k)
    orderIndex.push_back(arith::ConstantIndexOp::create(b, loc, k));
  SmallVector<Value> neuron;
  for (int64_t n = 0; n < step; ++n)
    neuron.push_back(n == 0 ? first
                            : Value(arith::AddIOp::create(
                                  b, loc, first,
                                  arith::ConstantIndexOp::create(b, loc, n))));
  SmallVector<Value> loaded;
  for (int64_t n = 0; n < step; ++n)
    for (auto [buffer, count] : loads)
      for (int64_t k = 0; k < count; ++k)
        loaded.push_back(vector::LoadOp::create(
            b, loc, vectorType, buffer,
            JetBufferShape::indices(orderIndex[k], neuron[n], zero)));
  SmallVector<Value> results = body(b, loaded, step);
  size_t perNeuron = results.size() / step;
  for (int64_t n = 0; n < step; ++n)
    for (int64_t k = 0; k < storeOrders; ++k)
      vector::StoreOp::create(
          b, loc, results[n * perNeuron + k], storeBuffer,
          JetBufferShape::indices(orderIndex[k], neuron[n], zero));
}

/// The loops over the neurons of a layer: `interleave` neurons at a time
/// through emitNeurons, then the neurons past the last multiple of
/// `interleave` one at a time.
///
/// With `outlinedName`, the loads, the arithmetic and the stores of one
/// iteration become a private function of that name (one per activation,
/// order, live orders, vector type and neurons per call, shared by every
/// layer and every generated kernel of the module) that LLVM must not
/// inline: a network's identical layers and its forward, backward and
/// forward-save kernels then share one copy of the expansion, which divides
/// code size and machine-code generation time. The function takes the
/// buffers and the first neuron, not the jets' vectors: passing hundreds of
/// bytes of vectors by value and returning as many through memory cost
/// stack copies on every call.
void emitNeuronLoop(ConversionPatternRewriter &rewriter, Location loc,
                    MemRefType type, ArrayRef<std::pair<Value, int64_t>> loads,
                    std::pair<Value, int64_t> store, int64_t interleave,
                    function_ref<std::string(int64_t neurons)> outlinedName,
                    NeuronBody body) {
  JetBufferShape jet = JetBufferShape::of(type);
  VectorType vectorType = jet.laneVectorType();
  int64_t neurons = jet.neurons();
  interleave = std::max<int64_t>(1, std::min(interleave, neurons));
  int64_t blocked = neurons / interleave * interleave;
  // The outlined function's arguments: the buffers, each cast once.
  SmallVector<Value> buffers;
  if (outlinedName) {
    for (auto [buffer, count] : loads)
      buffers.push_back(memref::CastOp::create(
          rewriter, loc, outlinedBufferType(cast<MemRefType>(buffer.getType())),
          buffer));
    buffers.push_back(memref::CastOp::create(
        rewriter, loc,
        outlinedBufferType(cast<MemRefType>(store.first.getType())),
        store.first));
  }
  auto outlined = [&](int64_t step) {
    std::string name = outlinedName(step);
    auto module = rewriter.getInsertionBlock()
                      ->getParentOp()
                      ->getParentOfType<ModuleOp>();
    if (auto func = module.lookupSymbol<func::FuncOp>(name))
      return func;
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToEnd(module.getBody());
    SmallVector<Type> argTypes;
    for (Value buffer : buffers)
      argTypes.push_back(buffer.getType());
    argTypes.push_back(rewriter.getIndexType());
    auto func = func::FuncOp::create(rewriter, loc, name,
                                     rewriter.getFunctionType(argTypes, {}));
    func.setPrivate();
    func->setAttr("passthrough",
                  rewriter.getArrayAttr({rewriter.getStringAttr("noinline")}));
    Block *entry = func.addEntryBlock();
    rewriter.setInsertionPointToStart(entry);
    SmallVector<std::pair<Value, int64_t>> args;
    for (auto [i, load] : llvm::enumerate(loads))
      args.push_back({entry->getArgument(i), load.second});
    emitNeurons(rewriter, loc, vectorType, args,
                entry->getArgument(loads.size()), store.second,
                entry->getArguments().back(), step, body);
    func::ReturnOp::create(rewriter, loc);
    return func;
  };
  auto emitLoop = [&](int64_t begin, int64_t end, int64_t step) {
    auto loop = scf::ForOp::create(
        rewriter, loc, arith::ConstantIndexOp::create(rewriter, loc, begin),
        arith::ConstantIndexOp::create(rewriter, loc, end),
        arith::ConstantIndexOp::create(rewriter, loc, step));
    loop->setAttr(kNeuronLoopAttrName, rewriter.getUnitAttr());
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(loop.getBody()->getTerminator());
    if (outlinedName) {
      SmallVector<Value> args(buffers);
      args.push_back(loop.getInductionVar());
      func::CallOp::create(rewriter, loc, outlined(step), args);
      return;
    }
    emitNeurons(rewriter, loc, vectorType, loads, store.first, store.second,
                loop.getInductionVar(), step, body);
  };
  emitLoop(0, blocked, interleave);
  if (blocked < neurons)
    emitLoop(blocked, neurons, 1);
}

/// "tanh_o9_l2_v16f32": what an outlined expansion is specialised on. The
/// Taylor formulation adds "_taylor", so modules expanded with different
/// choices never share a symbol for different arithmetic.
std::string expansionName(StringRef kind, StringRef activation, int64_t order,
                          int64_t live, MemRefType type,
                          JetFormulation formulation, int64_t interleave = 1,
                          bool hoisted = false) {
  std::string name;
  llvm::raw_string_ostream os(name);
  os << "__ntp_" << kind << "_" << activation << "_o" << order << "_l" << live
     << "_v" << JetBufferShape::of(type).lanes() << type.getElementType();
  if (formulation == JetFormulation::Taylor)
    os << "_taylor";
  if (interleave > 1)
    os << "_x" << interleave;
  // The primitives come in as arguments (hoist-primitives).
  if (hoisted)
    os << "_p";
  return name;
}

/// What the forward and the VJP expansion patterns share: the options, and
/// the checks on the op's activation and order.
template <class OpTy>
struct ExpansionPattern : public OpConversionPattern<OpTy> {
  ExpansionPattern(MLIRContext *context, bool outline,
                   JetFormulation formulation, int64_t interleave,
                   MachineVectorFacts machine, bool hoist)
      : OpConversionPattern<OpTy>(context), outline(outline),
        formulation(formulation), interleave(interleave), machine(machine),
        hoist(hoist) {}

  /// Neurons per iteration for jets of `type`: as given, or (0) chosen from
  /// the machine's facts.
  int64_t interleaveFor(MemRefType type) const {
    if (interleave != 0)
      return interleave;
    return chooseInterleave(machine, JetBufferShape::of(type).lanes(),
                            type.getElementType().getIntOrFloatBitWidth(),
                            JetBufferShape::of(type).orders());
  }

  /// The op's rule, or null after reporting why it cannot be expanded.
  const ActivationRule *checkedRule(OpTy op,
                                    ConversionPatternRewriter &rewriter) const {
    const ActivationRule *rule = lookupActivation(op.getActivation().str());
    if (!rule) {
      (void)rewriter.notifyMatchFailure(op, "unknown activation");
      return nullptr;
    }
    int64_t order = JetBufferShape::of(op.getInput()).derivativeOrder();
    if (order > kMaxOrder) {
      op.emitOpError("derivative order ")
          << order << " exceeds the maximum " << kMaxOrder;
      return nullptr;
    }
    if (formulation == JetFormulation::FaaDiBruno &&
        order > rule->maxFaaDiBrunoOrder()) {
      op.emitOpError("derivative order ")
          << order << " exceeds the maximum " << rule->maxFaaDiBrunoOrder()
          << " of formulation faa-di-bruno for '" << rule->getName()
          << "' (its coefficients are no longer exact in double); use "
             "formulation=taylor or auto";
      return nullptr;
    }
    return rule;
  }

  bool outline;
  JetFormulation formulation;
  int64_t interleave;
  MachineVectorFacts machine;
  bool hoist;
};

struct ExpandActivation : public ExpansionPattern<ActivateOp> {
  using ExpansionPattern::ExpansionPattern;

  LogicalResult
  matchAndRewrite(ActivateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = checkedRule(op, rewriter);
    if (!rule)
      return failure();
    auto inType = cast<MemRefType>(op.getInput().getType());
    int64_t orders = JetBufferShape::of(inType).orders();
    ActivationJetExpansion expansion =
        expandActivationJet(*rule, orders - 1, op.getLiveOrders(), formulation);
    int64_t live = op.getLiveOrders();
    SmallVector<int> hoisted;
    SmallVector<std::pair<Value, int64_t>> loads = {{adaptor.getInput(), live}};
    if (hoist)
      hoisted = hoistUsedPrimitives(rewriter, op, adaptor.getInput(), *rule,
                                    expansion.graph, expansion.outputs, loads);

    auto name = [&](int64_t sets) {
      return expansionName("jet", rule->getName(), orders - 1, live, inType,
                           expansion.formulation, sets, !hoisted.empty());
    };
    emitNeuronLoop(rewriter, op.getLoc(), inType, loads,
                   {adaptor.getOutput(), orders}, interleaveFor(inType),
                   outline ? function_ref<std::string(int64_t)>(name) : nullptr,
                   [&](OpBuilder &b, ArrayRef<Value> y, int64_t sets) {
                     return emitGraph(b, op.getLoc(), *rule, expansion.graph,
                                      expansion.outputs, y, sets, hoisted,
                                      live);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// ntp.activate_vjp: the reverse-mode DAG, emitted the same way.
struct ExpandActivationVjp : public ExpansionPattern<ActivateVjpOp> {
  using ExpansionPattern::ExpansionPattern;

  LogicalResult
  matchAndRewrite(ActivateVjpOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    const ActivationRule *rule = checkedRule(op, rewriter);
    if (!rule)
      return failure();
    auto inType = cast<MemRefType>(op.getInput().getType());
    int64_t orders = JetBufferShape::of(inType).orders();
    int64_t live = op.getLiveOrders();
    ActivationJetVjp vjp =
        differentiateActivationJet(*rule, orders - 1, live, formulation);
    SmallVector<int> hoisted;
    SmallVector<std::pair<Value, int64_t>> loads = {
        {adaptor.getInput(), live}, {adaptor.getOutCotangent(), orders}};
    std::optional<int> stored;
    if (op.getOutput())
      stored = primitiveStoredAsValue(*rule, vjp);
    if (stored) {
      // Read like a hoisted primitive, from the output's order 0.
      hoisted = {*stored};
      loads.push_back({adaptor.getOutput(), 1});
    } else if (hoist) {
      hoisted = hoistUsedPrimitives(rewriter, op, adaptor.getInput(), *rule,
                                    vjp.graph, vjp.inputCotangents, loads);
    }
    auto name = [&](int64_t sets) {
      return expansionName("jet_vjp", rule->getName(), orders - 1, live, inType,
                           vjp.formulation, sets, !hoisted.empty());
    };
    emitNeuronLoop(rewriter, op.getLoc(), inType, loads,
                   {adaptor.getInCotangent(), live}, interleaveFor(inType),
                   outline ? function_ref<std::string(int64_t)>(name) : nullptr,
                   [&](OpBuilder &b, ArrayRef<Value> loaded, int64_t sets) {
                     // Graph inputs per neuron: y_k at k < live, zbar_m at
                     // orders + m.
                     size_t perNeuron = loaded.size() / sets;
                     SmallVector<Value> inputs;
                     for (int64_t set = 0; set < sets; ++set) {
                       ArrayRef<Value> own =
                           loaded.slice(set * perNeuron, perNeuron);
                       SmallVector<Value> neuron(2 * orders, own.front());
                       for (int64_t k = 0; k < live; ++k)
                         neuron[k] = own[k];
                       for (int64_t m = 0; m < orders; ++m)
                         neuron[orders + m] = own[live + m];
                       // Hoisted primitives after them.
                       for (size_t j = 0; j < hoisted.size(); ++j)
                         neuron.push_back(own[live + orders + j]);
                       inputs.append(neuron);
                     }
                     return emitGraph(b, op.getLoc(), *rule, vjp.graph,
                                      vjp.inputCotangents, inputs, sets,
                                      hoisted, 2 * orders);
                   });
    rewriter.eraseOp(op);
    return success();
  }
};

/// The pass, on the base TableGen generates for its name or for its alias.
template <class Base> struct ExpandActivationJetsImpl : public Base {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &this->getContext();
    ConversionTarget target(*context);
    target.addIllegalOp<ActivateOp, ActivateVjpOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(context);
    if (this->interleave < 0) {
      this->getOperation()->emitError("interleave must not be negative, got ")
          << static_cast<int64_t>(this->interleave);
      return this->signalPassFailure();
    }
    MachineVectorFacts machine;
    SmallVector<int64_t> facts(this->machineFacts.begin(),
                               this->machineFacts.end());
    if (!parseMachineFacts(facts.data(), facts.size(), machine)) {
      this->getOperation()->emitError(kMachineFactsUsage)
          << ", got " << this->machineFacts.size();
      return this->signalPassFailure();
    }
    populateExpandActivationJetsPatterns(patterns, this->outline,
                                         this->formulation, this->interleave,
                                         machine, this->hoistPrimitives);
    if (failed(applyPartialConversion(this->getOperation(), target,
                                      std::move(patterns))))
      this->signalPassFailure();
  }
};

struct ExpandActivationJetsPass
    : public ExpandActivationJetsImpl<
          ntp::impl::NtpExpandActivationJetsBase<ExpandActivationJetsPass>> {
  using ExpandActivationJetsImpl::ExpandActivationJetsImpl;
};

/// ntp-expand-faa-di-bruno: the same pass under its former name.
struct ExpandFaaDiBrunoAliasPass
    : public ExpandActivationJetsImpl<
          ntp::impl::NtpExpandFaaDiBrunoBase<ExpandFaaDiBrunoAliasPass>> {
  using ExpandActivationJetsImpl::ExpandActivationJetsImpl;
};

} // namespace

void ntp::populateExpandActivationJetsPatterns(
    RewritePatternSet &patterns, bool outline, JetFormulation formulation,
    int64_t interleave, MachineVectorFacts machine, bool hoistPrimitives) {
  patterns.add<ExpandActivation, ExpandActivationVjp>(
      patterns.getContext(), outline, formulation, interleave, machine,
      hoistPrimitives);
}
