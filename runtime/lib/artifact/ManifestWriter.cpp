//===- ManifestWriter.cpp - The one manifest serializer -------------------===//
//
// Implements serializeManifest and mlpDescription of ntp/artifact.hpp: the
// manifest text that Manifest.cpp's parser reads back, and the ntp.mlp that
// describes a kernel.
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"

#include <string>
#include <type_traits>

namespace ntp::artifact {
namespace {

template <class Range> std::string joined(const Range &items) {
  std::string text;
  for (const auto &item : items) {
    if (!text.empty())
      text += ',';
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(item)>>)
      text += std::to_string(item);
    else
      text += item;
  }
  return text;
}

} // namespace

std::string serializeManifest(const KernelManifest &m) {
  std::string text(kManifestMagic);
  auto line = [&](std::string_view name, const std::string &value) {
    text += '\n';
    text += name;
    text += '=';
    text += value;
  };
  line("abi_version", std::to_string(kAbiVersion));
  line("name", m.name);
  line("activation", m.activation);
  line("order", std::to_string(m.order));
  line("dtype", std::string(dtypeName(m.dtype)));
  line("device", std::string(deviceName(m.device)));
  line("layers", joined(m.layers));
  line("num_params", std::to_string(m.numParams));
  line("tile", std::to_string(m.tile));
  line("backward", m.backward ? "1" : "0");
  line("workspace_per_tile", std::to_string(m.workspacePerTile));
  line("target_cpu", m.targetCpu);
  line("cpu_features", joined(m.cpuFeatures));
  if (m.device == Device::Cuda && m.cuda) {
    const CudaLaunch &c = *m.cuda;
    line("chip", c.chip);
    line("format", std::string(imageFormatName(c.format)));
    line("mapping", std::string(gpuMappingName(c.mapping)));
    line("block_size", std::to_string(c.blockSize));
    line("samples_per_block", std::to_string(c.samplesPerBlock));
    line("image_bytes", std::to_string(c.imageBytes));
  }
  if (!m.partials.empty()) {
    std::string rows;
    for (size_t p = 0; p < m.partials.size(); ++p) {
      rows += p ? ";" : "";
      for (size_t i = 0; i < m.partials[p].size(); ++i)
        rows += (i ? "," : "") + std::to_string(m.partials[p][i]);
    }
    line("partials", rows);
  }
  if (!m.partials.empty() && !m.partialsLowering.empty())
    line("partials_lowering", m.partialsLowering);
  if (!m.partials.empty() && m.backward && !m.partialsReverseLowering.empty())
    line("partials_reverse_lowering", m.partialsReverseLowering);
  if (std::string slopes = m.kinds.slopesText(); !slopes.empty())
    line("slopes", slopes);
  if (std::string residual = m.kinds.residualText(); !residual.empty())
    line("residual", residual);
  if (m.kinds.fourier > 0)
    line("fourier", std::to_string(m.kinds.fourier));
  if (m.kinds.gated)
    line("gated", "1");
  if (!m.cpuVariants.empty()) {
    std::string rows;
    for (size_t v = 0; v < m.cpuVariants.size(); ++v)
      rows += (v ? ";" : "") + m.cpuVariants[v].cpu + ":" +
              joined(m.cpuVariants[v].features);
    line("cpu_variants", rows);
  }
  text += '\n';
  return text;
}

std::string mlpDescription(const KernelManifest &manifest) {
  std::string text = "ntp.mlp @" + manifest.name + " layers [";
  for (size_t i = 0; i < manifest.layers.size(); ++i)
    text += (i ? ", " : "") + std::to_string(manifest.layers[i]);
  text += "] activation ";
  if (manifest.activation.find(',') == std::string::npos) {
    text += "\"" + manifest.activation + "\"";
  } else {
    text += "[\"";
    for (char c : manifest.activation)
      text += c == ',' ? std::string("\", \"") : std::string(1, c);
    text += "\"]";
  }
  // Typed layers, as the ntp.mlp spells them: one word for every hidden
  // layer when they agree, else a list.
  if (manifest.kinds.fourier > 0)
    text += " fourier " + std::to_string(manifest.kinds.fourier);
  if (manifest.kinds.gated)
    text += " gated";
  if (std::string slopes = manifest.kinds.slopesText(); !slopes.empty()) {
    bool same = true;
    for (Slope s : manifest.kinds.slopes)
      same &= s == manifest.kinds.slopes.front();
    if (same) {
      text += " slopes \"" +
              std::string(slopeName(manifest.kinds.slopes.front())) + "\"";
    } else {
      text += " slopes [";
      for (size_t i = 0; i < manifest.kinds.slopes.size(); ++i)
        text += (i ? ", \"" : "\"") +
                std::string(slopeName(manifest.kinds.slopes[i])) + "\"";
      text += "]";
    }
  }
  if (!manifest.kinds.residualText().empty()) {
    text += " residual [";
    for (size_t i = 0; i < manifest.kinds.residual.size(); ++i)
      text += std::string(i ? ", " : "") +
              (manifest.kinds.residual[i] ? "true" : "false");
    text += "]";
  }
  text += " order " + std::to_string(manifest.order);
  // A partials kernel's request: the multi-indices, then the operators
  // (rows holding -2 or -4 in the coordinates they sum over).
  std::string indices, operators;
  for (const std::vector<int32_t> &row : manifest.partials) {
    int32_t kind = 0;
    std::string coordinates;
    size_t count = 0;
    for (size_t l = 0; l < row.size(); ++l)
      if (row[l] < 0) {
        kind = row[l];
        coordinates += (count++ ? ", " : "") + std::to_string(l);
      }
    if (!kind) {
      std::string alpha;
      for (size_t l = 0; l < row.size(); ++l)
        alpha += (l ? ", " : "") + std::to_string(row[l]);
      indices += (indices.empty() ? "[" : ", [") + alpha + "]";
      continue;
    }
    std::string name = kind == -4 ? "#ntp.biharmonic" : "#ntp.laplacian";
    if (count != row.size())
      name += "<[" + coordinates + "]>";
    operators += (operators.empty() ? "" : ", ") + name;
  }
  if (!indices.empty())
    text += " partials [" + indices + "]";
  if (!operators.empty())
    text += " operators [" + operators + "]";
  text += " : " + std::string(dtypeName(manifest.dtype));
  // The recorded lowerings as the requests that choose them again: the
  // forward's by name, the reverse mode's only where it is per ray beside
  // a fast forward (otherwise it follows from the forward's).
  std::string_view forward = partialsLoweringName(manifest.partialsLowering);
  std::string_view reverse =
      manifest.backward ? partialsLoweringName(manifest.partialsReverseLowering)
                        : std::string_view();
  std::string attributes;
  if (!manifest.partials.empty() && !forward.empty())
    attributes = "ntp.partials_lowering = \"" + std::string(forward) + "\"";
  if (!manifest.partials.empty() && !forward.empty() && forward != "per-ray" &&
      reverse == "per-ray")
    attributes += ", ntp.partials_reverse_lowering = \"per-ray\"";
  if (!attributes.empty())
    text += " {" + attributes + "}";
  return text;
}

} // namespace ntp::artifact
