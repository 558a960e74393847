//===- Schedule.cpp - Register blocking and interleaving choices ----------===//

#include "ntp/Support/Schedule.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

using namespace ntp;

std::string MachineVectorFacts::str() const {
  std::ostringstream os;
  os << vectorBits << "x" << vectorRegisters << " regs, fma " << fmaLatency
     << "c x " << fmaPipes << ", " << loadPorts << " loads";
  if (l1DataBytes > 0)
    os << ", " << l1DataBytes / 1024 << " KiB L1d";
  return os.str();
}

namespace {
/// What the choices assume of the caches: data that fits in 3/4 of L1 stays
/// there (the rest is the stack, weights and other buffers), else it comes
/// from L2 at 32 bytes per cycle (Zen 3/4's L2 to L1; an Emerald Rapids,
/// whose L2 peaks at 64, sustained about 48 in an order-9 128-wide f64
/// layer that streamed its input jet).
constexpr double kL2BytesPerCycle = 32;
bool overflowsL1(const MachineVectorFacts &facts, double bytes) {
  return facts.l1DataBytes > 0 && bytes > 0.75 * double(facts.l1DataBytes);
}

/// Registers one vector of the tile takes (a 16-lane f32 jet on AVX2: 2).
int64_t registersPerVector(const MachineVectorFacts &facts, int64_t lanes,
                           int64_t elementBits) {
  return std::max<int64_t>(1, (lanes * elementBits + facts.vectorBits - 1) /
                                  facts.vectorBits);
}
} // namespace

AffineBlock ntp::chooseAffineBlock(const MachineVectorFacts &facts,
                                   int64_t lanes, int64_t elementBits,
                                   int64_t live, int64_t width,
                                   int64_t sourceWidth) {
  if (!facts.known() || live < 1 || width < 1)
    return {};
  int64_t perVector = registersPerVector(facts, lanes, elementBits);
  const double jetBytes = double(lanes * elementBits / 8);
  // Cycles and loads of one input neuron for `outputs` outputs x `orders`
  // orders: FMAs, jet loads plus weight broadcasts, one FMA latency per
  // chain step, and the chunk's jets from L2 where its slice of all source
  // neurons (reread by every block of outputs) does not stay in L1.
  auto step = [&](int64_t outputs, int64_t orders) {
    double fmas = double(outputs * orders * perVector) / facts.fmaPipes;
    double loads =
        double(orders * perVector + outputs) / double(facts.loadPorts);
    double fromL2 = overflowsL1(facts, double(sourceWidth * orders) * jetBytes)
                        ? orders * jetBytes / kL2BytesPerCycle
                        : 0;
    return std::max({fmas, loads, fromL2, double(facts.fmaLatency)});
  };
  // The whole layer, per input neuron, with orders taken `chunk` at a time.
  auto layer = [&](int64_t outputs, int64_t chunk, double &loads) {
    double cycles = 0;
    loads = 0;
    int64_t blocks = width / outputs, rest = width % outputs;
    for (int64_t k0 = 0; k0 < live; k0 += chunk) {
      int64_t orders = std::min(chunk, live - k0);
      cycles += blocks * step(outputs, orders) + rest * step(1, orders);
      loads += blocks * (orders * perVector + outputs) +
               rest * (orders * perVector + 1);
    }
    return cycles;
  };
  // Within 2% of the fewest cycles, fewer order chunks win (each chunk is
  // another unrolled loop: LLVM's compile time grows with them), then fewer
  // loads.
  AffineBlock best;
  double bestCycles = 0, bestLoads = 0;
  int64_t bestChunks = 0;
  for (int64_t outputs = 1; outputs <= std::min<int64_t>(8, width); ++outputs)
    for (int64_t chunk = 1; chunk <= live; ++chunk) {
      // Where a jet spans two registers, a block of one output uses each
      // loaded jet vector for one FMA: the model rates 1 x 5 above 2 x 2 by
      // FMA latency (x86-64-v3's 5 cycles), but on a Zen 3 it ran
      // 1.25-1.5x slower than 2 x 2. Only a layer of one output keeps it.
      if (perVector >= 2 && outputs < 2 && width >= 2)
        continue;
      // Accumulators, one broadcast weight per output (one register even
      // where a vector takes several: each part is the same broadcast), one
      // loaded jet.
      if ((outputs * chunk + 1) * perVector + outputs >
          facts.vectorRegisters - 1)
        continue;
      double loads;
      double cycles = layer(outputs, chunk, loads);
      int64_t chunks = (live + chunk - 1) / chunk;
      bool better = best.orders == 0 || cycles < bestCycles * 0.98;
      bool tie = !better && cycles <= bestCycles * 1.02;
      if (tie && (chunks < bestChunks ||
                  (chunks == bestChunks && loads < bestLoads - 1e-9)))
        better = true;
      if (better) {
        best = {outputs, chunk};
        bestCycles = cycles;
        bestLoads = loads;
        bestChunks = chunks;
      }
    }
  if (best.orders == 0)
    return {};
  if (best.orders >= live)
    best.orders = 0;
  return best;
}

GradientBlock ntp::chooseGradientBlock(const MachineVectorFacts &facts,
                                       int64_t lanes, int64_t elementBits,
                                       int64_t live, int64_t outWidth,
                                       int64_t inWidth,
                                       int64_t unblockedInputs) {
  if (!facts.known() || live < 1 || outWidth < 1 || inWidth < 1)
    return {};
  int64_t perVector = registersPerVector(facts, lanes, elementBits);
  int64_t registers = facts.vectorRegisters - 1;
  double pipes = double(facts.fmaPipes), ports = double(facts.loadPorts);
  // Each entry's gradient lanes: one load and one store, whatever the loop.
  double entry = 2.0 * perVector / ports;
  // The unblocked loop, per order and entry: one FMA and one loaded input
  // vector, plus the reloads of the cotangent's spilled jets spread over the
  // step's entries.
  int64_t step = std::clamp<int64_t>(unblockedInputs, 1, inWidth);
  int64_t spilled =
      std::clamp<int64_t>(live * perVector + (step + 1) * perVector - registers,
                          0, live * perVector);
  // Each entry sums its live orders in perVector dependent chains, one FMA
  // latency per order: the unblocked loop has one entry's chains in flight
  // (measured on an Emerald Rapids, whose LLVM model says one zmm FMA per
  // cycle: its 2 chains, as LLVM unrolled two inputs, ran the training
  // step 1.1-1.4x slower than 4 x 2 tiles at orders 3..9).
  double latency = double(facts.fmaLatency);
  double unblockedLoads = perVector + double(spilled) / double(live * step);
  double unblocked =
      double(outWidth * inWidth) *
      (std::max({perVector / pipes, unblockedLoads / ports, latency}) +
       entry / live);
  // The tiled layer: a x b tiles, the remainders' a x 1, 1 x b and 1 x 1;
  // per order a x b x perVector chains advance by one FMA latency.
  auto tile = [&](int64_t a, int64_t b) {
    return std::max({double(a * b * perVector) / pipes,
                     double((a + b) * perVector) / ports, latency}) +
           a * b * entry / live;
  };
  auto layer = [&](int64_t a, int64_t b) {
    int64_t rows = outWidth / a, restRows = outWidth % a;
    int64_t cols = inWidth / b, restCols = inWidth % b;
    return rows * (cols * tile(a, b) + restCols * tile(a, 1)) +
           restRows * (cols * tile(1, b) + restCols * tile(1, 1));
  };
  GradientBlock best;
  double bestCycles = 0;
  for (int64_t a = 1; a <= std::min<int64_t>(4, outWidth); ++a)
    for (int64_t b = 1; b <= std::min<int64_t>(4, inWidth); ++b) {
      if (a * b < 2 || (a * b + std::min(a, b) + 1) * perVector > registers)
        continue;
      double cycles = layer(a, b);
      // Fewer cycles; within 1%, fewer accumulators (enough chains to cover
      // the latency, no more), then the squarer tile (fewer loads), then
      // more outputs (4 x 2 ran 1.03-1.05x faster than 2 x 4 on the
      // Emerald Rapids).
      bool better = !best.blocked() || cycles < bestCycles * 0.99;
      if (!better && cycles <= bestCycles * 1.01) {
        int64_t area = a * b, bestArea = best.outputs * best.inputs;
        int64_t skew = std::abs(a - b),
                bestSkew = std::abs(best.outputs - best.inputs);
        better = area < bestArea ||
                 (area == bestArea &&
                  (skew < bestSkew || (skew == bestSkew && a > best.outputs)));
      }
      if (better) {
        best = {a, b};
        bestCycles = cycles;
      }
    }
  if (!best.blocked() || bestCycles > unblocked * 0.9)
    return {};
  return best;
}

RayBlock ntp::chooseRayBlock(const MachineVectorFacts &facts, int64_t lanes,
                             int64_t elementBits) {
  if (!facts.known())
    return {};
  int64_t perVector = registersPerVector(facts, lanes, elementBits);
  int64_t chainsNeeded = facts.fmaLatency * facts.fmaPipes;
  RayBlock best;
  bool found = false, bestCovers = false;
  double bestLoads = 0;
  for (int64_t rows = 1; rows <= 8; ++rows)
    for (int64_t neurons = 2; neurons <= 8; ++neurons) {
      // Each broadcast weight feeds at least two FMAs: one row does where a
      // jet spans two registers (AVX2), else two rows.
      if (rows * perVector < 2)
        continue;
      int64_t fmas = rows * neurons * perVector;
      // Accumulators, the block's input rows, one broadcast weight; two
      // registers left for temporaries.
      if (fmas + rows * perVector + 1 > facts.vectorRegisters - 2)
        continue;
      bool covers = fmas >= chainsNeeded;
      double loads = double(rows * perVector + neurons) / double(fmas);
      bool better = !found || (covers && !bestCovers) ||
                    (covers == bestCovers &&
                     (loads < bestLoads - 1e-9 ||
                      (loads < bestLoads + 1e-9 && rows > best.rows)));
      if (better) {
        best = {rows, neurons};
        bestLoads = loads;
        bestCovers = covers;
        found = true;
      }
    }
  return best;
}

int64_t ntp::chooseGradLaneBits(const MachineVectorFacts &facts, int64_t lanes,
                                int64_t elementBits, int64_t live,
                                int64_t numParams) {
  if (!facts.known())
    return 0;
  int64_t tileBits = lanes * elementBits;
  int64_t perVector = registersPerVector(facts, lanes, elementBits);
  auto cycles = [&](int64_t laneBits) {
    double ops = double(live * perVector) + double(perVector - 1);
    for (int64_t bits = std::min(tileBits, facts.vectorBits); bits > laneBits;
         bits /= 2)
      ops += 2; // an extract and an add
    double compute = ops / double(facts.fmaPipes);
    double bytes = double(std::min(laneBits, tileBits) / 8);
    // A load, a store and the line's write-back.
    double memory = overflowsL1(facts, double(numParams) * bytes)
                        ? 3 * bytes / kL2BytesPerCycle
                        : 0;
    return std::max(compute, memory);
  };
  int64_t best = facts.vectorBits;
  int64_t half = facts.vectorBits / 2;
  // Halves that still hold a whole number of elements, and divide the tile.
  if (half >= 128 && half % elementBits == 0 && tileBits % half == 0 &&
      half < tileBits && cycles(half) < cycles(best))
    best = half;
  return best;
}

int64_t ntp::chooseInterleave(const MachineVectorFacts &facts, int64_t lanes,
                              int64_t elementBits, int64_t orders) {
  if (!facts.known())
    return 1;
  int64_t perVector = registersPerVector(facts, lanes, elementBits);
  int64_t registers = facts.vectorRegisters / perVector;
  if (registers < 24)
    return 1;
  int64_t chains = facts.fmaLatency * facts.fmaPipes / perVector;
  int64_t wanted = std::clamp<int64_t>((chains + 1) / 2, 1, 4);
  while (wanted > 1 && wanted * 2 * orders * 4 > registers * 3)
    --wanted;
  return wanted;
}

bool ntp::parseMachineFacts(const int64_t *values, size_t count,
                            MachineVectorFacts &facts) {
  if (count == 0)
    return true;
  if (count != 5 && count != 6)
    return false;
  facts = {values[0], values[1], values[2],
           values[3], values[4], count == 6 ? values[5] : 0};
  return true;
}
