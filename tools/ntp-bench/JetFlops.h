//===- JetFlops.h - Exact flops of a jet kernel per sample ------*- C++ -*-===//
//
// What ntp-bench divides its times by: the floating-point operations per
// sample of a forward call and of a training step, read off the activation
// jet's expansion (and its VJP) as the compiler builds them.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_BENCH_JETFLOPS_H
#define NTP_BENCH_JETFLOPS_H

#include "ntp/Support/ActivationJet.h"

#include <cstdint>
#include <vector>

namespace ntp::bench {

/// Per sample of one forward call of `layers` at `order`: per affine layer
/// 2 * in * out per live order, per activation its expansion's DAG.
int64_t flopsPerSample(const ActivationRule &rule, JetFormulation formulation,
                       const std::vector<int64_t> &layers, int order);

/// Per sample of a training step: the forward (forward-save computes the
/// same) and backward-saved, counted the same way: per affine layer, 2 * in
/// * out per live order for the parameter gradient and as much for the
/// input cotangent, plus the bias gradient; per activation, the VJP DAG of
/// its expansion.
int64_t trainingFlopsPerSample(const ActivationRule &rule,
                               JetFormulation formulation,
                               const std::vector<int64_t> &layers, int order);

} // namespace ntp::bench

#endif // NTP_BENCH_JETFLOPS_H
