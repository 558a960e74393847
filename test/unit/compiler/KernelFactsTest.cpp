//===- KernelFactsTest.cpp - One description of a kernel ------------------===//
//
// ntp::describeKernel decides a kernel's facts; #ntp.kernel carries them on
// the module; the compile chain's targets stamp them. These tests check that
// the three agree, and the function's own rules.
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/KernelFacts.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpAttributes.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

using namespace ntp;
namespace art = ntp::artifact;

namespace {

NetworkDescription network(std::vector<int64_t> layers, int64_t order,
                           art::Dtype dtype = art::Dtype::F32) {
  NetworkDescription n;
  n.name = "net";
  n.layers = std::move(layers);
  n.activation = "tanh";
  n.order = order;
  n.dtype = dtype;
  return n;
}

art::KernelManifest describe(const NetworkDescription &n,
                             const KernelTarget &t) {
  art::KernelManifest m;
  std::string error;
  EXPECT_TRUE(describeKernel(n, t, m, error)) << error;
  return m;
}

std::string describeError(const NetworkDescription &n, const KernelTarget &t) {
  art::KernelManifest m;
  std::string error;
  EXPECT_FALSE(describeKernel(n, t, m, error));
  return error;
}

TEST(KernelFactsTest, PerLayerActivationsAreCanonical) {
  // One name per hidden layer is kept as the list; a list of one name
  // repeated is that name (one kernel, one cache key).
  KernelTarget cpu;
  NetworkDescription n = network({1, 4, 4, 1}, 2);
  n.activation = "silu,tanh";
  EXPECT_EQ(describe(n, cpu).activation, "silu,tanh");
  n.activation = "tanh,tanh";
  art::KernelManifest repeated = describe(n, cpu);
  EXPECT_EQ(repeated.activation, "tanh");
  n.activation = "tanh";
  EXPECT_EQ(kernelKeyText(describe(n, cpu)), kernelKeyText(repeated));
  // No hidden layer: one name is accepted (and applies to none).
  EXPECT_EQ(describe(network({2, 3}, 1), cpu).activation, "tanh");
}

TEST(KernelFactsTest, TypedLayers) {
  // The kinds are facts: the parameter count and workspace include them,
  // the cache key names them, a plain network's key is unchanged, and
  // all-none kinds are the plain network.
  KernelTarget t;
  t.backward = true;
  NetworkDescription plain = network({2, 8, 8, 1}, 3);
  NetworkDescription typed = plain;
  typed.kinds.slopes = {art::Slope::Neuron, art::Slope::Layer};
  typed.kinds.residual = {false, true};
  typed.kinds.fourier = 4;
  art::KernelManifest p = describe(plain, t), m = describe(typed, t);
  EXPECT_EQ(p.numParams, 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1);
  EXPECT_EQ(m.numParams, 4 * 2 + 8 * 8 + 8 + 8 + 8 * 8 + 8 + 1 + 8 + 1);
  EXPECT_EQ(m.workspacePerTile, (2 + 16 + 8 * 3 + 8 * 4 + 1) * 4 * m.tile);
  std::string key = kernelKeyText(m);
  EXPECT_NE(key.find("\nslopes=neuron,layer\nresidual=0,1\nfourier=4\n"),
            std::string::npos)
      << key;
  EXPECT_EQ(kernelKeyText(p).find("slopes"), std::string::npos);
  NetworkDescription none = plain;
  none.kinds.slopes = {art::Slope::None, art::Slope::None};
  none.kinds.residual = {false, false};
  EXPECT_EQ(kernelKeyText(describe(none, t)), kernelKeyText(p));
  // networkOf inverts describeKernel on the kinds too.
  EXPECT_EQ(kernelKeyText(describe(networkOf(m), t)), key);
  // The rules, one sentence each.
  NetworkDescription bad = plain;
  bad.kinds.residual = {true, false};
  EXPECT_EQ(describeError(bad, t),
            "the first hidden layer cannot be residual: its input is the "
            "network input, not a hidden layer's output");
  bad = plain;
  bad.kinds.slopes = {art::Slope::Layer};
  EXPECT_EQ(describeError(bad, t),
            "slopes lists 1 entries but the network has 2 hidden layers");
  bad = plain;
  bad.kinds.fourier = -1;
  EXPECT_NE(describeError(bad, t).find("a Fourier embedding has"),
            std::string::npos);
  // Partials kernels take typed layers (issue 14 item 2); their workspace
  // holds every ray's typed jets: the same widths as the jet kernel's, one
  // set per jet coefficient (u_xx: the ray e_0 of order 2, 3 coefficients).
  NetworkDescription typedPartials = typed;
  typedPartials.partials = {{2, 0}};
  typedPartials.order = 2;
  art::KernelManifest tp = describe(typedPartials, t);
  EXPECT_EQ(tp.workspacePerTile, (2 + 16 + 8 * 3 + 8 * 4 + 1) * 3 * tp.tile);
  // A gated one: U's and V's jets (4 h) and each layer's gate too.
  NetworkDescription gated = network({2, 8, 8, 1}, 2);
  gated.kinds.gated = true;
  gated.partials = {{2, 0}};
  art::KernelManifest gp = describe(gated, t);
  EXPECT_EQ(gp.workspacePerTile, (2 + 4 * 8 + 8 * 3 * 2 + 1) * 3 * gp.tile);
}

TEST(KernelFactsTest, CpuFacts) {
  KernelTarget t;
  art::KernelManifest m = describe(network({1, 24, 1}, 3), t);
  EXPECT_EQ(m.tile, 16);
  EXPECT_FALSE(m.backward);
  EXPECT_EQ(m.workspacePerTile, 0);
  EXPECT_EQ(m.numParams, 24 + 24 + 24 + 1);
  EXPECT_EQ(entryPointSymbols(m),
            std::vector<std::string>{"net_forward_tiles"});
  EXPECT_EQ(describe(network({1, 24, 1}, 3, art::Dtype::F64), t).tile, 8);

  t.backward = true;
  t.tile = 4;
  m = describe(network({1, 24, 1}, 3), t);
  EXPECT_EQ(m.tile, 4);
  EXPECT_EQ(m.workspacePerTile,
            *art::workspaceElementsPerTile({1, 24, 1}, 3, 4));
  EXPECT_EQ(entryPointSymbols(m),
            (std::vector<std::string>{"net_forward_tiles", "net_backward_tiles",
                                      "net_forward_save_tiles",
                                      "net_backward_saved_tiles"}));
}

// A partials kernel's reverse mode saves the jets of all its rays: 9 jet
// coefficients for d^2/dx0 dx1 and f (rays e0, e1, (1,1) to order 2).
TEST(KernelFactsTest, PartialsReverseMode) {
  NetworkDescription n = network({2, 4, 1}, 2);
  n.partials = {{1, 1}, {0, 0}};
  KernelTarget t;
  art::KernelManifest m = describe(n, t);
  EXPECT_FALSE(m.backward);
  EXPECT_EQ(m.workspacePerTile, 0);
  t.backward = true;
  m = describe(n, t);
  EXPECT_TRUE(m.backward);
  EXPECT_EQ(m.workspacePerTile,
            *art::partialsWorkspaceElementsPerTile({2, 4, 1}, 9, 16));
  EXPECT_EQ(m.workspacePerTile, 9 * (2 + 4 + 4 + 1) * 16);
  EXPECT_EQ(entryPointSymbols(m).size(), 4u);
  // The GPU compiles them too (issue 12 item 7): a block's samples are the
  // tile, so the workspace per block is the same formula at tile = samples
  // per block.
  t.device = art::Device::Cuda;
  t.chip = "sm_90";
  art::KernelManifest cuda = describe(n, t);
  ASSERT_TRUE(cuda.cuda);
  EXPECT_EQ(cuda.tile, 128);
  EXPECT_TRUE(cuda.backward);
  EXPECT_EQ(cuda.workspacePerTile, 9 * (2 + 4 + 4 + 1) * 128);
  EXPECT_EQ(entryPointSymbols(cuda),
            (std::vector<std::string>{"net_forward", "net_forward_save",
                                      "net_backward_saved",
                                      "net_reduce_params_grad"}));
  t.mapping = art::GpuMapping::Lanes;
  t.samplesPerBlock = 2;
  cuda = describe(n, t);
  EXPECT_EQ(cuda.workspacePerTile, 9 * (2 + 4 + 4 + 1) * 2);
}

TEST(KernelFactsTest, CudaFacts) {
  KernelTarget t;
  t.device = art::Device::Cuda;
  t.chip = "sm_80";
  t.mapping = art::GpuMapping::Lanes;
  t.samplesPerBlock = 2;
  art::KernelManifest m = describe(network({1, 8, 1}, 2), t);
  EXPECT_EQ(m.tile, 2);
  ASSERT_TRUE(m.cuda);
  EXPECT_EQ(m.cuda->blockSize, 64);
  EXPECT_EQ(m.cuda->samplesPerBlock, 2);
  EXPECT_EQ(entryPointSymbols(m), std::vector<std::string>{"net_forward"});
  t.mapping = art::GpuMapping::Sample;
  t.blockSize = 256;
  m = describe(network({1, 8, 1}, 2), t);
  EXPECT_EQ(m.cuda->blockSize, 256);
  EXPECT_EQ(m.cuda->samplesPerBlock, 256);
  EXPECT_EQ(m.tile, 256);
  EXPECT_FALSE(m.backward);

  // The GPU reverse mode: a block's saved jets, and its three kernels.
  t.backward = true;
  m = describe(network({1, 8, 1}, 2), t);
  EXPECT_TRUE(m.backward);
  EXPECT_EQ(m.workspacePerTile,
            *art::workspaceElementsPerTile({1, 8, 1}, 2, 256));
  EXPECT_EQ(entryPointSymbols(m),
            (std::vector<std::string>{"net_forward", "net_forward_save",
                                      "net_backward_saved",
                                      "net_reduce_params_grad"}));
  // Its workspace after the header: jets, per-sample gradient columns,
  // per-block partials, the scratch x gradient.
  EXPECT_EQ(art::cudaWorkspaceElements(m, 300),
            2 * m.workspacePerTile + 25 * 300 + 2 * 25 + 300);
}

TEST(KernelFactsTest, Errors) {
  KernelTarget cpu;
  EXPECT_NE(describeError(network({4}, 1), cpu).find("two layer widths"),
            std::string::npos);
  EXPECT_NE(describeError(network({int64_t(1) << 32, int64_t(1) << 32}, 1), cpu)
                .find("fits in int64"),
            std::string::npos);
  EXPECT_NE(describeError(network({1, 1}, 33), cpu).find("[0, 32]"),
            std::string::npos);
  NetworkDescription counted = network({1, 4, 4, 1}, 1);
  counted.activation = "silu,tanh,cos";
  EXPECT_NE(describeError(counted, cpu)
                .find("one activation per hidden layer: 2 hidden layers, 3 "
                      "activations"),
            std::string::npos);
  counted.activation = "silu,";
  EXPECT_NE(describeError(counted, cpu).find("unknown activation ''"),
            std::string::npos);
  counted.activation = "silu,relu";
  EXPECT_NE(describeError(counted, cpu).find("unknown activation 'relu'"),
            std::string::npos);
  NetworkDescription relu = network({1, 1}, 1);
  relu.activation = "relu";
  EXPECT_NE(describeError(relu, cpu).find("unknown activation 'relu'"),
            std::string::npos);
  KernelTarget cuda;
  cuda.device = art::Device::Cuda;
  cuda.chip = "sm_80";
  cuda.chip.clear();
  EXPECT_NE(describeError(network({1, 1}, 1), cuda).find("needs a chip"),
            std::string::npos);
}

class KernelAttrTest : public ::testing::Test {
protected:
  KernelAttrTest() {
    mlir::DialectRegistry registry;
    registerNtpGpuCompilerDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    context.disableMultithreading();
  }
  mlir::MLIRContext context;
};

TEST_F(KernelAttrTest, RoundTripsTheManifest) {
  KernelTarget cpu;
  cpu.backward = true;
  cpu.cpu = "x86-64-v3";
  cpu.cpuFeatures = {"avx2", "fma"};
  art::KernelManifest m = describe(network({2, 3, 1}, 4), cpu);
  EXPECT_EQ(kernelKeyText(KernelAttr::get(&context, m).getManifest()),
            kernelKeyText(m));
  KernelTarget cuda;
  cuda.device = art::Device::Cuda;
  cuda.chip = "sm_90";
  cuda.mapping = art::GpuMapping::Lanes;
  m = describe(network({2, 3, 1}, 4, art::Dtype::F64), cuda);
  EXPECT_EQ(kernelKeyText(KernelAttr::get(&context, m).getManifest()),
            kernelKeyText(m));
}

/// Compiles `layers` to the lowered stage of `targetName` and returns the
/// facts on the module's #ntp.kernel.
art::KernelManifest lowered(mlir::MLIRContext &context,
                            const std::string &targetName,
                            const CompileOptions &options) {
  MlpDescription description;
  description.name = "net";
  description.layers = {1, 8, 1};
  description.order = 3;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildMlpModule(context, description);
  EXPECT_TRUE(module);
  mlir::PassManager pm(&context);
  CompileOutput output;
  std::string error;
  EXPECT_TRUE(compile(*module, *getTarget(targetName), EmitStage::Lowered,
                      options, pm, output, error))
      << error;
  mlir::FailureOr<art::KernelManifest> facts = readKernelManifest(*module);
  EXPECT_TRUE(mlir::succeeded(facts));
  EXPECT_EQ(kernelKeyText(*facts), kernelKeyText(output.manifest));
  return *facts;
}

TEST_F(KernelAttrTest, TheCompiledModuleCarriesTheDescribedFacts) {
  CompileOptions options;
  options.tileSize = 4;
  options.get<CpuTargetOptions>().cpu = "x86-64-v3";
  art::KernelManifest cpu = lowered(context, "cpu", options);
  KernelTarget target;
  target.tile = 4;
  target.backward = true;
  target.cpu = "x86-64-v3";
  target.cpuFeatures = {"sse4.2", "avx", "avx2", "fma", "bmi", "bmi2"};
  EXPECT_EQ(kernelKeyText(cpu),
            kernelKeyText(describe(network({1, 8, 1}, 3), target)));

  options.get<NvptxTargetOptions>().chip = "sm_80";
  options.get<NvptxTargetOptions>().mapping = artifact::GpuMapping::Lanes;
  options.get<NvptxTargetOptions>().samplesPerBlock = 2;
  art::KernelManifest cuda = lowered(context, "nvptx", options);
  KernelTarget gpu;
  gpu.device = art::Device::Cuda;
  gpu.chip = "sm_80";
  gpu.mapping = art::GpuMapping::Lanes;
  gpu.samplesPerBlock = 2;
  EXPECT_EQ(kernelKeyText(cuda),
            kernelKeyText(describe(network({1, 8, 1}, 3), gpu)));
}

// The device names #ntp.kernel accepts are artifact::kDevices'.
TEST(KernelFactsTest, DeviceNamesRoundTrip) {
  for (art::Device device : art::kDevices)
    EXPECT_EQ(art::parseDevice(art::deviceName(device)), device);
  EXPECT_EQ(art::parseDevice("cuda"), art::Device::Cuda);
  EXPECT_EQ(art::parseDevice("rocm"), std::nullopt);
  EXPECT_EQ(art::parseDevice(""), std::nullopt);
}

// Every device of the artifact contract has its facts, supplied by a target
// folder (ntp_register_device_facts) and present without registering any
// target: the verifier and the JIT's cache key need them.
TEST(KernelFactsTest, EveryDeviceHasItsFactsWithoutTargets) {
  for (art::Device device : art::kDevices) {
    const DeviceFacts *facts = lookupDeviceFacts(device);
    ASSERT_NE(facts, nullptr) << art::deviceName(device);
    EXPECT_EQ(facts->getDevice(), device);
  }
  EXPECT_FALSE(lookupDeviceFacts(art::Device::Cpu)->isGridLaunch());
  EXPECT_TRUE(lookupDeviceFacts(art::Device::Cuda)->isGridLaunch());
}

// registerAllTargets registers NTP_TARGETS (lib/Target/CMakeLists.txt), in
// its order, through the generated Targets.inc.
TEST(TargetRegistryTest, TargetsAreRegisteredOnce) {
  registerAllTargets();
  registerAllTargets();
  std::vector<std::string> names;
  for (const TargetBackend *target : getTargetBackends())
    names.push_back(target->getName().str());
  EXPECT_EQ(names, (std::vector<std::string>{"cpu", "nvptx"}));
  EXPECT_EQ(getTarget("amdgpu"), nullptr);
  EXPECT_TRUE(getTarget("cpu")->supports(EmitStage::Obj));
  EXPECT_FALSE(getTarget("cpu")->supports(EmitStage::Cubin));
  EXPECT_FALSE(getTarget("nvptx")->supports(EmitStage::Obj));
  std::string error;
  CompileOptions options;
  options.get<NvptxTargetOptions>().chip = "";
  EXPECT_FALSE(getTarget("nvptx")->checkOptions(options, error));
  EXPECT_EQ(error, "unknown NVIDIA architecture '' (expected sm_XX, e.g. "
                   "sm_80 or sm_90)");
}

} // namespace
