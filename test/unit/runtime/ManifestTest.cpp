//===- ManifestTest.cpp - Tests of the kernel manifest parser -------------===//
#include "Manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using ntp::rt::Manifest;
using ntp::rt::parseManifest;

const std::string kValid = "ntp-kernel-manifest\n"
                           "abi_version=1\n"
                           "name=pinn\n"
                           "activation=tanh\n"
                           "order=9\n"
                           "dtype=f32\n"
                           "device=cpu\n"
                           "layers=1,24,24,24,1\n"
                           "num_params=1273\n"
                           "tile=16\n"
                           "target_cpu=x86-64-v3\n";

/// kValid with the line starting with `key=` replaced by `line` (dropped
/// when `line` is empty).
std::string withLine(const std::string &key, const std::string &line) {
  std::string text = kValid;
  size_t begin = text.find("\n" + key + "=") + 1;
  size_t end = text.find('\n', begin) + 1;
  return text.replace(begin, end - begin, line.empty() ? "" : line + "\n");
}

/// Parses `text`, expecting `status`; returns the error.
std::string parseError(const std::string &text,
                       ntp_status status = NTP_ERROR_BAD_ARTIFACT) {
  Manifest m;
  std::string error;
  EXPECT_EQ(parseManifest(text, m, error), status) << text;
  return error;
}

TEST(ManifestTest, ParsesTheExample) {
  Manifest m;
  std::string error;
  ASSERT_EQ(parseManifest(kValid, m, error), NTP_OK) << error;
  EXPECT_EQ(m.order, 9);
  EXPECT_EQ(m.layers, (std::vector<int32_t>{1, 24, 24, 24, 1}));
  EXPECT_EQ(m.activation, "tanh");
  EXPECT_EQ(m.numParams, 1273);
  EXPECT_EQ(m.dtype, NTP_DTYPE_F32);
  EXPECT_EQ(m.device, NTP_DEVICE_CPU);
  EXPECT_EQ(m.tile, 16);
}

TEST(ManifestTest, AcceptsF64CudaAndNoTrailingNewline) {
  std::string text = withLine("dtype", "dtype=f64");
  text = text.replace(text.find("device=cpu"), 10, "device=cuda");
  text.pop_back();
  Manifest m;
  std::string error;
  ASSERT_EQ(parseManifest(text, m, error), NTP_OK) << error;
  EXPECT_EQ(m.dtype, NTP_DTYPE_F64);
  EXPECT_EQ(m.device, NTP_DEVICE_CUDA);
}

TEST(ManifestTest, RejectsAWrongHeader) {
  EXPECT_EQ(parseError("ntp-kernel-manifest-v2\n" + kValid.substr(20)),
            "the first line is 'ntp-kernel-manifest-v2', not "
            "'ntp-kernel-manifest'");
  EXPECT_EQ(parseError(""), "the first line is '', not 'ntp-kernel-manifest'");
}

TEST(ManifestTest, ChecksTheAbiVersionFirst) {
  // Another ABI may lack keys this one requires; the version must decide.
  EXPECT_EQ(parseError("ntp-kernel-manifest\nabi_version=2\n",
                       NTP_ERROR_ABI_MISMATCH),
            "artifact ABI version 2 does not match this runtime's ABI "
            "version 1");
}

TEST(ManifestTest, NamesAMissingKey) {
  for (const char *key : {"abi_version", "activation", "order", "dtype",
                          "device", "layers", "num_params", "tile"})
    EXPECT_EQ(parseError(withLine(key, "")),
              std::string("required key '") + key + "' is missing");
}

TEST(ManifestTest, RejectsBadLines) {
  EXPECT_EQ(parseError(kValid + "garbage\n"),
            "line 'garbage' is not of the form key=value");
  EXPECT_EQ(parseError(kValid + "=x\n"),
            "line '=x' is not of the form key=value");
  EXPECT_EQ(parseError(kValid + "order=9\n"),
            "key 'order' appears more than once");
}

TEST(ManifestTest, RejectsBadValues) {
  EXPECT_EQ(parseError(withLine("order", "order=nine")),
            "order is 'nine', not an integer in range");
  EXPECT_EQ(parseError(withLine("order", "order=9x")),
            "order is '9x', not an integer in range");
  EXPECT_EQ(parseError(withLine("order", "order=99999999999")),
            "order is '99999999999', not an integer in range");
  EXPECT_EQ(parseError(withLine("order", "order=-1")),
            "order is -1; it must be non-negative");
  EXPECT_EQ(parseError(withLine("tile", "tile=0")),
            "tile is 0; it must be positive");
  EXPECT_EQ(parseError(withLine("activation", "activation=")),
            "activation is empty");
  EXPECT_EQ(parseError(withLine("dtype", "dtype=bf16")),
            "unknown dtype 'bf16' (expected f32 or f64)");
  EXPECT_EQ(parseError(withLine("device", "device=tpu")),
            "unknown device 'tpu' (expected cpu or cuda)");
}

TEST(ManifestTest, RejectsBadLayers) {
  EXPECT_EQ(parseError(withLine("layers", "layers=4")),
            "layers '4' needs at least an input and an output width");
  for (const char *layers : {"1,0,1", "1,-2", "1,,1", "1,2,", ""})
    EXPECT_EQ(parseError(withLine("layers", std::string("layers=") + layers)),
              std::string("layers '") + layers +
                  "' is not a list of positive integers");
}

TEST(ManifestTest, ChecksTheParameterCount) {
  EXPECT_EQ(parseError(withLine("num_params", "num_params=1272")),
            "num_params is 1272 but layers '1,24,24,24,1' have 1273 "
            "parameters");
  EXPECT_EQ(parseError(withLine("layers", "layers=2147483647,2147483647,"
                                          "2147483647,2147483647,2147483647")),
            "layers '2147483647,2147483647,2147483647,2147483647,2147483647' "
            "have too many parameters");
}

} // namespace
