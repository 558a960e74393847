//===- NtpOps.cpp - ntp operations: verifiers -----------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Dialect/Ntp/IR/JetBuffer.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/RayLayout.h"
#include "ntp/Support/ActivationRules.h"
#include "ntp/Support/Partials.h"
#include "ntp/artifact.hpp"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace ntp;

#define GET_OP_CLASSES
#include "ntp/Dialect/Ntp/IR/NtpOps.cpp.inc"

static LogicalResult verifyActivationName(Operation *op, StringRef name) {
  if (lookupActivation(name.str()))
    return success();
  return op->emitOpError("unknown activation '")
         << name << "'; expected one of " << activationNameList();
}

static LogicalResult verifyElementType(Operation *op, Type type) {
  if (isa<Float32Type, Float64Type>(type))
    return success();
  return op->emitOpError("element type must be f32 or f64, got ") << type;
}

//===----------------------------------------------------------------------===//
// MlpOp
//===----------------------------------------------------------------------===//

LogicalResult MlpOp::verify() {
  ArrayRef<int64_t> layers = getLayers();
  if (layers.size() < 2)
    return emitOpError("expects at least two layer widths (input and output), "
                       "got ")
           << layers.size();
  for (auto [i, width] : llvm::enumerate(layers))
    if (width <= 0)
      return emitOpError("layer width at position ")
             << i << " must be positive, got " << width;
  // The sizes the manifest and memory must hold: the parameter count
  // (overflow-checked, the one definition the runtime uses too), each width
  // and the count against their documented maxima (ntp/artifact.hpp).
  std::optional<int64_t> params =
      artifact::countParams({layers.begin(), layers.end()});
  if (!params)
    return emitOpError("parameter count of these layer widths overflows a "
                       "64-bit integer");
  for (auto [i, width] : llvm::enumerate(layers))
    if (width > artifact::kMaxWidth)
      return emitOpError("layer width at position ")
             << i << " must be at most " << artifact::kMaxWidth
             << " (kMaxWidth), got " << width;
  if (*params > artifact::kMaxParams)
    return emitOpError("has ")
           << *params << " parameters, more than the maximum "
           << artifact::kMaxParams << " (kMaxParams)";
  // The attribute is signless: read it as signed so -1 is reported as -1.
  int64_t order = getOrderAttr().getValue().getSExtValue();
  if (order < 0 || order > kMaxOrder)
    return emitOpError("derivative order must be in [0, ")
           << kMaxOrder << "], got " << order;
  if (auto list = dyn_cast<ArrayAttr>(getActivation())) {
    // One name per hidden layer.
    if (list.size() != layers.size() - 2)
      return emitOpError("expects one activation per hidden layer: ")
             << layers.size() - 2 << " hidden layers, " << list.size()
             << " activations";
    for (StringAttr name : list.getAsRange<StringAttr>())
      if (failed(verifyActivationName(*this, name.getValue())))
        return failure();
  } else if (failed(verifyActivationName(
                 *this, cast<StringAttr>(getActivation()).getValue()))) {
    return failure();
  }
  if (failed(verifyElementType(*this, getElementType())) ||
      failed(verifyLayerKinds()))
    return failure();
  return verifyRequest();
}

/// slopes: one name or one per hidden layer, each none, layer or neuron;
/// residual: one flag per hidden layer, on square layers after the first;
/// neither on a partials kernel; the parameter count with the slopes.
LogicalResult MlpOp::verifyLayerKinds() {
  size_t hidden = getLayers().size() - 2;
  if (Attribute slopes = getSlopesAttr()) {
    SmallVector<StringRef> names;
    if (auto list = dyn_cast<ArrayAttr>(slopes)) {
      if (list.size() != hidden)
        return emitOpError("expects one slope kind per hidden layer: ")
               << hidden << " hidden layers, " << list.size() << " slopes";
      for (StringAttr name : list.getAsRange<StringAttr>())
        names.push_back(name.getValue());
    } else {
      names.push_back(cast<StringAttr>(slopes).getValue());
    }
    for (StringRef name : names)
      if (!artifact::parseSlope(std::string_view(name.data(), name.size())))
        return emitOpError("unknown slope kind '")
               << name << "'; expected none, layer or neuron";
  }
  if (std::optional<uint64_t> fourier = getFourier()) {
    int64_t m = getFourierAttr().getValue().getSExtValue();
    if (m < 1 || 2 * m > artifact::kMaxWidth)
      return emitOpError("a Fourier embedding needs 1..")
             << artifact::kMaxWidth / 2
             << " frequencies (its width 2m at most kMaxWidth), got " << m;
  }
  artifact::LayerKinds kinds = getLayerKinds();
  if (std::string broken = kinds.check(
          std::vector<int64_t>(getLayers().begin(), getLayers().end()));
      !broken.empty())
    return emitOpError(broken);
  if (kinds.gated && isPartialsKernel())
    return emitOpError("partials kernels do not take gated layers yet");
  if (!kinds.empty() && isPartialsKernel())
    return emitOpError("partials kernels do not take adaptive slopes, "
                       "residual layers or Fourier features yet");
  std::optional<int64_t> params = artifact::countParams(
      std::vector<int64_t>(getLayers().begin(), getLayers().end()), kinds);
  if (!params || *params > artifact::kMaxParams)
    return emitOpError("has more parameters than the maximum ")
           << artifact::kMaxParams << " (kMaxParams)";
  return success();
}

artifact::LayerKinds MlpOp::getLayerKinds() {
  artifact::LayerKinds kinds;
  size_t hidden = getLayers().size() < 2 ? 0 : getLayers().size() - 2;
  auto slope = [](Attribute name) {
    auto text = dyn_cast<StringAttr>(name);
    std::optional<artifact::Slope> parsed =
        text ? artifact::parseSlope(std::string_view(text.getValue().data(),
                                                     text.getValue().size()))
             : std::nullopt;
    return parsed.value_or(artifact::Slope::None);
  };
  if (Attribute slopes = getSlopesAttr()) {
    if (auto list = dyn_cast<ArrayAttr>(slopes))
      for (Attribute name : list)
        kinds.slopes.push_back(slope(name));
    else
      kinds.slopes.assign(hidden, slope(slopes));
  }
  if (std::optional<ArrayRef<bool>> residual = getResidual())
    kinds.residual.assign(residual->begin(), residual->end());
  if (IntegerAttr fourier = getFourierAttr())
    kinds.fourier = std::max<int64_t>(0, fourier.getValue().getSExtValue());
  kinds.gated = getGated();
  return kinds;
}

/// The rows of the request, or failure with the broken rule reported.
static FailureOr<std::vector<partials::Row>> requestRows(MlpOp op,
                                                         bool report) {
  std::vector<partials::Row> rows;
  int64_t inputDim = op.getLayers().empty() ? 0 : op.getLayers().front();
  auto emit =
      [&](const Twine &message) -> FailureOr<std::vector<partials::Row>> {
    if (report)
      op.emitOpError(message);
    return failure();
  };
  if (ArrayAttr list = op.getPartialsAttr())
    for (auto [p, entry] : llvm::enumerate(list)) {
      auto alpha = dyn_cast<ArrayAttr>(entry);
      if (!alpha || !llvm::all_of(alpha, llvm::IsaPred<IntegerAttr>))
        return emit("partials must be a list of multi-indices, lists of "
                    "integers such as [[2, 0], [1, 1]]; entry " +
                    Twine(p) + " is not");
      partials::Row row;
      for (Attribute e : alpha) {
        int64_t v = cast<IntegerAttr>(e).getValue().getSExtValue();
        // Out-of-range values stay negative so that the rules below name
        // them.
        row.push_back(v < INT32_MIN || v > INT32_MAX ? -1
                                                     : static_cast<int32_t>(v));
      }
      rows.push_back(std::move(row));
    }
  if (ArrayAttr list = op.getOperatorsAttr())
    for (auto [p, entry] : llvm::enumerate(list)) {
      int32_t kind = 0;
      ArrayRef<int64_t> coordinates;
      if (auto lap = dyn_cast<LaplacianAttr>(entry)) {
        kind = partials::kLaplacian;
        coordinates = lap.getCoordinates();
      } else if (auto bih = dyn_cast<BiharmonicAttr>(entry)) {
        kind = partials::kBiharmonic;
        coordinates = bih.getCoordinates();
      } else {
        return emit("operators must be #ntp.laplacian or #ntp.biharmonic; "
                    "entry " +
                    Twine(p) + " is not");
      }
      partials::Row row;
      std::string error;
      if (!partials::operatorRow(kind, {coordinates.begin(), coordinates.end()},
                                 inputDim, row, error))
        return emit(error);
      rows.push_back(std::move(row));
    }
  return rows;
}

LogicalResult MlpOp::verifyRequest() {
  if (!isPartialsKernel())
    return success();
  FailureOr<std::vector<partials::Row>> rows = requestRows(*this, true);
  if (failed(rows))
    return failure();
  std::string error;
  int64_t order = getOrderAttr().getValue().getSExtValue();
  if (!partials::validateRequest(*rows, getLayers().front(), order, error))
    return emitOpError(error);
  partials::Plan plan;
  if (!partials::planPartials(*rows, getLayers().front(), plan, error))
    return emitOpError(error);
  return success();
}

std::vector<std::vector<int32_t>> MlpOp::getRequestRows() {
  if (!isPartialsKernel())
    return {};
  FailureOr<std::vector<partials::Row>> rows = requestRows(*this, false);
  return failed(rows) ? std::vector<std::vector<int32_t>>() : *rows;
}

SmallVector<std::string> MlpOp::getHiddenActivations() {
  size_t hidden = getLayers().size() < 2 ? 0 : getLayers().size() - 2;
  SmallVector<std::string> names;
  if (auto list = dyn_cast<ArrayAttr>(getActivation())) {
    for (Attribute name : list)
      names.push_back(isa<StringAttr>(name)
                          ? cast<StringAttr>(name).getValue().str()
                          : std::string());
    names.resize(hidden);
    return names;
  }
  names.assign(hidden, cast<StringAttr>(getActivation()).getValue().str());
  return names;
}

std::string MlpOp::getActivationSpec() {
  if (auto name = dyn_cast<StringAttr>(getActivation()))
    return name.getValue().str();
  std::vector<std::string> names;
  for (const std::string &name : getHiddenActivations())
    names.push_back(name);
  return canonicalActivationList(names, "identity");
}

int64_t MlpOp::getNumParams() {
  // Verified ops have at most kMaxParams parameters.
  ArrayRef<int64_t> layers = getLayers();
  return artifact::countParams({layers.begin(), layers.end()}, getLayerKinds())
      .value_or(0);
}

//===----------------------------------------------------------------------===//
// Jet ops
//===----------------------------------------------------------------------===//

/// The element type of every buffer an op touches must agree.
static LogicalResult verifySameElementType(Operation *op, ValueRange buffers) {
  Type element = cast<MemRefType>(buffers.front().getType()).getElementType();
  for (Value buffer : buffers.drop_front())
    if (cast<MemRefType>(buffer.getType()).getElementType() != element)
      return op->emitOpError("all buffers must have the same element type");
  return success();
}

/// Jet buffers must have static shape [orders, width, tile] with unit stride
/// along the tile, so that a tile of one order of one neuron is a vector.
static LogicalResult verifyJetBuffer(Operation *op, Value buffer,
                                     StringRef what) {
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.hasStaticShape())
    return op->emitOpError() << what << " jet buffer must have a static shape";
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) || strides[2] != 1)
    return op->emitOpError()
           << what << " jet buffer must have unit stride along the tile";
  return success();
}

LogicalResult CombinePartialsOp::verify() {
  if (failed(verifySameElementType(*this, {getRays(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getRays(), "rays")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  JetBufferShape rays = JetBufferShape::of(getRays().getType());
  JetBufferShape out = JetBufferShape::of(getOutput().getType());
  if (rays.neurons() != out.neurons() || rays.lanes() != out.lanes())
    return emitOpError("rays and output must have the same width and tile");
  if (static_cast<int64_t>(getWeights().size()) != rays.orders() * out.orders())
    return emitOpError("expects ")
           << out.orders() << " x " << rays.orders()
           << " weights (requests x ray coefficients), got "
           << getWeights().size();
  return success();
}

LogicalResult SeedOp::verify() {
  if (failed(
          verifySameElementType(*this, {getX(), getDirection(), getJet()})) ||
      failed(verifyJetBuffer(*this, getJet(), "seeded")))
    return failure();
  auto direction = getDirection().getType();
  int64_t inputDim = getJet().getType().getDimSize(1);
  if (!direction.isDynamicDim(0) && direction.getDimSize(0) != inputDim)
    return emitOpError("direction has ")
           << direction.getDimSize(0) << " elements but the jet has width "
           << inputDim;
  return success();
}

LogicalResult AffineOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  MemRefType in = getInput().getType(), out = getOutput().getType();
  if (in.getDimSize(0) != out.getDimSize(0))
    return emitOpError("input and output jets must have the same number of "
                       "orders, got ")
           << in.getDimSize(0) << " and " << out.getDimSize(0);
  if (in.getDimSize(2) != out.getDimSize(2))
    return emitOpError("input and output jets must have the same tile size");
  if (static_cast<int64_t>(getLiveOrders()) > in.getDimSize(0))
    return emitOpError("live_orders (")
           << getLiveOrders() << ") exceeds the number of orders ("
           << in.getDimSize(0) << ")";
  MemRefType params = getParams().getType();
  int64_t needed = getWeightOffset() + out.getDimSize(1) * in.getDimSize(1) +
                   out.getDimSize(1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return emitOpError("layer needs parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

LogicalResult ActivateOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  if (getInput().getType().getShape() != getOutput().getType().getShape())
    return emitOpError("input and output jets must have the same shape");
  if (static_cast<int64_t>(getLiveOrders()) >
      getInput().getType().getDimSize(0))
    return emitOpError("live_orders (")
           << getLiveOrders() << ") exceeds the number of orders ("
           << getInput().getType().getDimSize(0) << ")";
  return success();
}

LogicalResult ScaleOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  MemRefType in = getInput().getType();
  if (in.getShape() != getOutput().getType().getShape())
    return emitOpError("input and output jets must have the same shape");
  if (static_cast<int64_t>(getLiveOrders()) > in.getDimSize(0))
    return emitOpError("live_orders (")
           << getLiveOrders() << ") exceeds the number of orders ("
           << in.getDimSize(0) << ")";
  MemRefType params = getParams().getType();
  int64_t needed = getSlopeOffset() + (getPerNeuron() ? in.getDimSize(1) : 1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return emitOpError("slopes need parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

static LogicalResult verifyLiveOrders(Operation *op, uint64_t live, Value jet);

/// The shape rules of ntp.fourier_project and its VJP: output width even
/// (2m), orders and tile as the input's, B within params.
static LogicalResult verifyFourierProject(Operation *op, MemRefType in,
                                          MemRefType out, MemRefType params,
                                          int64_t offset) {
  if (out.getDimSize(1) % 2 != 0)
    return op->emitOpError("output width must be even (sines and cosines), "
                           "got ")
           << out.getDimSize(1);
  if (in.getDimSize(0) != out.getDimSize(0) ||
      in.getDimSize(2) != out.getDimSize(2))
    return op->emitOpError("input and output jets must have the same number "
                           "of orders and tile size");
  int64_t needed = offset + out.getDimSize(1) / 2 * in.getDimSize(1);
  if (!params.isDynamicDim(0) && params.getDimSize(0) < needed)
    return op->emitOpError("B needs parameters up to index ")
           << needed << " but params has " << params.getDimSize(0)
           << " elements";
  return success();
}

LogicalResult FourierProjectOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyFourierProject(*this, getInput().getType(),
                                  getOutput().getType(), getParams().getType(),
                                  getWeightOffset())))
    return failure();
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult FourierProjectVjpOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutCotangent(),
                                    getGrad(), getInCotangent()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")) ||
      failed(verifyJetBuffer(*this, getInCotangent(), "input cotangent")) ||
      failed(verifyFourierProject(*this, getInput().getType(),
                                  getOutCotangent().getType(),
                                  getParams().getType(), getWeightOffset())))
    return failure();
  if (getInCotangent().getType().getShape() != getInput().getType().getShape())
    return emitOpError("input cotangent must have the shape of the input");
  auto grad = cast<MemRefType>(getGrad().getType());
  if (grad.getRank() == 2 &&
      grad.getDimSize(1) != getInput().getType().getDimSize(2))
    return emitOpError("lane-wise grad must have one lane per sample of the "
                       "tile (")
           << getInput().getType().getDimSize(2) << "), got "
           << grad.getDimSize(1);
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult AddJetsOp::verify() {
  if (failed(verifySameElementType(*this, {getLhs(), getRhs(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getLhs(), "left")) ||
      failed(verifyJetBuffer(*this, getRhs(), "right")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")))
    return failure();
  ArrayRef<int64_t> shape = getLhs().getType().getShape();
  if (getRhs().getType().getShape() != shape ||
      getOutput().getType().getShape() != shape)
    return emitOpError("both operands and the output must have the same "
                       "shape (a residual layer needs equal widths)");
  if (static_cast<int64_t>(getLiveOrders()) > shape[0])
    return emitOpError("live_orders (")
           << getLiveOrders() << ") exceeds the number of orders (" << shape[0]
           << ")";
  return success();
}

LogicalResult StoreJetOp::verify() {
  if (failed(verifySameElementType(*this, {getJet(), getOut()})) ||
      failed(verifyJetBuffer(*this, getJet(), "stored")))
    return failure();
  if (static_cast<int64_t>(getLiveOrders()) > getJet().getType().getDimSize(0))
    return emitOpError("live_orders (")
           << getLiveOrders() << ") exceeds the number of orders ("
           << getJet().getType().getDimSize(0) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// VJP ops
//===----------------------------------------------------------------------===//

/// live_orders may not exceed the number of orders of `jet`.
static LogicalResult verifyLiveOrders(Operation *op, uint64_t live, Value jet) {
  int64_t orders = cast<MemRefType>(jet.getType()).getDimSize(0);
  if (static_cast<int64_t>(live) > orders)
    return op->emitOpError("live_orders (")
           << live << ") exceeds the number of orders (" << orders << ")";
  return success();
}

LogicalResult LoadCotangentOp::verify() {
  if (failed(verifySameElementType(*this, {getCotangent(), getJet()})))
    return failure();
  return verifyJetBuffer(*this, getJet(), "cotangent");
}

LogicalResult AffineVjpOp::verify() {
  SmallVector<Value> buffers = {getInput(), getParams(), getOutCotangent(),
                                getGrad()};
  if (getInCotangent())
    buffers.push_back(getInCotangent());
  if (failed(verifySameElementType(*this, buffers)) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")))
    return failure();
  MemRefType in = getInput().getType(), outBar = getOutCotangent().getType();
  if (in.getDimSize(0) != outBar.getDimSize(0) ||
      in.getDimSize(2) != outBar.getDimSize(2))
    return emitOpError("input and output cotangent jets must have the same "
                       "number of orders and tile size");
  auto grad = cast<MemRefType>(getGrad().getType());
  if (grad.getRank() == 2 && grad.getDimSize(1) != in.getDimSize(2))
    return emitOpError("lane-wise grad must have one lane per sample of the "
                       "tile (")
           << in.getDimSize(2) << "), got " << grad.getDimSize(1);
  if (Value inBar = getInCotangent()) {
    if (failed(verifyJetBuffer(*this, inBar, "input cotangent")))
      return failure();
    if (cast<MemRefType>(inBar.getType()).getShape() != in.getShape())
      return emitOpError("input cotangent must have the shape of the input");
  }
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult ReduceLanesOp::verify() {
  if (failed(verifySameElementType(*this, {getLanes(), getGrad()})))
    return failure();
  MemRefType lanes = getLanes().getType(), grad = getGrad().getType();
  if (lanes.isDynamicDim(1))
    return emitOpError("lanes must have a static number of lanes");
  if (!lanes.isDynamicDim(0) && !grad.isDynamicDim(0) &&
      lanes.getDimSize(0) != grad.getDimSize(0))
    return emitOpError("lanes have ")
           << lanes.getDimSize(0) << " parameters but grad has "
           << grad.getDimSize(0);
  return success();
}

LogicalResult ActivateVjpOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(
          *this, {getInput(), getOutCotangent(), getInCotangent()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")) ||
      failed(verifyJetBuffer(*this, getInCotangent(), "input cotangent")))
    return failure();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  if (getOutCotangent().getType().getShape() != shape ||
      getInCotangent().getType().getShape() != shape)
    return emitOpError("input, output cotangent and input cotangent jets "
                       "must have the same shape");
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult ScaleVjpOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutCotangent(),
                                    getGrad(), getInCotangent()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutCotangent(), "output cotangent")) ||
      failed(verifyJetBuffer(*this, getInCotangent(), "input cotangent")))
    return failure();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  if (getOutCotangent().getType().getShape() != shape ||
      getInCotangent().getType().getShape() != shape)
    return emitOpError("input, output cotangent and input cotangent jets "
                       "must have the same shape");
  auto grad = cast<MemRefType>(getGrad().getType());
  if (grad.getRank() == 2 && grad.getDimSize(1) != shape[2])
    return emitOpError("lane-wise grad must have one lane per sample of the "
                       "tile (")
           << shape[2] << "), got " << grad.getDimSize(1);
  return verifyLiveOrders(*this, getLiveOrders(), getInput());
}

LogicalResult SeedVjpOp::verify() {
  if (failed(verifySameElementType(*this, {getJetCotangent(), getXGrad()})))
    return failure();
  return verifyJetBuffer(*this, getJetCotangent(), "seed cotangent");
}

//===----------------------------------------------------------------------===//
// Multi-direction jets
//===----------------------------------------------------------------------===//

/// The ray layout's rules: one count, order and weight per group, counts and
/// orders positive, a weighted group only with a collapsed row its orders
/// reach (order >= N - 1), and `rows` rows in every buffer.
template <class OpTy>
static LogicalResult verifyRayLayout(OpTy op, ValueRange buffers) {
  ArrayRef<int64_t> counts = op.getRayCounts(), orders = op.getRayOrders();
  ArrayRef<double> weights = op.getCollapseWeights();
  if (counts.size() != orders.size() || counts.size() != weights.size())
    return op.emitOpError("expects one ray count, order and collapse weight "
                          "per group, got ")
           << counts.size() << ", " << orders.size() << " and "
           << weights.size();
  int64_t n = op.getCollapsedOrder();
  bool weighted = false;
  for (size_t g = 0; g < counts.size(); ++g) {
    if (counts[g] <= 0 || orders[g] <= 0)
      return op.emitOpError("group ")
             << g << " must have a positive ray count and order, got "
             << counts[g] << " rays of order " << orders[g];
    if (weights[g] != 0) {
      weighted = true;
      if (n == 0 || orders[g] < n - 1)
        return op.emitOpError("group ")
               << g << " has a collapse weight but "
               << (n == 0 ? "there is no collapsed row"
                          : "its rays do not reach order collapsed_order - 1");
    }
  }
  if (n == 1)
    return op.emitOpError("collapsed_order must be 0 (none) or at least 2");
  if (n > 0 && !weighted)
    return op.emitOpError("a collapsed row needs a group with a nonzero "
                          "collapse weight");
  RayLayout layout = RayLayout::of(op);
  for (Value buffer : buffers) {
    int64_t rows = JetBufferShape::of(buffer).orders();
    if (rows != layout.rows)
      return op.emitOpError("the ray layout has ")
             << layout.rows << " rows but a jet buffer has " << rows;
  }
  return success();
}

LogicalResult SeedRaysOp::verify() {
  if (failed(
          verifySameElementType(*this, {getX(), getDirections(), getJet()})) ||
      failed(verifyJetBuffer(*this, getJet(), "seeded")) ||
      failed(verifyRayLayout(*this, {getJet()})))
    return failure();
  auto directions = getDirections().getType();
  RayLayout layout = RayLayout::of(*this);
  int64_t expected = layout.rays * JetBufferShape::of(getJet()).neurons();
  if (!directions.isDynamicDim(0) && directions.getDimSize(0) != expected)
    return emitOpError("directions has ")
           << directions.getDimSize(0) << " elements but " << layout.rays
           << " rays of width " << JetBufferShape::of(getJet()).neurons()
           << " need " << expected;
  return success();
}

LogicalResult AffineRaysOp::verify() {
  if (failed(verifySameElementType(*this,
                                   {getInput(), getParams(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyRayLayout(*this, {getInput(), getOutput()})))
    return failure();
  if (JetBufferShape::of(getInput()).lanes() !=
      JetBufferShape::of(getOutput()).lanes())
    return emitOpError("input and output must have the same tile");
  return success();
}

LogicalResult ActivateRaysOp::verify() {
  if (failed(verifyActivationName(*this, getActivation())) ||
      failed(verifySameElementType(*this, {getInput(), getOutput()})) ||
      failed(verifyJetBuffer(*this, getInput(), "input")) ||
      failed(verifyJetBuffer(*this, getOutput(), "output")) ||
      failed(verifyRayLayout(*this, {getInput(), getOutput()})))
    return failure();
  JetBufferShape in = JetBufferShape::of(getInput()),
                 out = JetBufferShape::of(getOutput());
  if (in.neurons() != out.neurons() || in.lanes() != out.lanes())
    return emitOpError("input and output must have the same width and tile");
  return success();
}
