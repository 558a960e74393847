//===- ntp-compile.cpp - Ahead-of-time compiler for ntp kernels -----------===//
//
// A thin driver over the compile chain of lib/Compiler: parse the flags and
// the input (an .mlir file holding one ntp.mlp, or flags describing the
// network), pick the target from the registry, call ntp::compile, write the
// output (a shared object the runtime loads by default, an object file plus
// C header for static linking, or any intermediate stage with --emit).
//
//===----------------------------------------------------------------------===//

#include "ntp/Compiler/Compiler.h"
#include "ntp/Dialect/Ntp/IR/NtpOps.h"
#include "ntp/Support/ActivationRules.h"
#include "ntp/Support/Partials.h"
#include "ntp/Support/PartialsLowering.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace ntp;
namespace cl = llvm::cl;
namespace art = ntp::artifact;

static cl::OptionCategory category("ntp-compile options");
static cl::OptionCategory networkCategory("Network (instead of an input file)");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("[<input .mlir file>]"),
                                      cl::init(""), cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("path"), cl::init(""),
                                       cl::cat(category));

/// A value of --emit: a stage every target may emit, or one a target names
/// itself (TargetBackend::getEmitNames).
struct EmitChoice {
  std::string name;
  EmitStage stage;
  const TargetBackend *owner; // null: the common stages
};
static std::vector<EmitChoice> &emitChoices() {
  static std::vector<EmitChoice> choices;
  return choices;
}

/// --emit (one of emitChoices, filled in main before parsing).
static cl::opt<const EmitChoice *, false, cl::parser<const EmitChoice *>>
    emitFlag("emit", cl::desc("What to produce (default: so)"),
             cl::init(nullptr), cl::cat(category));

/// --target: the registered targets (filled in main, before parsing).
static cl::opt<const TargetBackend *, false, cl::parser<const TargetBackend *>>
    targetFlag("target", cl::desc("Target (default: cpu)"), cl::init(nullptr),
               cl::cat(category));

static cl::opt<std::string>
    headerFile("header",
               cl::desc("With --emit=obj: also write a C header here"),
               cl::value_desc("path"), cl::init(""), cl::cat(category));

static cl::opt<std::string>
    layersFlag("layers",
               cl::desc("Layer widths, input to output (e.g. 1,24,24,24,1)"),
               cl::init(""), cl::cat(networkCategory));
/// The description lists the activation table (set in main).
static cl::opt<std::string> activationFlag("activation", cl::init("tanh"),
                                           cl::cat(networkCategory));
static cl::opt<int64_t> orderFlag("order", cl::desc("Derivative order"),
                                  cl::init(0), cl::cat(networkCategory));
static cl::opt<std::string> partialsFlag(
    "partials",
    cl::desc("Partial derivatives instead of a jet: multi-indices, one entry "
             "per input, separated by ';' (e.g. \"2,0,0;0,2,0;1,1,0\"; "
             "\"0,0,0\" is f itself)"),
    cl::init(""), cl::cat(networkCategory));
static cl::list<std::string> operatorFlags(
    "operator",
    cl::desc("A named operator after the --partials: laplacian or biharmonic, "
             "over all inputs or a subset (laplacian:0,1); repeatable, one "
             "per flag"),
    cl::cat(networkCategory));
static cl::opt<std::string> partialsLoweringFlag(
    "partials-lowering",
    cl::desc("How a partials kernel propagates its rays: auto (fewest "
             "operations), per-ray, multi-direction, collapsed or "
             "multivariate; the choice is printed. The reverse mode's entry "
             "points follow a multi-direction or collapsed forward where they "
             "can"),
    cl::init(""), cl::cat(networkCategory));
static cl::opt<std::string> partialsReverseLoweringFlag(
    "partials-reverse-lowering",
    cl::desc("How a partials kernel's reverse mode is made: auto (it follows "
             "the forward's lowering where it fits the stack bound, else the "
             "cheapest ray blocks that fit) or per-ray (per-ray jets beside "
             "the forward, a larger workspace); the choice is printed"),
    cl::init(""), cl::cat(networkCategory));
static cl::opt<art::Dtype>
    dtypeFlag("dtype", cl::desc("Element type"), cl::init(art::Dtype::F32),
              cl::values(clEnumValN(art::Dtype::F32, "f32", "float"),
                         clEnumValN(art::Dtype::F64, "f64", "double")),
              cl::cat(networkCategory));
static cl::opt<std::string> nameFlag("name", cl::desc("Kernel name"),
                                     cl::init("ntp_kernel"),
                                     cl::cat(networkCategory));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "ntp-compile: error: " << message << "\n";
  return 1;
}

/// Parses "1,24,24,1"; false on anything but positive integers.
static bool parseLayers(llvm::StringRef text, std::vector<int64_t> &layers) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  for (llvm::StringRef part : parts) {
    int64_t width;
    if (part.trim().getAsInteger(10, width) || width <= 0)
      return false;
    layers.push_back(width);
  }
  return !layers.empty();
}

static OwningOpRef<ModuleOp> loadInput(MLIRContext &context,
                                       llvm::SourceMgr &sources) {
  if (!layersFlag.empty()) {
    MlpDescription description;
    if (!parseLayers(layersFlag, description.layers)) {
      fail("--layers expects comma-separated positive integers, got '" +
           layersFlag + "'");
      return nullptr;
    }
    description.name = nameFlag;
    description.activation = activationFlag;
    description.order = orderFlag;
    description.isF64 = dtypeFlag == art::Dtype::F64;
    // A partials request: --order defaults to the highest total order.
    std::string error;
    if (!partialsFlag.empty() &&
        !partials::parseRows(partialsFlag, description.partials, error)) {
      fail("--partials: " + error);
      return nullptr;
    }
    for (const std::string &text : operatorFlags) {
      partials::Row row;
      if (!partials::parseOperator(text, description.layers.front(), row,
                                   error)) {
        fail("--operator: " + error);
        return nullptr;
      }
      description.partials.push_back(row);
    }
    if (!description.partials.empty() && orderFlag.getNumOccurrences() == 0)
      for (const partials::Row &row : description.partials)
        description.order =
            std::max(description.order, partials::totalOrder(row));
    return buildMlpModule(context, description);
  }
  std::string message;
  auto file = openInputFile(inputFile, &message);
  if (!file) {
    fail(message);
    return nullptr;
  }
  sources.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sources, &context);
}

/// Hides LLVM's own options (backends, codegen, ...) from --help, as clang
/// does; --help-hidden still lists them. ntp's options (the driver's and the
/// targets') and the MLIR ones a user needs (pass manager, IR printing,
/// timing, context) stay.
static void
hideUnrelatedOptions(llvm::ArrayRef<cl::OptionCategory *> ntpCategories) {
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *option = entry.second;
    bool ntp = false;
    for (cl::OptionCategory *c : option->Categories)
      ntp |= llvm::is_contained(ntpCategories, c);
    llvm::StringRef name = entry.first;
    bool mlir = name.starts_with("mlir-") || name.starts_with("pass-") ||
                name == "print-ir-after-all" || name == "help" ||
                name == "help-hidden" || name == "version";
    if (!ntp && !mlir)
      option->setHiddenFlag(cl::Hidden);
  }
}

/// The first flag of `category` given on the command line, or "".
static std::string givenFlagOf(cl::OptionCategory *category) {
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.second->getNumOccurrences() &&
        llvm::is_contained(entry.second->Categories, category))
      return entry.first.str();
  return "";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  registerAllTargets();

  // The targets, their --emit names and their own flags, from the registry.
  std::vector<cl::OptionCategory *> ntpCategories = {&category,
                                                     &networkCategory};
  std::vector<std::pair<const TargetBackend *, cl::OptionCategory *>>
      targetCategories;
  std::vector<EmitChoice> &choices = emitChoices();
  choices = {{"jets", EmitStage::Jets, nullptr},
             {"loops", EmitStage::Loops, nullptr},
             {"mlir", EmitStage::Lowered, nullptr},
             {"llvm", EmitStage::Llvm, nullptr},
             {"asm", EmitStage::Asm, nullptr},
             {"obj", EmitStage::Obj, nullptr},
             {"so", EmitStage::Artifact, nullptr}};
  static const char *const commonDescriptions[] = {
      "per-layer jet ops (ntp dialect)",
      "vectorized loops with the Faà di Bruno arithmetic",
      "the target's lowered MLIR (LLVM dialect, gpu.module)",
      "optimized LLVM IR",
      "assembly",
      "an object file (see --header)",
      "the runtime artifact (CPU: a shared object; nvptx: a CUDA artifact)"};
  std::vector<std::string> descriptions(std::begin(commonDescriptions),
                                        std::end(commonDescriptions));
  for (const TargetBackend *target : getTargetBackends()) {
    targetFlag.getParser().addLiteralOption(target->getName(), target,
                                            target->getDescription());
    for (const TargetBackend::EmitName &name : target->getEmitNames()) {
      choices.push_back({name.name.str(), name.stage, target});
      descriptions.push_back(name.description.str() +
                             " (--target=" + target->getName().str() + ")");
    }
    if (cl::OptionCategory *flags = target->registerCommandLineOptions()) {
      ntpCategories.push_back(flags);
      targetCategories.push_back({target, flags});
    }
  }
  for (size_t i = 0; i < choices.size(); ++i)
    emitFlag.getParser().addLiteralOption(choices[i].name, &choices[i],
                                          descriptions[i]);
  static const std::string activationHelp =
      "Activation of every hidden layer, or a comma-separated list with one "
      "per hidden layer (" +
      llvm::join(activationNames(), ", ") + ")";
  activationFlag.setDescription(activationHelp);
  hideUnrelatedOptions(ntpCategories);
  cl::ParseCommandLineOptions(
      argc, argv,
      "ntp-compile: compile an MLP and a derivative order into a jet kernel\n\n"
      "  ntp-compile net.mlir -o net.so\n"
      "  ntp-compile --layers 1,24,24,24,1 --activation tanh --order 9 "
      "--dtype f64 -o pinn.so\n");

  const TargetBackend &target =
      targetFlag ? *targetFlag.getValue() : *getTarget("cpu");
  const EmitChoice &emit = emitFlag ? *emitFlag.getValue() : choices[6]; // so
  if (!layersFlag.empty() && !inputFile.empty())
    return fail("give either an input file or --layers, not both");
  if (layersFlag.empty() && inputFile.empty())
    return fail("no input: give an .mlir file or --layers (see --help)");
  if (!inputFile.empty() &&
      (!partialsFlag.empty() || operatorFlags.getNumOccurrences()))
    return fail("--partials and --operator describe the network with "
                "--layers; in an .mlir file, give them on ntp.mlp");
  if (partialsFlag.getNumOccurrences() && partialsFlag.empty())
    return fail("--partials is empty: give at least one multi-index, or "
                "leave it out");
  if (emit.owner && emit.owner != &target)
    return fail("--emit=" + emit.name +
                " needs --target=" + emit.owner->getName());
  if (!target.supports(emit.stage))
    return fail("the " + target.getName() +
                " target cannot emit --emit=" + emit.name);
  // A flag of another target would be ignored silently.
  for (auto [other, flags] : targetCategories)
    if (other != &target)
      if (std::string flag = givenFlagOf(flags); !flag.empty())
        return fail("--" + flag + " is an option of the " + other->getName() +
                    " target; add --target=" + other->getName());
  bool binary = emit.stage == EmitStage::Artifact ||
                emit.stage == EmitStage::Obj || emit.stage == EmitStage::Cubin;
  if (binary && outputFile.empty())
    return fail("-o is required for --emit=" + emit.name);
  if (!headerFile.empty() && emit.stage != EmitStage::Obj)
    return fail("--header is only meaningful with --emit=obj");

  CompileOptions options;
  if (std::string error; !target.applyCommandLineOptions(options, error))
    return fail(error);
  // The options are checked before anything is parsed or built.
  if (std::string error; !target.checkOptions(options, error))
    return fail(error);

  DialectRegistry registry;
  target.registerDialects(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sources;
  SourceMgrDiagnosticHandler diagnostics(sources, &context);
  OwningOpRef<ModuleOp> module = loadInput(context, sources);
  if (!module)
    return 1;

  // --partials-lowering: on the ntp.mlp (the file's or the flags'); the
  // reverse mode, when generated, is per-ray beside it.
  if (partialsLoweringFlag.getNumOccurrences()) {
    if (!partials::parseLowering(partialsLoweringFlag))
      return fail("--partials-lowering must be auto, per-ray, "
                  "multi-direction, collapsed or multivariate, got '" +
                  partialsLoweringFlag + "'");
    for (MlpOp mlp : module->getOps<MlpOp>())
      mlp->setAttr("ntp.partials_lowering",
                   StringAttr::get(&context, partialsLoweringFlag));
  }
  // --partials-reverse-lowering: likewise.
  if (partialsReverseLoweringFlag.getNumOccurrences()) {
    if (partialsReverseLoweringFlag != "auto" &&
        partialsReverseLoweringFlag != "per-ray")
      return fail("--partials-reverse-lowering must be auto or per-ray, got '" +
                  partialsReverseLoweringFlag + "'");
    for (MlpOp mlp : module->getOps<MlpOp>()) {
      if (mlp.getRequestRows().empty() && partialsReverseLoweringFlag != "auto")
        return fail(
            "--partials-reverse-lowering=" + partialsReverseLoweringFlag +
            " applies to partials kernels only (--partials or "
            "--operator, or partials / operators on the ntp.mlp)");
      mlp->setAttr("ntp.partials_reverse_lowering",
                   StringAttr::get(&context, partialsReverseLoweringFlag));
    }
  }
  PassManager pm(&context);
  applyDefaultTimingPassManagerCLOptions(pm);
  if (failed(applyPassManagerCLOptions(pm)))
    return fail("invalid pass manager options");
  CompileOutput output;
  std::string error;
  if (!compile(*module, target, emit.stage, options, pm, output, error))
    return error.empty() ? 1 : fail(error);
  llvm::errs() << output.report;
  const art::KernelManifest &facts = output.manifest;
  if (partialsLoweringFlag.getNumOccurrences() &&
      !facts.partialsLowering.empty())
    llvm::errs() << "partials lowering: " << facts.partialsLowering << "\n";
  if ((partialsLoweringFlag.getNumOccurrences() ||
       partialsReverseLoweringFlag.getNumOccurrences()) &&
      !facts.partialsReverseLowering.empty())
    llvm::errs() << "partials reverse mode: " << facts.partialsReverseLowering
                 << "\n";

  // The header first: a failure then leaves no object behind.
  if (!headerFile.empty()) {
    if (output.header.empty())
      return fail("the " + target.getName() + " target makes no C header");
    if (!writeOutputFile(headerFile, output.header, error))
      return fail(error);
  }
  if (!writeOutputFile(outputFile, output.bytes, error)) {
    if (!headerFile.empty())
      llvm::sys::fs::remove(headerFile);
    return fail(error);
  }
  return 0;
}
