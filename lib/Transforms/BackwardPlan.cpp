//===- BackwardPlan.cpp - What the reverse-mode generators share ----------===//
//
// The helpers of BackwardPlan.h that the jet and partials reverse modes both
// use: the generated functions' signature, the lane-wise gradient
// accumulators, the workspace slices and the kernel facts.
//
//===----------------------------------------------------------------------===//

#include "BackwardPlan.h"

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>

using namespace mlir;
using namespace ntp;
using namespace ntp::backward;

BackwardArguments ntp::backward::readArguments(Block *entry,
                                               BackwardMode mode) {
  auto args = entry->getArguments();
  BackwardArguments named;
  named.x = args[0];
  named.v = args[1];
  named.params = args[2];
  named.outOrCotangent = args[3];
  if (mode != BackwardMode::ForwardSave) {
    named.grad = args[4];
    named.xGrad = args[5];
  }
  if (mode != BackwardMode::Recompute)
    named.workspace = args[mode == BackwardMode::ForwardSave ? 4 : 6];
  named.batch = args[args.size() - 3];
  named.tileBegin = args[args.size() - 2];
  named.tileEnd = args[args.size() - 1];
  return named;
}

Value ntp::backward::beginTileLoop(OpBuilder &b, Location loc,
                                   const BackwardArguments &args,
                                   BackwardMode mode, GradLayout grads,
                                   Type element, int64_t numParams,
                                   int64_t tile, Value &lanes) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  if (mode != BackwardMode::ForwardSave && !grads.perSample)
    lanes =
        createZeroedLanes(b, loc, grads.lanesType(numParams, tile, element));
  auto loop = scf::ForOp::create(b, loc, args.tileBegin, args.tileEnd, one);
  b.setInsertionPointToStart(loop.getBody());
  return loop.getInductionVar();
}

void ntp::backward::endFunction(OpBuilder &b, Location loc, Block *entry,
                                const BackwardArguments &args,
                                BackwardMode mode, GradLayout grads,
                                Value lanes) {
  b.setInsertionPointToEnd(entry);
  if (mode != BackwardMode::ForwardSave && !grads.perSample) {
    ReduceLanesOp::create(b, loc, lanes, args.grad);
    memref::DeallocOp::create(b, loc, lanes);
  }
  func::ReturnOp::create(b, loc);
}

Value ntp::backward::writtenJet(Operation *op) {
  return TypeSwitch<Operation *, Value>(op)
      .Case([](SeedOp o) { return o.getJet(); })
      .Case([](AffineOp o) { return o.getOutput(); })
      .Case([](ActivateOp o) { return o.getOutput(); })
      .Case([](ScaleOp o) { return o.getOutput(); })
      .Case([](AddJetsOp o) { return o.getOutput(); })
      .Case([](FourierProjectOp o) { return o.getOutput(); })
      .Case([](GateJetsOp o) { return o.getOutput(); })
      .Default([](Operation *) { return Value(); });
}

func::FuncOp ntp::backward::createFunction(OpBuilder &b, Location loc,
                                           Type element,
                                           const std::string &name,
                                           BackwardMode mode,
                                           int64_t workspacePerTile) {
  using Mode = BackwardMode;
  auto flat = MemRefType::get({ShapedType::kDynamic}, element);
  Type index = b.getIndexType();
  SmallVector<Type> inputs = {flat, flat, flat, flat};
  if (mode != Mode::ForwardSave)
    inputs.append({flat, flat});
  if (mode != Mode::Recompute)
    inputs.push_back(flat);
  inputs.append({index, index, index});
  const char *suffix = mode == Mode::Recompute     ? "_backward_tiles"
                       : mode == Mode::ForwardSave ? "_forward_save_tiles"
                                                   : "_backward_saved_tiles";
  auto func = func::FuncOp::create(b, loc, name + suffix,
                                   b.getFunctionType(inputs, {}));
  func->setAttr("ntp.kernel", b.getUnitAttr());
  func->setAttr("ntp.workspace_per_tile",
                b.getI64IntegerAttr(workspacePerTile));
  return func;
}

TileFunction ntp::backward::createTileFunction(OpBuilder &b, Location loc,
                                               Type element,
                                               const std::string &name,
                                               unsigned leading,
                                               ArrayRef<Type> extra) {
  auto flat = MemRefType::get({ShapedType::kDynamic}, element);
  SmallVector<Type> inputs(leading, flat);
  inputs.append(extra.begin(), extra.end());
  inputs.append({flat, b.getIndexType(), b.getIndexType(), b.getIndexType()});
  // __ntp_: internal linkage in the shared object (CpuTarget.cpp).
  auto func = func::FuncOp::create(b, loc, "__ntp_" + name,
                                   b.getFunctionType(inputs, {}));
  func.setPrivate();
  func->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  auto arguments = entry->getArguments();
  size_t n = arguments.size();
  return {func,
          entry,
          arguments[n - 4],
          arguments[n - 3],
          arguments[n - 2],
          arguments[n - 1]};
}

MemRefType ntp::backward::dynamicOffsetJetType(int64_t orders, int64_t width,
                                               int64_t tile, Type element) {
  return JetBufferShape::get(orders, width, tile, element,
                             StridedLayoutAttr::get(element.getContext(),
                                                    ShapedType::kDynamic,
                                                    {width * tile, tile, 1}));
}

int64_t GradLayout::lanes(int64_t tile, Type element) const {
  int64_t bits = element.getIntOrFloatBitWidth();
  if (laneBits < bits || tile < 1)
    return tile;
  int64_t lanes = std::min(laneBits / bits, tile);
  while (tile % lanes != 0)
    --lanes;
  return lanes;
}

MemRefType GradLayout::lanesType(int64_t numParams, int64_t tile,
                                 Type element) const {
  return MemRefType::get({numParams, lanes(tile, element)}, element);
}

Value ntp::backward::createZeroedLanes(OpBuilder &b, Location loc,
                                       MemRefType type) {
  Type element = type.getElementType();
  // On a cache line, as the stack jets (CpuTarget.cpp): malloc returns
  // 16-byte alignment.
  Value lanes = memref::AllocOp::create(
      b, loc, type, b.getI64IntegerAttr(JetBufferShape::kAlignmentBytes));
  Value zeros = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(VectorType::get({type.getDimSize(1)}, element),
                             b.getFloatAttr(element, 0)));
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  auto clear = scf::ForOp::create(
      b, loc, zero, arith::ConstantIndexOp::create(b, loc, type.getDimSize(0)),
      arith::ConstantIndexOp::create(b, loc, 1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(clear.getBody()->getTerminator());
  vector::StoreOp::create(b, loc, zeros, lanes,
                          ValueRange{clear.getInductionVar(), zero});
  return lanes;
}

Value ntp::backward::createSampleColumn(OpBuilder &b, Location loc,
                                        Type element, int64_t numParams,
                                        Value grad, Value tile, Value batch) {
  MemRefType type = MemRefType::get(
      {numParams}, element,
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                             {ShapedType::kDynamic}));
  Value column = memref::ReinterpretCastOp::create(
      b, loc, type, grad, OpFoldResult(tile),
      ArrayRef<OpFoldResult>{b.getIndexAttr(numParams)},
      ArrayRef<OpFoldResult>{OpFoldResult(batch)});
  Value zero = arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0));
  auto clear =
      scf::ForOp::create(b, loc, arith::ConstantIndexOp::create(b, loc, 0),
                         arith::ConstantIndexOp::create(b, loc, numParams),
                         arith::ConstantIndexOp::create(b, loc, 1));
  clear->setAttr(kNeuronLoopAttrName, b.getUnitAttr());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(clear.getBody()->getTerminator());
  memref::StoreOp::create(b, loc, zero, column,
                          ValueRange{clear.getInductionVar()});
  return column;
}

Value ntp::backward::sliceWorkspace(OpBuilder &b, Location loc, Value workspace,
                                    Value tile, int64_t workspacePerTile,
                                    int64_t offset, int64_t orders,
                                    int64_t width, int64_t tileSize,
                                    Type element) {
  Value first = workspacePerTile == 1
                    ? tile
                    : arith::MulIOp::create(b, loc, tile,
                                            arith::ConstantIndexOp::create(
                                                b, loc, workspacePerTile));
  Value start = arith::AddIOp::create(
      b, loc, first, arith::ConstantIndexOp::create(b, loc, offset));
  MemRefType type = dynamicOffsetJetType(orders, width, tileSize, element);
  return memref::ReinterpretCastOp::create(
      b, loc, type, workspace, OpFoldResult(start),
      ArrayRef<OpFoldResult>{b.getIndexAttr(orders), b.getIndexAttr(width),
                             b.getIndexAttr(tileSize)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(width * tileSize),
                             b.getIndexAttr(tileSize), b.getIndexAttr(1)});
}

LogicalResult ntp::backward::readConstantBuffer(Operation *seed, Value buffer,
                                                int64_t count, StringRef what,
                                                StringRef owned,
                                                SmallVector<double> &values) {
  if (auto cast = buffer.getDefiningOp<memref::CastOp>())
    buffer = cast.getSource();
  auto alloca = buffer.getDefiningOp<memref::AllocaOp>();
  if (!alloca)
    return seed->emitOpError("the ") << what << " must be a constant buffer";
  values.assign(count, 0.0);
  SmallVector<bool> written(count, false);
  for (Operation *user : alloca->getUsers()) {
    auto store = dyn_cast<memref::StoreOp>(user);
    if (!store)
      continue;
    auto value = store.getValueToStore().getDefiningOp<arith::ConstantOp>();
    auto index = store.getIndices().front().getDefiningOp<arith::ConstantOp>();
    auto valueAttr = value ? dyn_cast<FloatAttr>(value.getValue()) : nullptr;
    auto indexAttr = index ? dyn_cast<IntegerAttr>(index.getValue()) : nullptr;
    if (!valueAttr || !indexAttr || indexAttr.getInt() < 0 ||
        indexAttr.getInt() >= count)
      return store.emitOpError("a ")
             << owned << " must be stored as constants at constant indices";
    values[indexAttr.getInt()] = valueAttr.getValueAsDouble();
    written[indexAttr.getInt()] = true;
  }
  if (llvm::is_contained(written, false))
    return seed->emitOpError("not every entry of the ")
           << owned << " is stored as a constant";
  return success();
}

LogicalResult ntp::backward::stampBackwardFacts(ModuleOp module,
                                                func::FuncOp forward,
                                                StringRef name,
                                                int64_t workspacePerTile,
                                                int64_t partialsSavedRows) {
  forward->setAttr("ntp.workspace_per_tile",
                   IntegerAttr::get(IntegerType::get(module.getContext(), 64),
                                    workspacePerTile));
  KernelAttr kernel = getKernelAttr(module);
  if (!kernel || kernel.getName() != name)
    return success();
  artifact::KernelManifest facts;
  std::string error;
  KernelTarget target = targetOf(kernel.getManifest());
  target.backward = true;
  target.partialsSavedRows = partialsSavedRows;
  if (!describeKernel(networkOf(kernel.getManifest()), target, facts, error))
    return forward.emitError(error);
  if (facts.workspacePerTile != workspacePerTile)
    return forward.emitError("the forward's saved jets need ")
           << workspacePerTile << " elements per tile, but its "
           << "#ntp.kernel says " << facts.workspacePerTile;
  module->setAttr(kKernelAttrName, KernelAttr::get(module.getContext(), facts));
  return success();
}
