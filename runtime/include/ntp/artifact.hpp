//===- artifact.hpp - The ntp kernel artifact format ------------*- C++ -*-===//
//
// One definition of what an ntp kernel artifact is, included by both the
// compiler (which writes artifacts) and the runtime (which reads them), in the
// manner of IREE's executable_library.h: the ABI version, the magic strings,
// the entry-point names, the manifest as a struct with exactly one serializer
// and one parser, and the derived facts (parameter count, workspace size) as
// one function each. Standard C++17 only: no MLIR, no LLVM.
//
// Anything that changes the calling convention or the container bumps
// kAbiVersion (and NTP_ABI_VERSION in runtime.h with it).
//
// The definitions live in ntp/artifact/, one header per concern; include
// this one:
//   Types.hpp           element types, devices, GPU mappings, image formats
//   LayerKinds.hpp      typed layers and the parameter count
//   Manifest.hpp        ABI version, entry points, the manifest
//   WorkspaceSizes.hpp  default tile, limits, workspace and stack sizes
//   Container.hpp       the sealed container and its reader
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_HPP
#define NTP_ARTIFACT_HPP

#include "ntp/artifact/Container.hpp"
#include "ntp/artifact/LayerKinds.hpp"
#include "ntp/artifact/Manifest.hpp"
#include "ntp/artifact/Types.hpp"
#include "ntp/artifact/WorkspaceSizes.hpp"

#endif // NTP_ARTIFACT_HPP
