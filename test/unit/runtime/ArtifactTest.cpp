//===- ArtifactTest.cpp - The artifact format: manifest and container -----===//
//
// serializeManifest / parseManifest round-trip every field of CPU and CUDA
// manifests and refuse every malformed one with its sentence; the container
// refuses truncation, checksum mismatches, other versions and the golden
// ABI version 1 artifacts of golden/.
//
//===----------------------------------------------------------------------===//
#include "ntp/artifact.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace {

using namespace ntp::artifact;

KernelManifest cpuManifest() {
  KernelManifest m;
  m.name = "pinn";
  m.activation = "tanh";
  m.order = 9;
  m.dtype = Dtype::F64;
  m.device = Device::Cpu;
  m.layers = {1, 24, 24, 24, 1};
  m.numParams = *countParams(m.layers);
  m.tile = 8;
  m.backward = true;
  m.workspacePerTile = *workspaceElementsPerTile(m.layers, m.order, m.tile);
  m.targetCpu = "x86-64-v3";
  m.cpuFeatures = {"sse4.2", "avx", "avx2", "fma"};
  return m;
}

KernelManifest cudaManifest() {
  KernelManifest m;
  m.name = "net";
  m.activation = "sin";
  m.order = 4;
  m.dtype = Dtype::F32;
  m.device = Device::Cuda;
  m.layers = {2, 16, 3};
  m.numParams = *countParams(m.layers);
  m.tile = 4;
  m.targetCpu = "none";
  CudaLaunch c;
  c.chip = "sm_90a";
  c.format = ImageFormat::Cubin;
  c.mapping = GpuMapping::Lanes;
  c.blockSize = 128;
  c.samplesPerBlock = 4;
  c.imageBytes = 12345;
  m.cuda = c;
  return m;
}

void expectEqual(const KernelManifest &a, const KernelManifest &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.activation, b.activation);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.numParams, b.numParams);
  EXPECT_EQ(a.tile, b.tile);
  EXPECT_EQ(a.backward, b.backward);
  EXPECT_EQ(a.workspacePerTile, b.workspacePerTile);
  EXPECT_EQ(a.targetCpu, b.targetCpu);
  EXPECT_EQ(a.cpuFeatures, b.cpuFeatures);
  ASSERT_EQ(a.cuda.has_value(), b.cuda.has_value());
  if (a.cuda) {
    EXPECT_EQ(a.cuda->chip, b.cuda->chip);
    EXPECT_EQ(a.cuda->format, b.cuda->format);
    EXPECT_EQ(a.cuda->mapping, b.cuda->mapping);
    EXPECT_EQ(a.cuda->blockSize, b.cuda->blockSize);
    EXPECT_EQ(a.cuda->samplesPerBlock, b.cuda->samplesPerBlock);
    EXPECT_EQ(a.cuda->imageBytes, b.cuda->imageBytes);
  }
}

KernelManifest roundTrip(const KernelManifest &m) {
  KernelManifest parsed;
  std::string error;
  EXPECT_EQ(parseManifest(serializeManifest(m), parsed, error), NTP_OK)
      << error << "\n"
      << serializeManifest(m);
  return parsed;
}

/// `text` with the line of `key` replaced by `line` (dropped when empty).
std::string withLine(std::string text, const std::string &key,
                     const std::string &line) {
  size_t begin = text.find("\n" + key + "=") + 1;
  EXPECT_NE(begin, 0u) << key;
  size_t end = text.find('\n', begin) + 1;
  return text.replace(begin, end - begin, line.empty() ? "" : line + "\n");
}

std::string parseError(const std::string &text,
                       ntp_status status = NTP_ERROR_BAD_ARTIFACT) {
  KernelManifest m;
  std::string error;
  EXPECT_EQ(parseManifest(text, m, error), status) << text;
  return error;
}

const std::string kCpu = serializeManifest(cpuManifest());
const std::string kCuda = serializeManifest(cudaManifest());

std::string cpuWith(const std::string &key, const std::string &line) {
  return withLine(kCpu, key, line);
}
std::string cudaWith(const std::string &key, const std::string &line) {
  return withLine(kCuda, key, line);
}

TEST(ManifestTest, RoundTripsEveryCpuField) {
  KernelManifest m = cpuManifest();
  expectEqual(roundTrip(m), m);
  m.dtype = Dtype::F32;
  m.backward = false;
  m.workspacePerTile = 0;
  m.cpuFeatures.clear();
  m.targetCpu = "";
  expectEqual(roundTrip(m), m);
}

TEST(ManifestTest, PerLayerActivationsRoundTripAndDescribe) {
  KernelManifest m = cpuManifest();
  m.activation = "silu,identity,gelu_tanh";
  KernelManifest parsed;
  std::string error;
  ASSERT_EQ(parseManifest(serializeManifest(m), parsed, error), NTP_OK)
      << error;
  EXPECT_EQ(parsed.activation, m.activation);
  EXPECT_EQ(mlpDescription(parsed),
            "ntp.mlp @" + m.name +
                " layers [1, 24, 24, 24, 1] activation [\"silu\", "
                "\"identity\", \"gelu_tanh\"] order " +
                std::to_string(m.order) + " : " +
                std::string(dtypeName(m.dtype)));
  m.activation = "tanh";
  EXPECT_EQ(mlpDescription(m), "ntp.mlp @" + m.name +
                                   " layers [1, 24, 24, 24, 1] activation "
                                   "\"tanh\" order " +
                                   std::to_string(m.order) + " : " +
                                   std::string(dtypeName(m.dtype)));
}

TEST(ManifestTest, RoundTripsEveryCudaField) {
  KernelManifest m = cudaManifest();
  expectEqual(roundTrip(m), m);
  m.cuda->chip = "sm_80";
  m.cuda->format = ImageFormat::Ptx;
  m.cuda->mapping = GpuMapping::Sample;
  m.cuda->samplesPerBlock = m.cuda->blockSize = m.tile = 256;
  m.dtype = Dtype::F64;
  expectEqual(roundTrip(m), m);
}

TEST(ManifestTest, TheTextIsOneKeyPerLineInOrder) {
  EXPECT_EQ(kCpu, "ntp-kernel-manifest\nabi_version=2\nname=pinn\n"
                  "activation=tanh\norder=9\ndtype=f64\ndevice=cpu\n"
                  "layers=1,24,24,24,1\nnum_params=1273\ntile=8\nbackward=1\n"
                  "workspace_per_tile=11680\ntarget_cpu=x86-64-v3\n"
                  "cpu_features=sse4.2,avx,avx2,fma\n");
  EXPECT_NE(kCuda.find("\nchip=sm_90a\nformat=cubin\nmapping=lanes\n"
                       "block_size=128\nsamples_per_block=4\n"
                       "image_bytes=12345\n"),
            std::string::npos)
      << kCuda;
}

TEST(ManifestTest, RejectsAWrongHeader) {
  EXPECT_EQ(parseError("ntp-kernel-manifest-v2\n" + kCpu.substr(20)),
            "the first line is 'ntp-kernel-manifest-v2', not "
            "'ntp-kernel-manifest'");
  EXPECT_EQ(parseError(""), "the first line is '', not 'ntp-kernel-manifest'");
}

TEST(ManifestTest, ChecksTheAbiVersionFirst) {
  // Another ABI may lack keys this one requires; the version must decide.
  for (int version : {1, 3})
    EXPECT_EQ(parseError("ntp-kernel-manifest\nabi_version=" +
                             std::to_string(version) + "\n",
                         NTP_ERROR_ABI_MISMATCH),
              "artifact ABI version " + std::to_string(version) +
                  " does not match this runtime's ABI version 2; recompile "
                  "it");
}

TEST(ManifestTest, NamesAMissingKey) {
  for (const char *key : {"abi_version", "name", "activation", "order", "dtype",
                          "device", "layers", "num_params", "tile", "backward",
                          "workspace_per_tile", "target_cpu", "cpu_features"})
    EXPECT_EQ(parseError(cpuWith(key, "")),
              std::string("required key '") + key + "' is missing");
  for (const char *key : {"chip", "format", "mapping", "block_size",
                          "samples_per_block", "image_bytes"})
    EXPECT_EQ(parseError(cudaWith(key, "")),
              std::string("required key '") + key + "' is missing");
}

TEST(ManifestTest, RejectsBadLines) {
  EXPECT_EQ(parseError(kCpu + "garbage\n"),
            "line 'garbage' is not of the form key=value");
  EXPECT_EQ(parseError(kCpu + "=x\n"),
            "line '=x' is not of the form key=value");
  EXPECT_EQ(parseError(kCpu + "order=9\n"),
            "key 'order' appears more than once");
  EXPECT_EQ(parseError(kCpu + "some_future_key=1\n"),
            "unknown key 'some_future_key'");
  EXPECT_EQ(parseError(kCpu + "chip=sm_90\n"),
            "key 'chip' is only valid with device=cuda");
  EXPECT_EQ(parseError(kCpu.substr(0, kCpu.size() - 1)),
            "the last line 'cpu_features=sse4.2,avx,avx2,fma' does not end "
            "with a newline");
  EXPECT_EQ(parseError(kCpu + std::string(1, '\0')),
            "the manifest contains a NUL byte");
  EXPECT_EQ(parseError(kCpu + std::string(70000, '#')),
            "the manifest is longer than 65536 bytes");
}

TEST(ManifestTest, ParsesEveryNumberStrictly) {
  for (const char *bad :
       {"nine", "9x", "99999999999", "-1", "+9", " 9", "9 ", "09", ""})
    EXPECT_EQ(parseError(cpuWith("order", std::string("order=") + bad)),
              std::string("order is '") + bad +
                  "', not a non-negative integer in range");
  EXPECT_EQ(parseError(cpuWith("tile", "tile=18446744073709551624")),
            "tile is '18446744073709551624', not a non-negative integer in "
            "range");
  EXPECT_EQ(parseError(cpuWith("abi_version", "abi_version=2x")),
            "abi_version is '2x', not a non-negative integer in range");
}

TEST(ManifestTest, RejectsBadValues) {
  EXPECT_EQ(parseError(cpuWith("tile", "tile=0")),
            "tile is 0; it must be 1..65536");
  EXPECT_EQ(parseError(cpuWith("name", "name=")),
            "name '' is not a symbol name");
  EXPECT_EQ(parseError(cpuWith("name", "name=a b")),
            "name 'a b' is not a symbol name");
  EXPECT_EQ(parseError(cpuWith("activation", "activation=")),
            "activation '' is not a name or a comma-separated list of names");
  for (const char *bad : {"tanh,", ",tanh", "tanh,,sin", "tanh, sin"})
    EXPECT_EQ(
        parseError(cpuWith("activation", std::string("activation=") + bad)),
        std::string("activation '") + bad +
            "' is not a name or a comma-separated list of names");
  // The 1-24-24-24-1 network has three hidden layers.
  EXPECT_EQ(parseError(cpuWith("activation", "activation=silu,tanh")),
            "activation 'silu,tanh' lists 2 activations but layers "
            "'1,24,24,24,1' have 3 hidden layers");
  EXPECT_EQ(parseError(cpuWith("dtype", "dtype=bf16")),
            "unknown dtype 'bf16' (expected f32 or f64)");
  EXPECT_EQ(parseError(cpuWith("device", "device=tpu")),
            "unknown device 'tpu' (expected cpu or cuda)");
  EXPECT_EQ(parseError(cpuWith("backward", "backward=2")),
            "backward is 2; it must be 0 or 1");
  EXPECT_EQ(parseError(cpuWith("target_cpu", "target_cpu=a/b")),
            "target_cpu 'a/b' is not a CPU name");
  EXPECT_EQ(parseError(cpuWith("cpu_features", "cpu_features=avx,sse9")),
            "cpu_features names 'sse9', not a feature this runtime knows");
  EXPECT_EQ(parseError(cpuWith("cpu_features", "cpu_features=avx,avx")),
            "cpu_features names 'avx' twice");
  EXPECT_EQ(parseError(cpuWith("cpu_features", "cpu_features=avx,")),
            "cpu_features ends with a comma");
}

TEST(ManifestTest, RejectsBadLayers) {
  EXPECT_EQ(parseError(cpuWith("layers", "layers=4")),
            "layers '4' needs at least an input and an output width");
  for (const char *layers :
       {"1,0,1", "1,-2", "1,,1", "1,2,", "", "1,2147483648"})
    EXPECT_EQ(parseError(cpuWith("layers", std::string("layers=") + layers)),
              std::string("layers '") + layers +
                  "' is not a list of positive integers");
}

TEST(ManifestTest, RecomputesTheDerivedFields) {
  EXPECT_EQ(parseError(cpuWith("num_params", "num_params=1272")),
            "num_params is 1272 but layers '1,24,24,24,1' have 1273 "
            "parameters");
  EXPECT_EQ(parseError(cpuWith("layers", "layers=2147483647,2147483647,"
                                         "2147483647,2147483647,2147483647")),
            "layers '2147483647,2147483647,2147483647,2147483647,2147483647' "
            "have too many parameters");
  // A manifest that lies about the workspace (defect 8: workspace_per_tile=1)
  // or about the tile or order the workspace was computed for.
  EXPECT_EQ(parseError(cpuWith("workspace_per_tile", "workspace_per_tile=1")),
            "workspace_per_tile is 1 but the kernel's shape needs 11680");
  EXPECT_EQ(parseError(cpuWith("tile", "tile=16")),
            "workspace_per_tile is 11680 but the kernel's shape needs 23360");
  EXPECT_EQ(parseError(cpuWith("order", "order=0")),
            "workspace_per_tile is 11680 but the kernel's shape needs 1168");
  std::string forwardOnly = cpuWith("backward", "backward=0");
  EXPECT_EQ(parseError(forwardOnly),
            "workspace_per_tile is 11680 but the kernel's shape needs 0 "
            "(backward=0)");
}

TEST(ManifestTest, ValidatesTheCudaKeys) {
  // Defect 7: the SM number must not wrap (4294967386 = 2^32 + 90).
  for (const char *chip : {"sm_4294967386", "sm_90b", "sm_", "sm_9", "90",
                           "compute_90", "sm_99999", "sm_-90"})
    EXPECT_EQ(parseError(cudaWith("chip", std::string("chip=") + chip)),
              std::string("chip '") + chip +
                  "' is not an NVIDIA architecture sm_NN or sm_NNa");
  EXPECT_EQ(parseError(cudaWith("block_size", "block_size=4294967424")),
            "block_size is 4294967424; it must be 1..1024");
  for (const char *bad : {"128x", "-128", "0x80"})
    EXPECT_EQ(
        parseError(cudaWith("block_size", std::string("block_size=") + bad)),
        std::string("block_size is '") + bad +
            "', not a non-negative integer in range");
  EXPECT_EQ(parseError(cudaWith("samples_per_block", "samples_per_block=4x")),
            "samples_per_block is '4x', not a non-negative integer in range");
  EXPECT_EQ(parseError(cudaWith("block_size", "block_size=2048")),
            "block_size is 2048; it must be 1..1024");
  EXPECT_EQ(parseError(cudaWith("block_size", "block_size=96")),
            "samples_per_block is 4 but block_size 96 needs block_size / 32 "
            "with mapping=lanes");
  EXPECT_EQ(parseError(cudaWith("mapping", "mapping=sample")),
            "samples_per_block is 4 but block_size 128 needs block_size with "
            "mapping=sample");
  EXPECT_EQ(parseError(cudaWith("mapping", "mapping=warp")),
            "unknown mapping 'warp' (expected sample or lanes)");
  EXPECT_EQ(parseError(cudaWith("format", "format=sass")),
            "unknown format 'sass' (expected ptx or cubin)");
  EXPECT_EQ(parseError(cudaWith("tile", "tile=1")),
            "tile is 1 but a CUDA kernel's tile is samples_per_block (4)");
  EXPECT_EQ(parseError(cudaWith("image_bytes", "image_bytes=0")),
            "image_bytes is 0; a CUDA artifact needs an image");
}

//===----------------------------------------------------------------------===//
// The container
//===----------------------------------------------------------------------===//

std::string openError(std::string_view bytes,
                      ntp_status status = NTP_ERROR_BAD_ARTIFACT) {
  ArtifactView view;
  std::string error;
  EXPECT_EQ(openArtifact(bytes, view, error), status);
  return error;
}

std::string readGolden(const char *name) {
  std::ifstream in(std::string(NTP_GOLDEN_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A partials kernel's request (issue 12): one optional key, rows of
// input_dim entries, checked like every other field.
TEST(ManifestTest, RoundTripsAndChecksThePartialsRequest) {
  KernelManifest m = cpuManifest();
  m.layers = {3, 8, 1};
  m.numParams = *countParams(m.layers);
  m.order = 4;
  m.backward = false;
  m.workspacePerTile = 0;
  m.partials = {{2, 0, 0}, {1, 1, 0}, {0, 0, 0}, {-2, -2, 0}, {-4, -4, -4}};
  std::string text = serializeManifest(m);
  EXPECT_NE(text.find("\npartials=2,0,0;1,1,0;0,0,0;-2,-2,0;-4,-4,-4\n"),
            std::string::npos)
      << text;
  KernelManifest parsed = roundTrip(m);
  EXPECT_EQ(parsed.partials, m.partials);
  EXPECT_EQ(parsed.outputRows(), 5);
  EXPECT_EQ(roundTrip(cpuManifest()).partials.size(), 0u);
  EXPECT_EQ(cpuManifest().outputRows(), 10);
  // A jet kernel's manifest has no partials line at all.
  EXPECT_EQ(kCpu.find("partials"), std::string::npos);
  auto with = [&](const std::string &rows) {
    return withLine(text, "partials", "partials=" + rows);
  };
  EXPECT_NE(parseError(with("1,1")).find("has 2 entries but the network has 3"),
            std::string::npos);
  EXPECT_NE(parseError(with("1,-1,0")).find("not -2 or -4"), std::string::npos);
  EXPECT_NE(parseError(with("1,x,0")).find("not a list of integers"),
            std::string::npos);
  EXPECT_NE(parseError(with("3,2,0")).find("higher order than 4"),
            std::string::npos);
  EXPECT_NE(parseError(with("1,1,0;1,1,0")).find("appears twice"),
            std::string::npos);
  EXPECT_NE(parseError(with("")).find("not a list of integers"),
            std::string::npos);

  // With the reverse mode: the workspace follows the compiler's plan of
  // rays, which the runtime checks only for being whole coefficients'
  // worth (partialsWorkspaceElementsPerTile).
  m.backward = true;
  m.workspacePerTile = *partialsWorkspaceElementsPerTile(m.layers, 25, m.tile);
  EXPECT_EQ(roundTrip(m).workspacePerTile, m.workspacePerTile);
  EXPECT_EQ(m.workspacePerTile,
            25 * *workspaceElementsPerTile(m.layers, 0, m.tile));
  EXPECT_FALSE(partialsWorkspaceElementsPerTile(m.layers, 0, m.tile));
  std::string saved = serializeManifest(m);
  std::string perCoefficient =
      std::to_string(*workspaceElementsPerTile(m.layers, 0, m.tile));
  for (const std::string &bad :
       {std::string("0"), std::to_string(m.workspacePerTile + 1)})
    EXPECT_NE(parseError(withLine(saved, "workspace_per_tile",
                                  "workspace_per_tile=" + bad))
                  .find("but a partials kernel's must be a positive multiple "
                        "of " +
                        perCoefficient),
              std::string::npos)
        << bad;
}

// A partials kernel's recorded lowerings: optional keys, printable text
// beginning with a lowering name, the reverse mode's only with backward=1;
// the description turns them into the ntp.mlp attributes that choose them
// again.
TEST(ManifestTest, RoundTripsAndChecksThePartialsLowerings) {
  KernelManifest m = cpuManifest();
  m.layers = {3, 8, 1};
  m.numParams = *countParams(m.layers);
  m.order = 2;
  m.partials = {{2, 0, 0}, {1, 1, 0}};
  m.workspacePerTile = *partialsWorkspaceElementsPerTile(m.layers, 7, m.tile);
  m.partialsLowering = "multivariate: 10 monomials of degree <= 2; 1234 flops "
                       "+ 16 primitives per sample";
  m.partialsReverseLowering = "per-ray; 2345 flops + 40 primitives per sample";
  std::string text = serializeManifest(m);
  EXPECT_NE(text.find("\npartials_lowering=" + m.partialsLowering +
                      "\npartials_reverse_lowering=" +
                      m.partialsReverseLowering + "\n"),
            std::string::npos)
      << text;
  KernelManifest parsed = roundTrip(m);
  EXPECT_EQ(parsed.partialsLowering, m.partialsLowering);
  EXPECT_EQ(parsed.partialsReverseLowering, m.partialsReverseLowering);
  EXPECT_EQ(mlpDescription(parsed),
            "ntp.mlp @pinn layers [3, 8, 1] activation \"tanh\" order 2 "
            "partials [[2, 0, 0], [1, 1, 0]] : f64 {ntp.partials_lowering = "
            "\"multivariate\", ntp.partials_reverse_lowering = \"per-ray\"}");
  // A reverse mode that follows the forward needs no attribute of its own;
  // a per-ray forward implies a per-ray reverse mode.
  auto typeOnward = [](const KernelManifest &k) {
    std::string d = mlpDescription(roundTrip(k));
    return d.substr(d.find(" : f64"));
  };
  KernelManifest follows = m;
  follows.partialsReverseLowering = "multivariate: 10 monomials";
  EXPECT_EQ(typeOnward(follows),
            " : f64 {ntp.partials_lowering = \"multivariate\"}");
  KernelManifest perRay = m;
  perRay.partialsLowering = "per-ray; 2345 flops + 40 primitives per sample";
  EXPECT_EQ(typeOnward(perRay), " : f64 {ntp.partials_lowering = \"per-ray\"}");
  // Without the reverse mode the reverse lowering is neither written nor
  // accepted; artifacts that predate the keys have none.
  KernelManifest forwardOnly = m;
  forwardOnly.backward = false;
  forwardOnly.workspacePerTile = 0;
  std::string forwardText = serializeManifest(forwardOnly);
  EXPECT_EQ(forwardText.find("partials_reverse_lowering"), std::string::npos);
  EXPECT_EQ(roundTrip(forwardOnly).partialsReverseLowering, "");
  EXPECT_NE(parseError(forwardText + "partials_reverse_lowering=per-ray\n")
                .find("partials_reverse_lowering is only valid with "
                      "backward=1"),
            std::string::npos);
  KernelManifest bare = m;
  bare.partialsLowering.clear();
  bare.partialsReverseLowering.clear();
  KernelManifest none = roundTrip(bare);
  EXPECT_EQ(none.partialsLowering, "");
  EXPECT_EQ(mlpDescription(none).find("{"), std::string::npos);
  // Bad values, each named; a jet kernel records none.
  auto with = [&](const std::string &value) {
    return withLine(text, "partials_lowering", "partials_lowering=" + value);
  };
  EXPECT_NE(
      parseError(with("fastest; 1 flops"))
          .find("partials_lowering 'fastest; 1 flops' does not begin with "
                "a lowering name (per-ray, multi-direction, collapsed, "
                "multivariate)"),
      std::string::npos);
  EXPECT_NE(parseError(with("per-rays")).find("does not begin with"),
            std::string::npos);
  EXPECT_NE(parseError(with("")).find("does not begin with"),
            std::string::npos);
  EXPECT_NE(parseError(with("collapsed\tx"))
                .find("holds a character that is not printable ASCII"),
            std::string::npos);
  EXPECT_NE(parseError(kCpu + "partials_lowering=per-ray\n")
                .find("partials_lowering is only valid for a partials kernel"),
            std::string::npos);
  EXPECT_EQ(partialsLoweringName("multi-direction: 2 blocks"),
            "multi-direction");
  EXPECT_EQ(partialsLoweringName("collapsed"), "collapsed");
  EXPECT_EQ(partialsLoweringName("multivariatex"), "");
}

TEST(ManifestTest, RoundTripsAndChecksTypedLayers) {
  KernelManifest m = cpuManifest();
  m.kinds.slopes = {Slope::Neuron, Slope::None, Slope::Layer};
  m.kinds.residual = {false, true, true};
  m.kinds.fourier = 8;
  // B [8, 1]; W_1 [24, 16], b_1, 24 slopes; W_2, b_2; W_3, b_3, 1 slope;
  // W_4, b_4.
  m.numParams = *countParams(m.layers, m.kinds);
  EXPECT_EQ(m.numParams, 8 + (16 * 24 + 24 + 24) + (24 * 24 + 24) +
                             (24 * 24 + 24 + 1) + (24 + 1));
  // Saved jets: x, 2 pi B x and its sines (2 x 16), then per hidden layer
  // the affine, scaled, activated and summed jets as present, the output.
  m.workspacePerTile =
      *workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
  EXPECT_EQ(m.workspacePerTile,
            (1 + 32 + 24 * 3 + 24 * 3 + 24 * 4 + 1) * (m.order + 1) * m.tile);
  std::string text = serializeManifest(m);
  EXPECT_NE(text.find("\nslopes=neuron,none,layer\nresidual=0,1,1\n"
                      "fourier=8\n"),
            std::string::npos)
      << text;
  KernelManifest parsed = roundTrip(m);
  EXPECT_EQ(parsed.kinds.slopes, m.kinds.slopes);
  EXPECT_EQ(parsed.kinds.residual, m.kinds.residual);
  EXPECT_EQ(parsed.kinds.fourier, 8);
  EXPECT_EQ(mlpDescription(parsed),
            "ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation \"tanh\" "
            "fourier 8 slopes [\"neuron\", \"none\", \"layer\"] residual "
            "[false, true, true] order 9 : f64");
  // A plain MLP's manifest has none of the keys.
  EXPECT_EQ(kCpu.find("slopes"), std::string::npos);
  EXPECT_EQ(kCpu.find("residual"), std::string::npos);
  EXPECT_EQ(kCpu.find("fourier"), std::string::npos);
  // Bad values, each named.
  EXPECT_NE(parseError(withLine(text, "slopes", "slopes=neuron,steep,none"))
                .find("is not a comma-separated list of none, layer, neuron"),
            std::string::npos);
  EXPECT_NE(parseError(withLine(text, "slopes", "slopes=neuron"))
                .find("slopes lists 1 entries but the network has 3 hidden "
                      "layers"),
            std::string::npos);
  EXPECT_NE(parseError(withLine(text, "residual", "residual=1,1,1"))
                .find("the first hidden layer cannot be residual"),
            std::string::npos);
  EXPECT_NE(parseError(withLine(text, "residual", "residual=0,2,1"))
                .find("is not a comma-separated list of 0 and 1"),
            std::string::npos);
  EXPECT_NE(parseError(withLine(text, "fourier", "fourier=0"))
                .find("fourier must be a number of frequencies >= 1"),
            std::string::npos);
  // The counts follow the kinds: a manifest whose num_params ignores the
  // slopes is refused.
  EXPECT_NE(parseError(withLine(text, "fourier", "")).find("num_params is"),
            std::string::npos);
}

/// The modified MLP's gates (issue 14): W_u, b_u, W_v, b_v in the count,
/// U, V (and their affine jets) and each gate in the workspace, the `gated`
/// key only when used, and its rules.
TEST(ManifestTest, RoundTripsAndChecksGatedLayers) {
  KernelManifest m = cpuManifest();
  m.kinds.gated = true;
  m.kinds.slopes = {Slope::None, Slope::Neuron, Slope::None};
  m.numParams = *countParams(m.layers, m.kinds);
  EXPECT_EQ(m.numParams, *countParams(m.layers) + 2 * (24 + 24) + 24);
  m.workspacePerTile =
      *workspaceElementsPerTile(m.layers, m.order, m.tile, m.kinds);
  // x, W_u x + b_u, U, W_v x + b_v, V, per hidden layer the affine, (the
  // slope,) the activation and the gate, the output.
  EXPECT_EQ(m.workspacePerTile, (1 + 4 * 24 + 3 * 24 + 4 * 24 + 3 * 24 + 1) *
                                    (m.order + 1) * m.tile);
  // The stack: every jet and four cotangent buffers of the widest layer.
  EXPECT_EQ(*jetStackElementsPerTile(m.layers, m.order, m.tile, m.kinds),
            m.workspacePerTile + 4 * 24 * (m.order + 1) * m.tile);
  std::string text = serializeManifest(m);
  EXPECT_NE(text.find("\nslopes=none,neuron,none\ngated=1\n"),
            std::string::npos)
      << text;
  KernelManifest parsed = roundTrip(m);
  EXPECT_TRUE(parsed.kinds.gated);
  EXPECT_EQ(mlpDescription(parsed),
            "ntp.mlp @pinn layers [1, 24, 24, 24, 1] activation \"tanh\" "
            "gated slopes [\"none\", \"neuron\", \"none\"] order 9 : f64");
  EXPECT_EQ(kCpu.find("gated"), std::string::npos);
  EXPECT_NE(parseError(withLine(text, "gated", "gated=0"))
                .find("gated '0' must be 1"),
            std::string::npos);
  // Without the key the counts are a plain network's: refused.
  EXPECT_NE(parseError(withLine(text, "gated", "")).find("num_params is"),
            std::string::npos);
  // Hidden widths that differ are refused with the rule's sentence.
  KernelManifest widths = m;
  widths.layers = {1, 24, 16, 24, 1};
  widths.kinds.slopes.clear();
  EXPECT_NE(widths.kinds.check(widths.layers)
                .find("a gated layer's branches differ in width: U and V "
                      "have the first hidden width 24 but hidden layer 2 has "
                      "width 16"),
            std::string::npos);
}

TEST(ContainerTest, SealsAndOpens) {
  KernelManifest m = cudaManifest();
  std::string image(12345, 'p');
  std::string sealed = sealArtifact(image, m);
  EXPECT_EQ(sealed.size(), image.size() + kCuda.size() + kTrailerBytes);
  ArtifactView view;
  std::string error;
  ASSERT_EQ(openArtifact(sealed, view, error), NTP_OK) << error;
  EXPECT_EQ(view.payload, image);
  EXPECT_EQ(view.manifestText, kCuda);
  expectEqual(view.manifest, m);
  EXPECT_EQ(sealed.substr(sealed.size() - 8), kTrailerMagic);
}

TEST(ContainerTest, ChecksumChangesWithEveryByte) {
  EXPECT_EQ(checksum64(""), kChecksumSeed);
  EXPECT_EQ(checksum64("a"), 0xaf63dc4c8601ec8cull); // FNV-1a test vector
  EXPECT_NE(checksum64("ab"), checksum64("ba"));
}

TEST(ContainerTest, RefusesEveryTruncation) {
  std::string sealed = sealArtifact(std::string(12345, 'p'), cudaManifest());
  for (size_t size : {size_t(0), size_t(1), size_t(39), size_t(40),
                      sealed.size() / 2, sealed.size() - 1}) {
    ArtifactView view;
    std::string error;
    EXPECT_EQ(
        openArtifact(std::string_view(sealed).substr(0, size), view, error),
        NTP_ERROR_BAD_ARTIFACT)
        << size;
  }
  // Cut from the front: the trailer is intact but the sizes do not add up.
  EXPECT_EQ(openError(std::string_view(sealed).substr(1)),
            "it is truncated or corrupt (its trailer's sizes do not add up to "
            "the file's " +
                std::to_string(sealed.size() - 1) + " bytes)");
}

TEST(ContainerTest, RefusesAChecksumMismatch) {
  std::string sealed = sealArtifact(std::string(12345, 'p'), cudaManifest());
  // The payload, the manifest, the checksum field itself.
  for (size_t at :
       {size_t(0), size_t(12344), size_t(12345 + 30), sealed.size() - 20}) {
    std::string damaged = sealed;
    damaged[at] ^= 0x10;
    EXPECT_EQ(openError(damaged), "it is corrupt (checksum mismatch)") << at;
  }
}

TEST(ContainerTest, ImageBytesMustMatchThePayload) {
  std::string sealed = sealArtifact(std::string(100, 'p'), cudaManifest());
  EXPECT_EQ(openError(sealed),
            "it is corrupt: the image has 100 bytes, the manifest says 12345");
}

TEST(ContainerTest, RefusesOtherTrailerVersions) {
  std::string sealed = sealArtifactText("payload", kCpu, 3);
  EXPECT_EQ(openError(sealed, NTP_ERROR_ABI_MISMATCH),
            "it is an ntp kernel artifact of ABI version 3, but this runtime "
            "loads version 2: recompile it with this ntp-compile");
}

TEST(ContainerTest, RefusesAMalformedManifestInside) {
  EXPECT_EQ(openError(sealArtifactText("payload", cpuWith("tile", "tile=x"))),
            "it has a malformed manifest: tile is 'x', not a non-negative "
            "integer in range");
}

TEST(ContainerTest, RefusesForeignBytes) {
  EXPECT_EQ(openError(""), "it is empty, not an ntp kernel artifact");
  EXPECT_EQ(openError(std::string(100, 'x')),
            "it is not an ntp kernel artifact (no artifact trailer)");
  EXPECT_EQ(openError("\x7f"
                      "ELF and more bytes than a trailer holds, just to be "
                      "sure"),
            "it is a shared object without an ntp artifact trailer (not an "
            "ntp kernel artifact, or truncated)");
}

TEST(ContainerTest, RefusesTheGoldenAbi1Artifacts) {
  const std::string message = "it is an ntp kernel artifact of ABI version 1, "
                              "but this runtime loads version 2: recompile it "
                              "with this ntp-compile";
  std::string cpu = readGolden("abi1_cpu.so");
  ASSERT_GT(cpu.size(), 1000u);
  EXPECT_EQ(openError(cpu, NTP_ERROR_ABI_MISMATCH), message);
  std::string cuda = readGolden("abi1_cuda.ntp");
  ASSERT_EQ(cuda.rfind(kLegacyCudaMagic, 0), 0u);
  EXPECT_EQ(openError(cuda, NTP_ERROR_ABI_MISMATCH), message);
}

} // namespace
