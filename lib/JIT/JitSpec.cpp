//===- JitSpec.cpp - What a JIT spec means --------------------------------===//
//
// An ntp_jit_spec is either IR text (an ntp.mlp, with partials or operators
// or not) or the fields of a plain MLP. Here it is checked, turned into the
// canonical text that keys the cache (no MLIR for a spec of fields, so a
// cache hit stays cheap) and, on a miss, into the module to compile.
//
//===----------------------------------------------------------------------===//

#include "JitInternal.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/PartialsLowering.h"

#include "mlir/Parser/Parser.h"

#include <string>

using namespace ntp;
using namespace ntp::jit;

namespace ntp::jit {
namespace {

/// The network of a spec given by fields.
NetworkDescription networkOf(const ntp_jit_spec &spec) {
  NetworkDescription network;
  network.name = kSymbolPrefix;
  network.layers.assign(spec.layers, spec.layers + spec.num_layers);
  network.activation = spec.activation ? spec.activation : "tanh";
  network.order = spec.order;
  network.dtype =
      spec.dtype == NTP_DTYPE_F64 ? artifact::Dtype::F64 : artifact::Dtype::F32;
  return network;
}

} // namespace
} // namespace ntp::jit

/// The canonical text of the kernel for the cache key: for a spec of
/// fields, the text of ntp::describeKernel's facts, the same function whose
/// result the passes stamp as #ntp.kernel (and the compile checks they
/// agree); no MLIR is needed, so a cache hit stays cheap. For IR text, the
/// text itself (its facts are known only once it is parsed).
Failure ntp::jit::specKeyText(const ntp_jit_spec &spec,
                              const ResolvedTarget &target, std::string &out) {
  // The partials lowering: a name ntp-compile knows; on a spec of fields (a
  // jet kernel) only auto.
  std::string lowering =
      spec.partials_lowering ? spec.partials_lowering : std::string();
  if (!lowering.empty() && !partials::parseLowering(lowering))
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown partials_lowering '" + lowering +
                       "' (expected auto, per-ray, multi-direction, "
                       "collapsed or multivariate)");
  if (!spec.mlir && !lowering.empty() && lowering != "auto")
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "partials_lowering '" + lowering +
                       "' applies to partials kernels only, and a spec of "
                       "fields describes a jet kernel (give the ntp.mlp with "
                       "its partials or operators as mlir)");
  // The reverse mode's lowering: auto or per-ray, on partials kernels.
  std::string reverse = spec.partials_reverse_lowering
                            ? spec.partials_reverse_lowering
                            : std::string();
  if (!reverse.empty() && reverse != "auto" && reverse != "per-ray")
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown partials_reverse_lowering '" + reverse +
                       "' (expected auto or per-ray)");
  if (!spec.mlir && !reverse.empty() && reverse != "auto")
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "partials_reverse_lowering '" + reverse +
                       "' applies to partials kernels only, and a spec of "
                       "fields describes a jet kernel (give the ntp.mlp with "
                       "its partials or operators as mlir)");
  if (spec.mlir) {
    out = "mlir\n" + std::string(spec.mlir) + "\n--\n" +
          "device=" + std::string(artifact::deviceName(target.facts.device)) +
          "\ntile=" + std::to_string(target.facts.tile) +
          "\nbackward=" + (target.facts.backward ? "1" : "0") +
          "\ncpu=" + target.facts.cpu + "\nchip=" + target.facts.chip +
          "\nmapping=" +
          std::string(artifact::gpuMappingName(target.facts.mapping)) +
          "\nthreads=" + std::to_string(cudaThreadsPerBlock(target.facts)) +
          "\n";
    if (!lowering.empty())
      out += "partials_lowering=" + lowering + "\n";
    if (!reverse.empty())
      out += "partials_reverse_lowering=" + reverse + "\n";
    return {};
  }
  if (spec.num_layers < 2 || !spec.layers)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "the spec needs at least two layer widths (input and "
                   "output), got " +
                       std::to_string(spec.layers ? spec.num_layers : 0));
  if (spec.dtype != NTP_DTYPE_F32 && spec.dtype != NTP_DTYPE_F64)
    return failure(NTP_ERROR_INVALID_ARGUMENT,
                   "unknown dtype " + std::to_string(spec.dtype) +
                       " (expected NTP_DTYPE_F32 or NTP_DTYPE_F64)");
  artifact::KernelManifest facts;
  std::string error;
  if (!describeKernel(networkOf(spec), target.facts, facts, error))
    return failure(NTP_ERROR_INVALID_ARGUMENT, "malformed spec: " + error);
  out = kernelKeyText(facts);
  return {};
}

/// The module holding `spec`'s ntp.mlp (parsed text or built from fields).
mlir::OwningOpRef<mlir::ModuleOp>
ntp::jit::buildModule(const ntp_jit_spec &spec, mlir::MLIRContext &context) {
  if (spec.mlir)
    return mlir::parseSourceString<mlir::ModuleOp>(
        spec.mlir, mlir::ParserConfig(&context), "spec");
  MlpDescription description;
  description.name = kSymbolPrefix;
  description.layers.assign(spec.layers, spec.layers + spec.num_layers);
  description.activation = spec.activation ? spec.activation : "tanh";
  description.order = spec.order;
  description.isF64 = spec.dtype == NTP_DTYPE_F64;
  return buildMlpModule(context, description);
}
