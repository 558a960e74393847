//===- NtpAttributes.cpp - ntp attributes ---------------------------------===//

#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"
#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Dialect/Ntp/IR/NtpDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace ntp;
namespace art = ntp::artifact;

#define GET_ATTRDEF_CLASSES
#include "ntp/Dialect/Ntp/IR/NtpAttributes.cpp.inc"

void NtpDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "ntp/Dialect/Ntp/IR/NtpAttributes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// KernelAttr
//===----------------------------------------------------------------------===//

KernelAttr KernelAttr::get(MLIRContext *context, const art::KernelManifest &m) {
  Builder b(context);
  SmallVector<Attribute> entryPoints;
  for (const std::string &symbol : entryPointSymbols(m))
    entryPoints.push_back(FlatSymbolRefAttr::get(context, symbol));
  ArrayAttr features;
  if (!m.cpuFeatures.empty()) {
    SmallVector<Attribute> names;
    for (const std::string &feature : m.cpuFeatures)
      names.push_back(b.getStringAttr(feature));
    features = b.getArrayAttr(names);
  }
  Type element =
      m.dtype == art::Dtype::F64 ? Type(b.getF64Type()) : Type(b.getF32Type());
  const art::CudaLaunch *cuda = m.cuda ? &*m.cuda : nullptr;
  DenseI32ArrayAttr partials;
  if (!m.partials.empty()) {
    SmallVector<int32_t> flat;
    for (const std::vector<int32_t> &row : m.partials)
      flat.append(row.begin(), row.end());
    partials = b.getDenseI32ArrayAttr(flat);
  }
  return get(context, m.name, m.layers, m.activation, m.order, element,
             art::deviceName(m.device), m.tile, b.getBoolAttr(m.backward),
             m.workspacePerTile, b.getArrayAttr(entryPoints), m.targetCpu,
             features, cuda ? StringRef(cuda->chip) : StringRef(),
             cuda ? StringRef(art::gpuMappingName(cuda->mapping).data(),
                              art::gpuMappingName(cuda->mapping).size())
                  : StringRef(),
             cuda ? cuda->blockSize : 0, cuda ? cuda->samplesPerBlock : 0,
             partials, m.kinds.slopesText(), m.kinds.residualText(),
             m.kinds.fourier, m.kinds.gated ? 1 : 0, m.partialsLowering,
             m.partialsReverseLowering);
}

/// Typed layers from their manifest spellings ("none,neuron", "0,1"; empty:
/// none); false on a word that is not one.
static bool parseKinds(StringRef slopes, StringRef residual,
                       art::LayerKinds &kinds) {
  kinds = art::LayerKinds();
  SmallVector<StringRef> items;
  if (!slopes.empty()) {
    slopes.split(items, ',');
    for (StringRef item : items) {
      std::optional<art::Slope> slope =
          art::parseSlope(std::string_view(item.data(), item.size()));
      if (!slope)
        return false;
      kinds.slopes.push_back(*slope);
    }
  }
  items.clear();
  if (!residual.empty()) {
    residual.split(items, ',');
    for (StringRef item : items) {
      if (item != "0" && item != "1")
        return false;
      kinds.residual.push_back(item == "1");
    }
  }
  return true;
}

/// The manifest of the parameters, without checking them.
static art::KernelManifest
manifestOf(StringRef name, ArrayRef<int64_t> layers, StringRef activation,
           int64_t order, Type elementType, StringRef device, int64_t tile,
           BoolAttr backward, int64_t workspacePerTile, ArrayAttr cpuFeatures,
           StringRef targetCpu, StringRef chip, StringRef mapping,
           int64_t blockSize, int64_t samplesPerBlock,
           DenseI32ArrayAttr partials, StringRef slopes, StringRef residual,
           int64_t fourier, int64_t gated, StringRef partialsLowering,
           StringRef partialsReverseLowering) {
  art::KernelManifest m;
  m.partialsLowering = partialsLowering.str();
  m.partialsReverseLowering = partialsReverseLowering.str();
  (void)parseKinds(slopes, residual, m.kinds);
  m.kinds.fourier = fourier;
  m.kinds.gated = gated != 0;
  m.name = name.str();
  m.layers.assign(layers.begin(), layers.end());
  m.activation = activation.str();
  m.order = static_cast<int32_t>(order);
  m.dtype = isa_and_nonnull<Float64Type>(elementType) ? art::Dtype::F64
                                                      : art::Dtype::F32;
  m.device = art::parseDevice(device).value_or(art::Device::Cpu);
  m.numParams = art::countParams(m.layers, m.kinds).value_or(0);
  m.tile = tile;
  m.backward = backward && backward.getValue();
  m.workspacePerTile = workspacePerTile;
  m.targetCpu = targetCpu.str();
  if (cpuFeatures)
    for (Attribute feature : cpuFeatures)
      if (auto text = dyn_cast<StringAttr>(feature))
        m.cpuFeatures.push_back(text.str());
  if (const DeviceFacts *facts = lookupDeviceFacts(m.device);
      facts && facts->isGridLaunch()) {
    art::CudaLaunch launch;
    launch.chip = chip.str();
    launch.mapping =
        mapping == "lanes" ? art::GpuMapping::Lanes : art::GpuMapping::Sample;
    launch.blockSize = blockSize;
    launch.samplesPerBlock = samplesPerBlock;
    m.cuda = launch;
  }
  // Rows of layers[0] entries (the verifier checks the length divides).
  if (partials && !m.layers.empty() && m.layers.front() > 0)
    for (size_t at = 0;
         at + m.layers.front() <= static_cast<size_t>(partials.size());
         at += m.layers.front())
      m.partials.emplace_back(partials.asArrayRef().begin() + at,
                              partials.asArrayRef().begin() + at +
                                  m.layers.front());
  return m;
}

art::KernelManifest KernelAttr::getManifest() const {
  return manifestOf(getName(), getLayers(), getActivation(), getOrder(),
                    getElementType(), getDevice(), getTile(), getBackward(),
                    getWorkspacePerTile(), getCpuFeatures(), getTargetCpu(),
                    getChip(), getMapping(), getBlockSize(),
                    getSamplesPerBlock(), getPartials(), getSlopes(),
                    getResidual(), getFourier(), getGated(),
                    getPartialsLowering(), getPartialsReverseLowering());
}

LogicalResult KernelAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, StringRef name,
    ArrayRef<int64_t> layers, StringRef activation, int64_t order,
    Type elementType, StringRef device, int64_t tile, BoolAttr backward,
    int64_t workspacePerTile, ArrayAttr entryPoints, StringRef targetCpu,
    ArrayAttr cpuFeatures, StringRef chip, StringRef mapping, int64_t blockSize,
    int64_t samplesPerBlock, DenseI32ArrayAttr partials, StringRef slopes,
    StringRef residual, int64_t fourier, int64_t gated,
    StringRef partialsLowering, StringRef partialsReverseLowering) {
  if (!isa_and_nonnull<Float32Type, Float64Type>(elementType))
    return emitError() << "element_type must be f32 or f64, got "
                       << elementType;
  // The device names are the artifact contract's (artifact::kDevices).
  if (!art::parseDevice(device)) {
    InFlightDiagnostic diag = emitError() << "device must be ";
    for (auto [i, known] : llvm::enumerate(art::kDevices)) {
      if (i != 0)
        diag << (i + 1 == std::size(art::kDevices) ? " or " : ", ");
      diag << "\"" << art::deviceName(known) << "\"";
    }
    return diag << ", got \"" << device << "\"";
  }
  if (!backward)
    return emitError() << "backward must be a bool";
  if (cpuFeatures && !llvm::all_of(cpuFeatures, llvm::IsaPred<StringAttr>))
    return emitError() << "cpu_features must be strings";
  // What a device may state is its launch's: a grid (chip, mapping, block
  // shape) or host tiles (CPU name and features).
  art::Device deviceValue = *art::parseDevice(device);
  const DeviceFacts *facts = lookupDeviceFacts(deviceValue);
  if (!facts)
    return emitError() << "no target compiles for the " << device << " device";
  if (facts->isGridLaunch() && mapping != "sample" && mapping != "lanes")
    return emitError() << "mapping must be \"sample\" or \"lanes\", got \""
                       << mapping << "\"";
  if (!facts->isGridLaunch() &&
      (!chip.empty() || !mapping.empty() || blockSize || samplesPerBlock))
    return emitError() << "a " << StringRef(device).upper()
                       << " kernel has no chip, mapping or block shape";
  if (facts->isGridLaunch() && (!targetCpu.empty() || cpuFeatures))
    return emitError() << "a " << StringRef(device).upper()
                       << " kernel has no target_cpu or cpu_features";

  if (partials && (layers.empty() || layers.front() < 1 ||
                   partials.size() % layers.front() != 0 || partials.empty()))
    return emitError() << "partials must hold whole rows of layers[0] "
                          "entries, got "
                       << partials.size() << " entries";
  if (art::LayerKinds kinds; !parseKinds(slopes, residual, kinds))
    return emitError() << "slopes must list none, layer or neuron and "
                          "residual 0 or 1, separated by commas, got \""
                       << slopes << "\" and \"" << residual << "\"";
  if (gated != 0 && gated != 1)
    return emitError() << "gated must be 0 or 1, got " << gated;
  // Every other fact must be what the one function derives from the network
  // and the target.
  art::KernelManifest stated = manifestOf(
      name, layers, activation, order, elementType, device, tile, backward,
      workspacePerTile, cpuFeatures, targetCpu, chip, mapping, blockSize,
      samplesPerBlock, partials, slopes, residual, fourier, gated,
      partialsLowering, partialsReverseLowering);
  KernelTarget target = targetOf(stated);
  if (stated.cuda && stated.cuda->mapping == art::GpuMapping::Lanes &&
      blockSize != 32 * samplesPerBlock)
    return emitError() << "block_size must be 32 * samples_per_block with "
                          "the lanes mapping, got "
                       << blockSize;
  if (stated.cuda && stated.cuda->mapping == art::GpuMapping::Sample &&
      blockSize != samplesPerBlock)
    return emitError() << "block_size and samples_per_block must agree with "
                          "the sample mapping, got "
                       << blockSize << " and " << samplesPerBlock;
  art::KernelManifest derived;
  std::string error;
  if (!describeKernel(networkOf(stated), target, derived, error))
    return emitError() << error;
  if (derived.tile != tile)
    return emitError() << "tile must be " << derived.tile << ", got " << tile;
  if (derived.workspacePerTile != workspacePerTile)
    return emitError() << "workspace_per_tile must be "
                       << derived.workspacePerTile << ", got "
                       << workspacePerTile;
  std::vector<std::string> symbols = entryPointSymbols(derived);
  bool same = entryPoints.size() == symbols.size();
  for (size_t i = 0; same && i < symbols.size(); ++i) {
    auto symbol = dyn_cast<FlatSymbolRefAttr>(entryPoints[i]);
    same = symbol && symbol.getValue() == symbols[i];
  }
  if (!same) {
    InFlightDiagnostic diag = emitError() << "entry_points must be [";
    llvm::interleaveComma(symbols, diag,
                          [&](const std::string &s) { diag << "@" << s; });
    return diag << "]";
  }
  return success();
}

/// `ntp.kernel` is the #ntp.kernel of a module, or the unit marker of a
/// kernel function; other `ntp.*` attributes are the passes' own.
LogicalResult NtpDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attribute) {
  if (attribute.getName() != kKernelAttrName)
    return success();
  if (isa<ModuleOp>(op) && !isa<KernelAttr>(attribute.getValue()))
    return op->emitError("'")
           << kKernelAttrName << "' on a module must be an #ntp.kernel, got "
           << attribute.getValue();
  if (!isa<ModuleOp>(op) && !isa<UnitAttr, KernelAttr>(attribute.getValue()))
    return op->emitError("'")
           << kKernelAttrName << "' must be a unit attribute, got "
           << attribute.getValue();
  return success();
}

KernelAttr ntp::getKernelAttr(ModuleOp module) {
  return module->getAttrOfType<KernelAttr>(kKernelAttrName);
}

FailureOr<art::KernelManifest> ntp::readKernelManifest(ModuleOp module) {
  KernelAttr kernel = getKernelAttr(module);
  if (!kernel)
    return module.emitError("the module carries no #ntp.kernel attribute "
                            "(ntp-decompose-mlp stamps it)");
  return kernel.getManifest();
}
