//===- Schedule.h - Register blocking and interleaving choices --*- C++ -*-===//
//
// What the CPU lowering needs to know about a machine to keep its FMA units
// busy (vector width, vector registers, FMA latency and pipes, from LLVM's
// scheduling model: lib/Target/Cpu), and the choices derived from it: how
// many output neurons x orders an affine layer blocks in registers and how
// many neurons' activation jets are interleaved. Plain C++, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef NTP_SUPPORT_SCHEDULE_H
#define NTP_SUPPORT_SCHEDULE_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace ntp {

/// A CPU's vector facts; vectorBits == 0 means unknown (no automatic
/// choice: the unblocked, one-neuron-at-a-time lowering).
struct MachineVectorFacts {
  int64_t vectorBits = 0;      // widest vector register used (256, 512, 128)
  int64_t vectorRegisters = 0; // architectural vector registers (16, 32)
  int64_t fmaLatency = 0;      // cycles of a vector FMA of that width
  int64_t fmaPipes = 0;        // vector FMAs issued per cycle
  int64_t loadPorts = 0;       // vector loads per cycle
  int64_t l1DataBytes = 0;     // L1 data cache (0: not modelled)

  bool known() const {
    return vectorBits > 0 && vectorRegisters > 0 && fmaLatency > 0 &&
           fmaPipes > 0 && loadPorts > 0;
  }
  /// "512x32 regs, fma 4c x 1, 2 loads, 32 KiB L1d" for descriptions and
  /// tests.
  std::string str() const;
};

/// Reads the machine-facts option of the lowering passes (vector bits,
/// vector registers, FMA latency, FMA pipes, load ports, and optionally the
/// L1 data cache's bytes); an empty list leaves `facts` unknown. False if
/// the list has another length.
bool parseMachineFacts(const int64_t *values, size_t count,
                       MachineVectorFacts &facts);
/// What the passes say when parseMachineFacts refuses a list (followed by
/// ", got N").
inline constexpr const char *kMachineFactsUsage =
    "machine-facts takes 5 or 6 numbers (vector bits, vector registers, FMA "
    "latency, FMA pipes, load ports, optionally L1 data bytes)";

/// The register block of an affine layer: `outputs` output neurons x
/// `orders` live orders (0: all) accumulated at once.
struct AffineBlock {
  int64_t outputs = 1;
  int64_t orders = 0;
};

/// The block of an affine layer with `width` outputs summing over
/// `sourceWidth` neurons' jets of `lanes` elements of `elementBits` and
/// `live` orders that minimizes the estimated cycles per source neuron (per
/// block and order chunk, the largest of the FMA throughput, the loads, the
/// FMA latency of its chains, and, where a chunk's slice of the source jets
/// overflows three quarters of the L1 data cache, streaming that slice from
/// L2 at 32 bytes per cycle once per block of outputs; the outputs past the
/// last multiple of the block unblocked), then (within 2%) the
/// fewest order chunks (code size, compile time), then the loads, within
/// the vector registers less one. An accumulator or a loaded jet takes
/// `lanes * elementBits / vectorBits` registers, a broadcast weight one: on
/// AVX2 with two-register jets, counting two per weight left odd numbers of
/// live orders to 1 x 5 or 2 x 2 blocks, 6-30% slower than 4 x 1 (Zen 3,
/// 1-24-24-24-1 tanh), and 2 x 3, which fills all 16 registers, ran up to
/// 20% slower than 2 x 2. With two-register jets a block has at least two
/// outputs (width permitting): x86-64-v3's model (FMA latency 5) picked
/// 1 x 5, 1.25-1.5x slower than 2 x 2 on a Zen 3 at order 9. {1, 0}
/// (unblocked) when `facts` is unknown.
AffineBlock chooseAffineBlock(const MachineVectorFacts &facts, int64_t lanes,
                              int64_t elementBits, int64_t live, int64_t width,
                              int64_t sourceWidth);

/// The bits of the reverse mode's lane-wise gradient accumulators of one
/// parameter, for tiles of `lanes` elements of `elementBits`, `live`
/// orders per accumulation and `numParams` parameters: the vector register,
/// or half of it where that is faster by the model. Per parameter and
/// tile, the FMAs (one per order and register of the tile) and the fold
/// (an add per extra register, an extract and an add per halving inside
/// one) against the accumulators' load and store, free while all of them
/// stay within 3/4 of L1, else a load, a store and a write-back from L2 at
/// 32 bytes per cycle. Halving pays at few orders: on an Emerald Rapids
/// (64-byte tiles, 2 FMA pipes) the training step of 1-128-128-1 ran
/// 1.27-1.30x, 1.14-1.17x, 1.12-1.14x and 1.04x faster with 256-bit
/// accumulators at 2, 4, 6 and 8 live orders; at 10, where the model keeps
/// the register, forced halves ran 0.91-1.09x. 0 where `facts` are unknown
/// (one lane per sample).
int64_t chooseGradLaneBits(const MachineVectorFacts &facts, int64_t lanes,
                           int64_t elementBits, int64_t live,
                           int64_t numParams);

/// The register tile of an affine VJP's parameter gradient: `outputs`
/// output neurons x `inputs` input neurons, dW[o][i] summed over the live
/// orders k in order. 0 x 0: the unblocked loop (per output neuron its
/// cotangent's jets of all orders held in registers, walked against the
/// input neurons' jets).
struct GradientBlock {
  int64_t outputs = 0;
  int64_t inputs = 0;
  bool blocked() const { return outputs > 0 && inputs > 0; }
};

/// The gradient tile of an affine layer of `outWidth` x `inWidth` neurons
/// with `live` orders of jets of `lanes` elements of `elementBits`, whose
/// unblocked loop takes `unblockedInputs` input neurons at once. Per order,
/// an a x b tile loads a cotangent and b input vectors for a x b FMAs and
/// keeps a x b accumulators, the smaller side's loaded vectors and one
/// streamed vector in the vector registers less one; the unblocked loop
/// loads one input vector per FMA, plus, where the cotangent's live jets,
/// its accumulators and a loaded vector exceed the registers, the spilled
/// ones again per step. Each entry sums its orders in dependent FMAs, so
/// the unblocked loop has one entry's chains in flight and a tile a x b
/// entries' (FMA latency x pipes are needed). Estimated cycles of the whole
/// layer per order (the largest of FMA throughput, loads and one FMA
/// latency per step, plus a gradient load and store per entry, the same in
/// both); the tile only where it gains over 10% (the model ignores the
/// tiles' index arithmetic and remainder loops); among tiles within 1%, the
/// fewest accumulators, then the squarest, then more outputs. 0 x 0 where
/// none gains, also when `facts` is unknown.
GradientBlock chooseGradientBlock(const MachineVectorFacts &facts,
                                  int64_t lanes, int64_t elementBits,
                                  int64_t live, int64_t outWidth,
                                  int64_t inWidth, int64_t unblockedInputs);

/// The register block of a multi-direction affine layer (ntp.affine_rays):
/// `rows` rows of the ray buffer x `neurons` output neurons accumulated at
/// once, per input neuron `rows` jet loads and `neurons` weight broadcasts
/// feeding rows x neurons FMAs.
struct RayBlock {
  int64_t rows = 2;
  int64_t neurons = 2;
};

/// The ray block for jets of `lanes` elements of `elementBits`: among the
/// blocks of at least 2 neurons whose broadcasts feed at least two FMAs
/// each (2 rows, or 1 where a jet spans two registers) and whose
/// accumulators, input rows and one broadcast fit in the vector registers
/// (two kept free), those with enough independent FMA chains to cover
/// latency x pipes, the fewest loads and broadcasts per FMA, then more rows
/// (a broadcast costs more than a vector load on some CPUs, e.g. an FP pipe
/// on Zen 4). {2, 2} where `facts` is unknown; 1 x 5 on 16 AVX2 registers
/// with 2-register jets (0.7 loads per FMA against 2 x 2's 0.75; measured
/// 5-7% faster on a Zen 3 for d-64-64-64-1 Laplacians, d = 2, 8, 32).
RayBlock chooseRayBlock(const MachineVectorFacts &facts, int64_t lanes,
                        int64_t elementBits);

/// Neurons whose activation jets (of `orders` orders) are interleaved:
/// enough chains to cover FMA latency x pipes, at most 4, where the jets of
/// all of them (inputs and outputs, 2 x orders vectors each) fit in three
/// quarters of the vector registers; else 1. Also 1 where registers are few
/// (a vector of the tile spans several registers) or `facts` is unknown.
/// (Measured on a Zen 4, 1-24-24-24-1 tanh: two neurons gain up to 8% at
/// orders 3..5 and lose up to 10% from order 6 on, where the outlined
/// function of two neurons spills.)
int64_t chooseInterleave(const MachineVectorFacts &facts, int64_t lanes,
                         int64_t elementBits, int64_t orders);

} // namespace ntp

#endif // NTP_SUPPORT_SCHEDULE_H
