//===- Types.hpp - Element types, devices, GPU mappings ---------*- C++ -*-===//
//
// Part of ntp/artifact.hpp (include that): the enums a kernel artifact is
// described by, each with its name, and the values of the C API's enums.
//
//===----------------------------------------------------------------------===//
#ifndef NTP_ARTIFACT_TYPES_HPP
#define NTP_ARTIFACT_TYPES_HPP

#include "ntp/runtime.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace ntp::artifact {

/// Element type; the values are those of ntp_dtype.
enum class Dtype : int32_t { F32 = NTP_DTYPE_F32, F64 = NTP_DTYPE_F64 };
/// Where the kernel runs; the values are those of ntp_device.
enum class Device : int32_t { Cpu = NTP_DEVICE_CPU, Cuda = NTP_DEVICE_CUDA };
/// CUDA only: work per GPU thread. Sample: a thread per sample; Lanes: a warp
/// per sample, a neuron per lane.
enum class GpuMapping : int32_t { Sample = 0, Lanes = 1 };
/// CUDA only: the image a CUDA artifact carries.
enum class ImageFormat : int32_t { Ptx = 0, Cubin = 1 };

constexpr int64_t dtypeBytes(Dtype dtype) {
  return dtype == Dtype::F64 ? 8 : 4;
}
constexpr std::string_view dtypeName(Dtype dtype) {
  return dtype == Dtype::F64 ? "f64" : "f32";
}
constexpr std::string_view deviceName(Device device) {
  return device == Device::Cuda ? "cuda" : "cpu";
}
/// Every device, in the order of ntp_device: what deviceName and
/// parseDevice know (the #ntp.kernel verifier's list of device names).
inline constexpr Device kDevices[] = {Device::Cpu, Device::Cuda};
/// The device called `name` (the inverse of deviceName), or none.
constexpr std::optional<Device> parseDevice(std::string_view name) {
  for (Device device : kDevices)
    if (deviceName(device) == name)
      return device;
  return std::nullopt;
}
constexpr std::string_view gpuMappingName(GpuMapping mapping) {
  return mapping == GpuMapping::Lanes ? "lanes" : "sample";
}
constexpr std::string_view imageFormatName(ImageFormat format) {
  return format == ImageFormat::Cubin ? "cubin" : "ptx";
}

} // namespace ntp::artifact

#endif // NTP_ARTIFACT_TYPES_HPP
