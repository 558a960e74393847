//===- TargetBackendTest.cpp - A target is its own folder -----------------===//
//
// A third target written entirely in this file: its options, its flags, its
// --emit names and its pipeline, registered without touching the compiler,
// the driver or the other targets (docs/TARGETS.md). What it compiles
// through is the one compile chain every target shares.
//
//===----------------------------------------------------------------------===//

#include "ntp/Target/TargetBackend.h"
#include "ntp/Compiler/Compiler.h"
#include "ntp/Pipelines/Pipelines.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"

#include <gtest/gtest.h>

using namespace ntp;
namespace cl = llvm::cl;

namespace {

/// The example target's own options.
struct ExampleTargetOptions : TargetOptions<ExampleTargetOptions> {
  static constexpr llvm::StringLiteral kTargetName = "example";
  int64_t lanes = 4;
};

struct ExampleFlags {
  cl::OptionCategory category{"Example target options"};
  cl::opt<int64_t> lanes{"example-lanes", cl::desc("Lanes per tile"),
                         cl::init(ExampleTargetOptions().lanes),
                         cl::cat(category)};
};
ExampleFlags *exampleFlags = nullptr;

/// Emits the target-independent stages with its own tile, and "loops-text"
/// as its own name for them.
class ExampleBackend : public TargetBackend {
public:
  llvm::StringRef getName() const override { return "example"; }
  llvm::StringRef getDescription() const override {
    return "a target defined by a test";
  }
  std::vector<EmitName> getEmitNames() const override {
    return {{"loops-text", EmitStage::Loops, "the loops, as text"}};
  }
  void registerDialects(mlir::DialectRegistry &registry) const override {
    registerNtpCompilerDialects(registry);
  }
  bool supports(EmitStage stage) const override {
    return stage == EmitStage::Jets || stage == EmitStage::Loops;
  }
  cl::OptionCategory *registerCommandLineOptions() const override {
    static ExampleFlags flags;
    exampleFlags = &flags;
    return &flags.category;
  }
  bool applyCommandLineOptions(CompileOptions &options,
                               std::string &error) const override {
    if (exampleFlags->lanes < 1) {
      error = "--example-lanes must be positive, got " +
              std::to_string(exampleFlags->lanes.getValue());
      return false;
    }
    options.get<ExampleTargetOptions>().lanes = exampleFlags->lanes;
    return true;
  }
  bool checkOptions(const CompileOptions &options,
                    std::string &error) const override {
    ++checks;
    if (options.get<ExampleTargetOptions>().lanes > 64) {
      error = "the example target has at most 64 lanes";
      return false;
    }
    return true;
  }
  bool buildPipeline(mlir::OpPassManager &pm, const CompileOptions &options,
                     EmitStage stage, std::string &) const override {
    CpuPipelineOptions loops;
    loops.tileSize = options.get<ExampleTargetOptions>().lanes;
    loops.backward = false;
    buildJetLoopsPipeline(pm, loops);
    return true;
  }
  bool serialize(mlir::ModuleOp, const artifact::KernelManifest &, EmitStage,
                 const CompileOptions &, CompileOutput &,
                 std::string &error) const override {
    error = "the example target serializes nothing";
    return false;
  }
  mutable int checks = 0;
};

const ExampleBackend &exampleTarget() {
  static const ExampleBackend *target = [] {
    auto owned = std::make_unique<ExampleBackend>();
    const ExampleBackend *raw = owned.get();
    registerAllTargets();
    registerTargetBackend(std::move(owned));
    return raw;
  }();
  return *target;
}

TEST(TargetBackendTest, ATargetRegistersBesideTheOthers) {
  const ExampleBackend &example = exampleTarget();
  EXPECT_EQ(lookupTargetBackend("example"), &example);
  std::vector<std::string> names;
  for (const TargetBackend *target : getTargetBackends())
    names.push_back(target->getName().str());
  EXPECT_EQ(names, (std::vector<std::string>{"cpu", "nvptx", "example"}));
}

// Each target's options travel in one CompileOptions, copied whole.
TEST(TargetBackendTest, OptionsAreTheTargetsOwnAndCopyWhole) {
  CompileOptions options;
  EXPECT_EQ(std::as_const(options).get<ExampleTargetOptions>().lanes, 4);
  options.get<ExampleTargetOptions>().lanes = 8;
  options.get<CpuTargetOptions>().cpu = "znver4";
  options.get<NvptxTargetOptions>().chip = "sm_80";
  CompileOptions copy = options;
  options.get<ExampleTargetOptions>().lanes = 16;
  EXPECT_EQ(copy.get<ExampleTargetOptions>().lanes, 8);
  EXPECT_EQ(std::as_const(copy).get<CpuTargetOptions>().cpu, "znver4");
  EXPECT_EQ(std::as_const(copy).get<NvptxTargetOptions>().chip, "sm_80");
  // Unset options read as the target's defaults.
  CompileOptions fresh;
  EXPECT_EQ(std::as_const(fresh).get<CpuTargetOptions>().cpu,
            CpuTargetOptions().cpu);
}

// The one compile chain checks the target's options, then runs its pipeline.
TEST(TargetBackendTest, TheCompileChainUsesTheTargetsOptions) {
  const ExampleBackend &example = exampleTarget();
  mlir::DialectRegistry registry;
  example.registerDialects(registry);
  mlir::MLIRContext context(registry);
  MlpDescription description;
  description.layers = {1, 8, 1};
  description.order = 2;
  CompileOptions options;
  options.get<ExampleTargetOptions>().lanes = 2;
  {
    auto module = buildMlpModule(context, description);
    ASSERT_TRUE(module);
    mlir::PassManager pm(&context);
    CompileOutput output;
    std::string error;
    int before = example.checks;
    ASSERT_TRUE(
        compile(*module, example, EmitStage::Loops, options, pm, output, error))
        << error;
    EXPECT_EQ(example.checks, before + 1);
    EXPECT_EQ(output.manifest.tile, 2);
    EXPECT_NE(output.bytes.find("vector<2x"), std::string::npos);
  }
  options.get<ExampleTargetOptions>().lanes = 65;
  auto module = buildMlpModule(context, description);
  mlir::PassManager pm(&context);
  CompileOutput output;
  std::string error;
  EXPECT_FALSE(
      compile(*module, example, EmitStage::Loops, options, pm, output, error));
  EXPECT_EQ(error, "the example target has at most 64 lanes");
  EXPECT_FALSE(
      compile(*module, example, EmitStage::Obj, options, pm, output, error));
  EXPECT_EQ(error, "the example target cannot emit this stage");
}

// Flags are registered on demand, by a driver, and land in the target's
// options; a value out of range is one sentence naming the flag.
TEST(TargetBackendTest, FlagsAreRegisteredOnDemand) {
  const ExampleBackend &example = exampleTarget();
  EXPECT_EQ(cl::getRegisteredOptions().count("example-lanes"), 0u);
  EXPECT_EQ(cl::getRegisteredOptions().count("chip"), 0u);
  cl::OptionCategory *category = example.registerCommandLineOptions();
  ASSERT_NE(category, nullptr);
  EXPECT_EQ(example.registerCommandLineOptions(), category);
  ASSERT_EQ(cl::getRegisteredOptions().count("example-lanes"), 1u);

  const char *argv[] = {"driver", "--example-lanes=16"};
  ASSERT_TRUE(cl::ParseCommandLineOptions(2, argv, "", &llvm::errs()));
  CompileOptions options;
  std::string error;
  ASSERT_TRUE(example.applyCommandLineOptions(options, error)) << error;
  EXPECT_EQ(options.get<ExampleTargetOptions>().lanes, 16);

  const char *bad[] = {"driver", "--example-lanes=0"};
  ASSERT_TRUE(cl::ParseCommandLineOptions(2, bad, "", &llvm::errs()));
  EXPECT_FALSE(example.applyCommandLineOptions(options, error));
  EXPECT_EQ(error, "--example-lanes must be positive, got 0");
}

} // namespace
