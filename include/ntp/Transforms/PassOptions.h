//===- PassOptions.h - Enumerated options of ntp passes ---------*- C++ -*-===//
//
// The enums that pass and pipeline options take, with their command-line
// spellings, so that options are parsed once by llvm::cl (as upstream MLIR's
// SparseTensor pipelines do) and compared as enums everywhere after:
//   - GpuMapping: the work per GPU thread, the one enum of the artifact
//     format (runtime/include/ntp/artifact.hpp), spelled as in the manifest;
//   - JetFormulation: the arithmetic of an activation jet
//     (ntp/Support/ActivationJet.h), spelled as jetFormulationName says.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_TRANSFORMS_PASSOPTIONS_H
#define NTP_TRANSFORMS_PASSOPTIONS_H

#include "ntp/Support/ActivationJet.h"
#include "ntp/artifact.hpp"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

#include <optional>

namespace ntp {

/// Work per GPU thread: Sample (a thread per sample) or Lanes (a warp per
/// sample, a neuron per lane).
using GpuMapping = ntp::artifact::GpuMapping;

/// The mapping spelled `name` ("sample", "lanes"), for drivers that hold it as
/// text; nullopt for any other name.
inline std::optional<GpuMapping> parseGpuMapping(llvm::StringRef name) {
  for (GpuMapping m : {GpuMapping::Sample, GpuMapping::Lanes})
    if (name == llvm::StringRef(artifact::gpuMappingName(m)))
      return m;
  return std::nullopt;
}

/// The cl::values of a GpuMapping option: the manifest's spellings.
inline llvm::cl::ValuesClass gpuMappingValues() {
  using artifact::gpuMappingName;
  return llvm::cl::values(
      clEnumValN(GpuMapping::Sample, gpuMappingName(GpuMapping::Sample),
                 "a thread per sample, the jets in its registers / local "
                 "memory"),
      clEnumValN(GpuMapping::Lanes, gpuMappingName(GpuMapping::Lanes),
                 "a warp per sample, a neuron per lane, the jets in shared "
                 "memory"));
}

/// The cl::values of a JetFormulation option: jetFormulationName's spellings.
inline llvm::cl::ValuesClass jetFormulationValues() {
  return llvm::cl::values(
      clEnumValN(JetFormulation::Auto, jetFormulationName(JetFormulation::Auto),
                 "per op, the formulation with fewer flops"),
      clEnumValN(JetFormulation::FaaDiBruno,
                 jetFormulationName(JetFormulation::FaaDiBruno),
                 "Faa di Bruno's formula with exact integer coefficients"),
      clEnumValN(JetFormulation::Taylor,
                 jetFormulationName(JetFormulation::Taylor),
                 "the univariate Taylor recurrence of the primitives"));
}

} // namespace ntp

#endif // NTP_TRANSFORMS_PASSOPTIONS_H
