//===- JetFlops.cpp - Exact flops of a jet kernel per sample --------------===//

#include "JetFlops.h"

#include <algorithm>

int64_t ntp::bench::flopsPerSample(const ActivationRule &rule,
                                   JetFormulation formulation,
                                   const std::vector<int64_t> &layers,
                                   int order) {
  int64_t flops = 0, live = std::min(order + 1, 2);
  for (size_t l = 1; l < layers.size(); ++l) {
    flops += 2 * layers[l - 1] * layers[l] * live;
    if (l + 1 == layers.size())
      break;
    auto expansion = expandActivationJet(rule, order, live, formulation);
    flops += layers[l] * expansion.graph.cost(expansion.outputs).flops();
    live = order + 1;
  }
  return flops;
}

int64_t ntp::bench::trainingFlopsPerSample(const ActivationRule &rule,
                                           JetFormulation formulation,
                                           const std::vector<int64_t> &layers,
                                           int order) {
  int64_t flops = flopsPerSample(rule, formulation, layers, order),
          live = std::min(order + 1, 2);
  for (size_t l = 1; l < layers.size(); ++l) {
    flops += 4 * layers[l - 1] * layers[l] * live + layers[l];
    if (l + 1 == layers.size())
      break;
    ActivationJetVjp vjp =
        differentiateActivationJet(rule, order, live, formulation);
    flops += layers[l] * vjp.graph.cost(vjp.inputCotangents).flops();
    live = order + 1;
  }
  return flops;
}
