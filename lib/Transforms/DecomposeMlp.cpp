//===- DecomposeMlp.cpp - ntp.mlp -> per-layer jet ops --------------------===//
//
// Turns the network description into the kernel function: a loop over tiles
// of samples whose body is one seed, one affine + activate per hidden layer,
// a final affine and one store. This is where the structural zeros of the
// input jet (orders >= 2) are tracked, as `live_orders` on every op.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Transforms/Passes.h"
#include "ntp/artifact.hpp"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace ntp {
#define GEN_PASS_DEF_NTPDECOMPOSEMLP
#include "ntp/Transforms/Passes.h.inc"
} // namespace ntp

using namespace mlir;
using namespace ntp;

namespace {

/// Builds `@<name>_forward_tiles` for one ntp.mlp.
class KernelBuilder {
public:
  KernelBuilder(MlpOp mlp, int64_t tileSize) : mlp(mlp), tileSize(tileSize) {}

  func::FuncOp build(OpBuilder &b) {
    Location loc = mlp.getLoc();
    Type element = mlp.getElementType();
    auto flat = MemRefType::get({ShapedType::kDynamic}, element);
    auto index = b.getIndexType();
    auto type =
        b.getFunctionType({flat, flat, flat, flat, index, index, index}, {});
    auto func = func::FuncOp::create(
        b, loc, (mlp.getSymName() + "_forward_tiles").str(), type);
    func->setAttr("ntp.kernel", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value x = entry->getArgument(0), v = entry->getArgument(1),
          params = entry->getArgument(2), out = entry->getArgument(3),
          batch = entry->getArgument(4), tileBegin = entry->getArgument(5),
          tileEnd = entry->getArgument(6);

    ArrayRef<int64_t> layers = mlp.getLayers();
    int64_t orders = mlp.getOrder() + 1;
    int64_t maxWidth = *std::max_element(layers.begin(), layers.end());
    // Two ping-pong jet buffers of the widest layer: a layer reads one and
    // writes the other, so the working set stays 2 * orders * width * tile.
    auto bufferType = JetBufferShape::get(orders, maxWidth, tileSize, element);
    Value buffers[2] = {memref::AllocaOp::create(b, loc, bufferType),
                        memref::AllocaOp::create(b, loc, bufferType)};

    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, tileBegin, tileEnd, one);
    b.setInsertionPointToStart(loop.getBody());
    Value tile = loop.getInductionVar();

    int current = 0;
    Value jet = view(b, buffers[current], orders, layers[0]);
    SeedOp::create(b, loc, x, v, jet, batch, tile);
    // The seed is (x, v, 0, ...): orders >= 2 are structural zeros.
    int64_t live = std::min<int64_t>(orders, 2);
    int64_t offset = 0;
    SmallVector<std::string> activations = mlp.getHiddenActivations();
    for (size_t l = 1; l < layers.size(); ++l) {
      current ^= 1;
      Value next = view(b, buffers[current], orders, layers[l]);
      AffineOp::create(b, loc, jet, params, offset, next, live);
      offset += layers[l] * layers[l - 1] + layers[l];
      jet = next;
      if (l + 1 == layers.size())
        break;
      current ^= 1;
      next = view(b, buffers[current], orders, layers[l]);
      ActivateOp::create(b, loc, activations[l - 1], jet, next, live);
      // An activation fills every order from a jet with any nonzero order 1.
      live = orders;
      jet = next;
    }
    StoreJetOp::create(b, loc, jet, out, batch, tile, live);
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);
    return func;
  }

private:
  /// The [orders, width, tile] corner of a ping-pong buffer.
  Value view(OpBuilder &b, Value buffer, int64_t orders, int64_t width) {
    if (JetBufferShape::of(buffer).neurons() == width)
      return buffer;
    SmallVector<int64_t> offsets = {0, 0, 0}, strides = {1, 1, 1};
    SmallVector<int64_t> sizes = JetBufferShape::shape(orders, width, tileSize);
    return memref::SubViewOp::create(b, mlp.getLoc(), buffer, offsets, sizes,
                                     strides);
  }

  MlpOp mlp;
  int64_t tileSize;
};

struct DecomposeMlpPass
    : public ntp::impl::NtpDecomposeMlpBase<DecomposeMlpPass> {
  using NtpDecomposeMlpBase::NtpDecomposeMlpBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<MlpOp> mlps(module.getOps<MlpOp>());
    for (MlpOp mlp : mlps) {
      if (tileSize < 0 || tileSize > artifact::kMaxTile) {
        mlp.emitError("tile size must be in [1, ")
            << artifact::kMaxTile << "] (kMaxTile) or 0 for the default, got "
            << static_cast<int64_t>(tileSize);
        return signalPassFailure();
      }
      // The kernel's facts (the tile among them) come from the one function
      // that decides them; a module compiling to one kernel carries them as
      // #ntp.kernel for the passes after this one and the artifact writers.
      NetworkDescription network;
      network.name = mlp.getSymName().str();
      network.layers.assign(mlp.getLayers().begin(), mlp.getLayers().end());
      network.activation = mlp.getActivationSpec();
      network.order = mlp.getOrder();
      network.dtype = isa<Float64Type>(mlp.getElementType())
                          ? artifact::Dtype::F64
                          : artifact::Dtype::F32;
      KernelTarget target;
      target.tile = tileSize;
      artifact::KernelManifest facts;
      std::string error;
      if (!describeKernel(network, target, facts, error)) {
        mlp.emitError(error);
        return signalPassFailure();
      }
      // The jets of a tile live on the stack: bounded, or the kernel
      // overflows the thread's stack at run time.
      std::optional<int64_t> stack = artifact::jetStackElementsPerTile(
          facts.layers, facts.order, facts.tile);
      if (!stack || *stack > artifact::kMaxTileStackBytes /
                                 artifact::dtypeBytes(facts.dtype)) {
        mlp.emitError("the jets of one tile of ")
            << facts.tile << " samples need more than "
            << artifact::kMaxTileStackBytes
            << " bytes of stack (kMaxTileStackBytes); use a smaller tile, "
               "narrower layers or a lower order";
        return signalPassFailure();
      }
      if (mlps.size() == 1)
        module->setAttr(kKernelAttrName, KernelAttr::get(&getContext(), facts));
      OpBuilder b(mlp);
      KernelBuilder(mlp, facts.tile).build(b);
      mlp.erase();
    }
  }
};

} // namespace
