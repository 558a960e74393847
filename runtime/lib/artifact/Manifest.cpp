//===- Manifest.cpp - The one manifest parser -----------------------------===//
//
// Implements parseManifest of ntp/artifact.hpp: the kernel's fields
// (serializeManifest and mlpDescription are in ManifestWriter.cpp, the
// key=value layer in ManifestLines.cpp, the partials keys in
// ManifestPartials.cpp). The parser is strict on purpose:
// every key is required exactly once, unknown keys are refused, and every
// number must be a whole decimal literal in range, so that a manifest that lies
// or was damaged is refused with one sentence instead of being half-believed.
//
//===----------------------------------------------------------------------===//
#include "ManifestLines.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

namespace ntp::artifact {
namespace {

using namespace detail;

constexpr std::string_view kNameChars = "_.$-";

/// The keys, in serialization order; the CUDA ones last.
constexpr std::string_view kKeys[] = {"abi_version",
                                      "name",
                                      "activation",
                                      "order",
                                      "dtype",
                                      "device",
                                      "layers",
                                      "num_params",
                                      "tile",
                                      "backward",
                                      "workspace_per_tile",
                                      "target_cpu",
                                      "cpu_features"};
/// Keys present only for some kernels (partials kernels).
constexpr std::string_view kOptionalKeys[] = {
    "partials", "partials_lowering", "partials_reverse_lowering",
    "slopes",   "residual",          "fourier",
    "gated",    "cpu_variants"};
constexpr std::string_view kCudaKeys[] = {
    "chip",       "format", "mapping", "block_size", "samples_per_block",
    "image_bytes"};

class Parser : public ManifestLines {
public:
  explicit Parser(std::string &error) : ManifestLines(error) {}

  ntp_status run(std::string_view text, KernelManifest &m) {
    if (!read(text))
      return NTP_ERROR_BAD_ARTIFACT;

    // The version first: another version may lack or redefine any key.
    std::optional<int64_t> abi = number<int64_t>("abi_version");
    if (!abi)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*abi != kAbiVersion) {
      error = "artifact ABI version " + std::to_string(*abi) +
              " does not match this runtime's ABI version " +
              std::to_string(kAbiVersion) + "; recompile it";
      return NTP_ERROR_ABI_MISMATCH;
    }

    const std::string *device = key("device");
    if (!device)
      return NTP_ERROR_BAD_ARTIFACT;
    if (std::optional<Device> known = parseDevice(*device)) {
      m.device = *known;
    } else {
      std::string expected;
      for (Device each : kDevices)
        expected +=
            (expected.empty() ? "" : " or ") + std::string(deviceName(each));
      return fail("unknown device " + quoted(*device) + " (expected " +
                  expected + ")");
    }
    for (const auto &[name, value] : all()) {
      (void)value;
      bool known = std::find(std::begin(kKeys), std::end(kKeys), name) !=
                   std::end(kKeys);
      bool cudaKey = std::find(std::begin(kCudaKeys), std::end(kCudaKeys),
                               name) != std::end(kCudaKeys);
      known |= std::find(std::begin(kOptionalKeys), std::end(kOptionalKeys),
                         name) != std::end(kOptionalKeys);
      if (!known && !cudaKey)
        return fail("unknown key " + quoted(name));
      if (cudaKey && m.device != Device::Cuda)
        return fail("key " + quoted(name) + " is only valid with device=cuda");
    }

    const std::string *name = key("name");
    if (!name)
      return NTP_ERROR_BAD_ARTIFACT;
    if (name->empty() || !isWord(*name, kNameChars))
      return fail("name " + quoted(*name) + " is not a symbol name");
    m.name = *name;

    const std::string *activation = key("activation");
    if (!activation)
      return NTP_ERROR_BAD_ARTIFACT;
    // One name, or one per hidden layer separated by commas ("silu,tanh").
    bool names = !activation->empty() && isWord(*activation, "_,") &&
                 activation->front() != ',' && activation->back() != ',' &&
                 activation->find(",,") == std::string::npos;
    if (!names)
      return fail("activation " + quoted(*activation) +
                  " is not a name or a comma-separated list of names");
    m.activation = *activation;

    std::optional<int32_t> order = number<int32_t>("order");
    if (!order)
      return NTP_ERROR_BAD_ARTIFACT;
    m.order = *order;

    const std::string *dtype = key("dtype");
    if (!dtype)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*dtype == "f32")
      m.dtype = Dtype::F32;
    else if (*dtype == "f64")
      m.dtype = Dtype::F64;
    else
      return fail("unknown dtype " + quoted(*dtype) + " (expected f32 or f64)");

    const std::string *layers = key("layers");
    if (!layers || !parseLayers(*layers, m.layers))
      return NTP_ERROR_BAD_ARTIFACT;
    // Typed layers before the counts that depend on them.
    m.kinds = LayerKinds();
    if (const std::string *slopes = optionalKey("slopes")) {
      for (const std::string &item : splitItems(*slopes)) {
        std::optional<Slope> slope = parseSlope(item);
        if (!slope)
          return fail("slopes " + quoted(*slopes) +
                      " is not a comma-separated list of none, layer, neuron");
        m.kinds.slopes.push_back(*slope);
      }
    }
    if (const std::string *residual = optionalKey("residual")) {
      for (const std::string &item : splitItems(*residual)) {
        if (item != "0" && item != "1")
          return fail("residual " + quoted(*residual) +
                      " is not a comma-separated list of 0 and 1");
        m.kinds.residual.push_back(item == "1");
      }
    }
    if (optionalKey("fourier")) {
      std::optional<int64_t> fourier = number<int64_t>("fourier");
      if (!fourier || *fourier < 1)
        return fail("fourier must be a number of frequencies >= 1");
      m.kinds.fourier = *fourier;
    }
    if (const std::string *gated = optionalKey("gated")) {
      if (*gated != "1")
        return fail("gated " + quoted(*gated) +
                    " must be 1 (the key is absent for a network without "
                    "gates)");
      m.kinds.gated = true;
    }
    if (std::string broken = m.kinds.check(m.layers); !broken.empty())
      return fail(broken);
    std::optional<int64_t> expected = countParams(m.layers, m.kinds);
    if (!expected)
      return fail("layers " + quoted(*layers) + " have too many parameters");
    size_t listed = std::count(m.activation.begin(), m.activation.end(), ',');
    if (listed > 0 && listed + 3 != m.layers.size())
      return fail("activation " + quoted(m.activation) + " lists " +
                  std::to_string(listed + 1) + " activations but layers " +
                  quoted(*layers) + " have " +
                  std::to_string(m.layers.size() - 2) + " hidden layers");
    std::optional<int64_t> numParams = number<int64_t>("num_params");
    if (!numParams)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*numParams != *expected)
      return fail("num_params is " + std::to_string(*numParams) +
                  " but layers " + quoted(*layers) + " have " +
                  std::to_string(*expected) + " parameters");
    m.numParams = *numParams;

    std::optional<int64_t> tile = number<int64_t>("tile");
    if (!tile)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*tile < 1 || *tile > kMaxTile)
      return fail("tile is " + std::to_string(*tile) + "; it must be 1.." +
                  std::to_string(kMaxTile));
    m.tile = *tile;

    std::optional<int32_t> backward = number<int32_t>("backward");
    if (!backward)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*backward != 0 && *backward != 1)
      return fail("backward is " + std::to_string(*backward) +
                  "; it must be 0 or 1");
    m.backward = *backward == 1;

    std::optional<int64_t> workspace = number<int64_t>("workspace_per_tile");
    if (!workspace)
      return NTP_ERROR_BAD_ARTIFACT;
    std::optional<int64_t> expectedWorkspace =
        workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
    if (!expectedWorkspace)
      return fail("the workspace of layers " + quoted(*layers) + ", order " +
                  std::to_string(m.order) + " and tile " +
                  std::to_string(m.tile) + " overflows int64");
    int64_t wanted = m.backward ? *expectedWorkspace : 0;
    // A partials kernel's workspace follows its plan of rays, which only the
    // compiler makes: some positive number of coefficients' worth
    // (partialsWorkspaceElementsPerTile).
    bool partialsKernel = optionalKey("partials") != nullptr;
    std::optional<int64_t> perCoefficient =
        workspaceElementsPerTile(m.layers, 0, m.tile, m.kinds);
    if (partialsKernel && m.backward && perCoefficient &&
        (*workspace < *perCoefficient || *workspace % *perCoefficient != 0))
      return fail("workspace_per_tile is " + std::to_string(*workspace) +
                  " but a partials kernel's must be a positive multiple of " +
                  std::to_string(*perCoefficient));
    if (partialsKernel && m.backward)
      wanted = *workspace;
    if (*workspace != wanted)
      return fail("workspace_per_tile is " + std::to_string(*workspace) +
                  " but the kernel's shape needs " + std::to_string(wanted) +
                  (m.backward ? "" : " (backward=0)"));
    m.workspacePerTile = *workspace;

    const std::string *cpu = key("target_cpu");
    if (!cpu)
      return NTP_ERROR_BAD_ARTIFACT;
    if (!isWord(*cpu, "_.-"))
      return fail("target_cpu " + quoted(*cpu) + " is not a CPU name");
    m.targetCpu = *cpu;

    const std::string *features = key("cpu_features");
    if (!features || !parseFeatures(*features, m.cpuFeatures))
      return NTP_ERROR_BAD_ARTIFACT;

    m.cpuVariants.clear();
    if (const std::string *variants = optionalKey("cpu_variants"))
      if (!parseCpuVariants(*variants, m))
        return NTP_ERROR_BAD_ARTIFACT;

    m.partials.clear();
    if (const std::string *partials = key("partials")) {
      if (!parsePartialsRequest(*this, *partials, m))
        return NTP_ERROR_BAD_ARTIFACT;
    }
    if (!parsePartialsLowering(*this, "partials_lowering", m,
                               m.partialsLowering) ||
        !parsePartialsLowering(*this, "partials_reverse_lowering", m,
                               m.partialsReverseLowering))
      return NTP_ERROR_BAD_ARTIFACT;

    m.cuda.reset();
    if (m.device == Device::Cuda)
      return parseCuda(m);
    return NTP_OK;
  }

private:
  static constexpr int64_t kMaxTile = 1 << 16;

  bool parseLayers(std::string_view text, std::vector<int64_t> &widths) {
    widths.clear();
    std::string_view rest = text;
    while (true) {
      size_t comma = rest.find(',');
      std::optional<int64_t> width =
          parseNumber<int64_t>(rest.substr(0, comma));
      // Widths are reported as int32 by ntp_kernel_info and ntp_kernel_layers.
      if (!width || *width < 1 ||
          *width > std::numeric_limits<int32_t>::max()) {
        fail("layers " + quoted(text) + " is not a list of positive integers");
        return false;
      }
      widths.push_back(*width);
      if (comma == std::string_view::npos)
        break;
      rest = rest.substr(comma + 1);
    }
    if (widths.size() < 2) {
      fail("layers " + quoted(text) +
           " needs at least an input and an output width");
      return false;
    }
    return true;
  }

  /// "znver4:avx,avx2;x86-64-v3:avx": two or more rows cpu:features, CPUs
  /// distinct, the first equal to target_cpu and cpu_features (parsed
  /// before), device=cpu.
  bool parseCpuVariants(const std::string &text, KernelManifest &m) {
    if (m.device != Device::Cpu) {
      fail("cpu_variants is only valid with device=cpu");
      return false;
    }
    size_t start = 0;
    for (;;) {
      size_t end = text.find(';', start);
      std::string row = text.substr(start, end - start);
      size_t colon = row.find(':');
      CpuVariant variant;
      variant.cpu = row.substr(0, colon);
      if (colon == std::string::npos || variant.cpu.empty() ||
          !isWord(variant.cpu, "_.-")) {
        fail("cpu_variants row " + quoted(row) +
             " is not a CPU name, a colon and its features");
        return false;
      }
      if (!parseFeatures(row.substr(colon + 1), variant.features)) {
        error = "cpu_variants row " + quoted(row) + ": " + error;
        return false;
      }
      for (const CpuVariant &seen : m.cpuVariants)
        if (seen.cpu == variant.cpu) {
          fail("cpu_variants names the CPU " + quoted(variant.cpu) + " twice");
          return false;
        }
      m.cpuVariants.push_back(std::move(variant));
      if (end == std::string::npos)
        break;
      start = end + 1;
    }
    if (m.cpuVariants.size() < 2) {
      fail("cpu_variants lists " + std::to_string(m.cpuVariants.size()) +
           " variant; an artifact with one CPU has no cpu_variants key");
      return false;
    }
    if (m.cpuVariants.front().cpu != m.targetCpu ||
        m.cpuVariants.front().features != m.cpuFeatures) {
      fail("the first of cpu_variants is not target_cpu and cpu_features");
      return false;
    }
    return true;
  }

  bool parseFeatures(std::string_view text, std::vector<std::string> &out) {
    out.clear();
    std::string_view rest = text;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      if (std::find(kRecordedCpuFeatures.begin(), kRecordedCpuFeatures.end(),
                    name) == kRecordedCpuFeatures.end()) {
        fail("cpu_features names " + quoted(name) +
             ", not a feature this runtime knows");
        return false;
      }
      if (std::find(out.begin(), out.end(), name) != out.end()) {
        fail("cpu_features names " + quoted(name) + " twice");
        return false;
      }
      out.emplace_back(name);
      if (comma == std::string_view::npos)
        break;
      rest = rest.substr(comma + 1);
      if (rest.empty()) {
        fail("cpu_features ends with a comma");
        return false;
      }
    }
    return true;
  }

  ntp_status parseCuda(KernelManifest &m) {
    CudaLaunch launch;
    const std::string *chip = key("chip");
    if (!chip)
      return NTP_ERROR_BAD_ARTIFACT;
    // sm_NN or sm_NNa; the number must fit (sm_4294967386 must not wrap to
    // sm_90).
    std::string_view digits = *chip;
    bool ok = digits.substr(0, 3) == "sm_";
    digits = ok ? digits.substr(3) : digits;
    if (ok && !digits.empty() && digits.back() == 'a')
      digits.remove_suffix(1);
    std::optional<int32_t> sm =
        ok ? parseNumber<int32_t>(digits) : std::nullopt;
    if (!sm || *sm < 10 || *sm > 9999)
      return fail("chip " + quoted(*chip) +
                  " is not an NVIDIA architecture sm_NN or sm_NNa");
    launch.chip = *chip;

    const std::string *format = key("format");
    if (!format)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*format == "ptx")
      launch.format = ImageFormat::Ptx;
    else if (*format == "cubin")
      launch.format = ImageFormat::Cubin;
    else
      return fail("unknown format " + quoted(*format) +
                  " (expected ptx or cubin)");

    const std::string *mapping = key("mapping");
    if (!mapping)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*mapping == "sample")
      launch.mapping = GpuMapping::Sample;
    else if (*mapping == "lanes")
      launch.mapping = GpuMapping::Lanes;
    else
      return fail("unknown mapping " + quoted(*mapping) +
                  " (expected sample or lanes)");

    std::optional<int64_t> blockSize = number<int64_t>("block_size");
    std::optional<int64_t> samples =
        blockSize ? number<int64_t>("samples_per_block") : std::nullopt;
    std::optional<int64_t> imageBytes =
        samples ? number<int64_t>("image_bytes") : std::nullopt;
    if (!imageBytes)
      return NTP_ERROR_BAD_ARTIFACT;
    if (*blockSize < 1 || *blockSize > 1024)
      return fail("block_size is " + std::to_string(*blockSize) +
                  "; it must be 1..1024");
    int64_t wantedBlock =
        launch.mapping == GpuMapping::Lanes ? 32 * *samples : *samples;
    if (*samples < 1 || wantedBlock != *blockSize)
      return fail("samples_per_block is " + std::to_string(*samples) +
                  " but block_size " + std::to_string(*blockSize) + " needs " +
                  (launch.mapping == GpuMapping::Lanes
                       ? "block_size / 32 with mapping=lanes"
                       : "block_size with mapping=sample"));
    if (m.tile != *samples)
      return fail("tile is " + std::to_string(m.tile) +
                  " but a CUDA kernel's tile is samples_per_block (" +
                  std::to_string(*samples) + ")");
    if (*imageBytes < 1)
      return fail("image_bytes is 0; a CUDA artifact needs an image");
    launch.blockSize = *blockSize;
    launch.samplesPerBlock = *samples;
    launch.imageBytes = *imageBytes;
    m.cuda = std::move(launch);
    return NTP_OK;
  }
};

} // namespace

ntp_status parseManifest(std::string_view text, KernelManifest &manifest,
                         std::string &error) {
  if (text.size() > static_cast<size_t>(kMaxManifestBytes)) {
    error = "the manifest is longer than " + std::to_string(kMaxManifestBytes) +
            " bytes";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  if (text.find('\0') != std::string_view::npos) {
    error = "the manifest contains a NUL byte";
    return NTP_ERROR_BAD_ARTIFACT;
  }
  KernelManifest parsed;
  ntp_status status = Parser(error).run(text, parsed);
  if (status == NTP_OK)
    manifest = std::move(parsed);
  return status;
}

} // namespace ntp::artifact
