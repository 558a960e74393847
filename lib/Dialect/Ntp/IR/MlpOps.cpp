//===- MlpOps.cpp - ntp.mlp: verifier and request ------------------------===//
//
// The verifier of ntp.mlp (widths, typed layers, the partials request) and
// the facts it answers (layer kinds, request rows, parameter count).
//
//===----------------------------------------------------------------------===//

#include "NtpOpsVerify.h"

#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationRules.h"
#include "ntp/Support/Partials.h"
#include "ntp/artifact.hpp"

using namespace mlir;
using namespace ntp;
using namespace ntp::detail;

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
/// the parameter count with the slopes.
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
