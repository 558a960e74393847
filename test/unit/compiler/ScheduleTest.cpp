//===- ScheduleTest.cpp - Every CPU schedule is exact ---------------------===//
//
// The CPU lowering's schedule (interleaved activation jets, register-blocked
// affine layers, chosen from the CPU's LLVM scheduling model or forced with
// CpuTargetOptions) must not change what a kernel computes. Each choice is
// forced here on networks whose widths are not multiples of any block (so
// the remainder loops run): the forward against the independent long-double
// reference, the training step's parameter gradient against the
// reference's reverse pass, and both bitwise equal to the unscheduled
// lowering (the same operations in the same order per sum).
//
//===----------------------------------------------------------------------===//

#include "CompiledKernel.h"
#include "GradientCheck.h"
#include "TaylorReference.h"

#include "ntp/Compiler/Compiler.h"
#include "ntp/Support/Schedule.h"
#include "ntp/Target/Cpu/CpuTarget.h"
#include "ntp/artifact.hpp"
#include "ntp/runtime.h"

#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using ntp::test::CompiledKernel;
using ntp::test::Ld;
using ntp::test::relativeError;

struct Schedule {
  int64_t interleave, affineOutputs, affineOrders;
  std::string cpu = "native";
  /// The activations' primitives in a loop of their own (hoist-primitives).
  bool hoistPrimitives = true;
  /// The affine VJPs' parameter-gradient tile (0 x 0: as the block says).
  int64_t gradOutputs = 0, gradInputs = 0;
};

std::string scheduleName(const Schedule &s) {
  std::string cpu = s.cpu;
  std::replace(cpu.begin(), cpu.end(), '-', '_');
  std::string grad = s.gradOutputs == 0
                         ? std::string()
                         : "_g" + std::to_string(s.gradOutputs) + "x" +
                               std::to_string(s.gradInputs);
  if (s.interleave == 0)
    return "auto_" + cpu + grad;
  return "i" + std::to_string(s.interleave) + "_b" +
         std::to_string(s.affineOutputs) + "_k" +
         std::to_string(s.affineOrders) + "_" + cpu + grad;
}

/// A kernel compiled with a forced schedule, and loaded.
std::unique_ptr<CompiledKernel> compileScheduled(const std::vector<int> &widths,
                                                 int order, bool isF64,
                                                 const Schedule &schedule) {
  ntp::MlpDescription description;
  description.layers.assign(widths.begin(), widths.end());
  description.activation = "tanh";
  description.order = order;
  description.isF64 = isF64;
  ntp::CompileOptions options;
  ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
  cpu.cpu = schedule.cpu;
  cpu.interleave = schedule.interleave;
  cpu.affineOutputs = schedule.affineOutputs;
  cpu.affineOrders = schedule.affineOrders;
  cpu.hoistPrimitives = schedule.hoistPrimitives;
  cpu.gradOutputs = schedule.gradOutputs;
  cpu.gradInputs = schedule.gradInputs;
  return CompiledKernel::compile(description, options);
}

/// What a kernel computes on one problem: the jet and the training step's
/// parameter gradient (forward_save, backward_saved).
template <class T> struct Results { std::vector<T> out, grad; };

struct Problem : ntp::test::JetProblem {
  // Batch 19, not a multiple of any tile: padding lanes. Values
  // representable in both dtypes, so the reference sees the kernel's inputs
  // exactly.
  Problem(std::vector<int> w, int order, bool isF64)
      : JetProblem(std::move(w), order, 19, 4242 + order, !isF64) {}

  template <class T> std::vector<T> as(const std::vector<double> &d) const {
    return std::vector<T>(d.begin(), d.end());
  }

  template <class T> Results<T> run(ntp_kernel *kernel) const {
    std::vector<T> p = as<T>(params), xs = as<T>(x), vs = as<T>(v),
                   c = as<T>(cotangent);
    Results<T> r;
    r.out.resize((order + 1) * batch * widths.back());
    r.grad.resize(p.size());
    int64_t bytes = 0;
    EXPECT_EQ(ntp_workspace_size(kernel, batch, &bytes), NTP_OK);
    std::vector<T> workspace(bytes / sizeof(T));
    EXPECT_EQ(ntp_forward_save(kernel, xs.data(), vs.data(), p.data(),
                               r.out.data(), workspace.data(), batch),
              NTP_OK)
        << ntp_last_error();
    EXPECT_EQ(ntp_backward_saved(kernel, xs.data(), vs.data(), p.data(),
                                 c.data(), r.grad.data(), nullptr,
                                 workspace.data(), batch),
              NTP_OK)
        << ntp_last_error();
    std::vector<T> forward(r.out.size());
    EXPECT_EQ(ntp_forward(kernel, xs.data(), vs.data(), p.data(),
                          forward.data(), batch),
              NTP_OK);
    EXPECT_EQ(forward, r.out) << "forward_save must compute the forward's jet";
    return r;
  }
};

struct Case {
  bool isF64;
  int order;
  Schedule schedule;
};

void PrintTo(const Case &c, std::ostream *os) {
  *os << (c.isF64 ? "f64" : "f32") << " order " << c.order << " "
      << scheduleName(c.schedule);
}

class ScheduleTest : public ::testing::TestWithParam<Case> {
protected:
  template <class T> void check(const Case &c) {
    // 13 and 11 are multiples of no block or interleave; 3 outputs.
    const std::vector<int> widths = {2, 13, 11, 3};
    Problem problem(widths, c.order, c.isF64);
    auto kernel = compileScheduled(widths, c.order, c.isF64, c.schedule);
    ASSERT_TRUE(kernel);
    auto base = compileScheduled(widths, c.order, c.isF64,
                                 Schedule{1, 1, 0, c.schedule.cpu, false});
    ASSERT_TRUE(base);
    Results<T> got = problem.run<T>(kernel->get());
    Results<T> unscheduled = problem.run<T>(base->get());
    // Bitwise: every sum runs in the same order under every schedule.
    EXPECT_EQ(got.out, unscheduled.out) << "jet differs from the unscheduled";
    EXPECT_EQ(got.grad, unscheduled.grad)
        << "gradient differs from the unscheduled";

    // Against the reference (EndToEndTest's and BackwardTest's bounds).
    std::vector<Ld> ref =
        ntp_ref::jet(widths, ntp_ref::Activation::Tanh, c.order,
                     problem.as<Ld>(problem.params), problem.as<Ld>(problem.x),
                     problem.as<Ld>(problem.v), problem.batch);
    size_t perOrder = problem.batch * widths.back();
    for (int k = 0; k <= c.order; ++k)
      EXPECT_LE(relativeError(got.out, ref, k * perOrder, (k + 1) * perOrder),
                c.isF64 ? 1e-12 : 1e-4)
          << "order " << k;
    std::vector<Ld> refGrad = ntp_ref::jetParamGradient(
        widths, ntp_ref::Activation::Tanh, c.order,
        problem.as<Ld>(problem.params), problem.as<Ld>(problem.x),
        problem.as<Ld>(problem.v), problem.batch,
        problem.as<Ld>(problem.cotangent));
    EXPECT_LE(relativeError(got.grad, refGrad, 0, refGrad.size()),
              c.isF64 ? 1e-12 : 1e-3)
        << "parameter gradient";
  }
};

TEST_P(ScheduleTest, ExactAndUnchanged) {
  const Case &c = GetParam();
  if (c.isF64)
    check<double>(c);
  else
    check<float>(c);
}

std::vector<Case> cases() {
  // Each choice forced: hoisted primitives alone, interleaving (2, 3
  // neurons), blocking (outputs; outputs x order chunks), both, and the
  // automatic choice for this host and for the AVX2 baseline (all but the
  // unscheduled base with the primitives hoisted, as by default). The
  // parameter gradient's register tiles (outputs x inputs; 13 x 11 and
  // 11 x 3 leave remainders on both sides), alone and with a blocked
  // affine layer.
  const std::vector<Schedule> schedules = {
      {1, 1, 0},
      {2, 1, 0},
      {3, 1, 0},
      {1, 2, 0},
      {1, 4, 5},
      {1, 3, 2},
      {1, 4, 1},
      {2, 4, 5},
      {0, 0, 0, "native"},
      {0, 0, 0, "x86-64-v3"},
      {1, 1, 0, "native", true, 2, 2},
      {1, 1, 0, "native", true, 4, 1},
      {1, 4, 5, "native", true, 3, 2},
      {1, 2, 0, "native", true, 1, 3},
  };
  std::vector<Case> result;
  for (const Schedule &s : schedules)
    for (bool isF64 : {false, true})
      for (int order : {0, 3, 9})
        result.push_back({isF64, order, s});
  return result;
}

INSTANTIATE_TEST_SUITE_P(Choices, ScheduleTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case> &info) {
                           return std::string(info.param.isF64 ? "f64"
                                                               : "f32") +
                                  "_n" + std::to_string(info.param.order) +
                                  "_" + scheduleName(info.param.schedule);
                         });

/// The facts LLVM's scheduling model gives the CPU target for `cpu`.
void factsOf(const char *cpu, ntp::MachineVectorFacts &facts) {
  ntp::CpuTargetOptions options;
  options.cpu = cpu;
  std::string error;
  auto machine = ntp::createCpuTargetMachine(options, error);
  ASSERT_TRUE(machine) << error;
  facts = ntp::cpuVectorFacts(*machine);
}

/// The choices the CPU target derives from LLVM's scheduling model for the
/// machines of docs/TARGETS.md: a Zen 4 (one 512-bit FMA per cycle), a
/// Skylake-SP (two 512-bit FMA pipes: three neurons interleaved), a
/// Sapphire Rapids and an Emerald Rapids (zmm code, as the kernels'
/// prefer-vector-width makes it, although LLVM prefers 256 bits there by
/// default; LLVM 22's model issues one zmm FMA per cycle, the Xeons two,
/// which cpuVectorFacts corrects: as Skylake-SP) and the AVX2 baseline (16
/// registers: a 16-lane f32 jet takes two).
TEST(ScheduleChoice, FromTheSchedulingModel) {
  struct Expected {
    const char *cpu;
    int64_t bits, registers, pipes;
    int64_t interleaveF32;
    ntp::AffineBlock deepF32;
  };
  // Zen 4, Sapphire Rapids and Skylake-SP: 2 outputs x all 10 orders (20
  // accumulators; 4 x 5 in two order chunks is as fast by the model but
  // twice the code). AVX2 baseline: 2 outputs x 2 orders (1 x 5, the
  // model's pick by FMA latency before blocks of one output were ruled
  // out for two-register jets, ran 1.25-1.5x slower on a Zen 3).
  for (const Expected &e : {Expected{"znver4", 512, 32, 1, 2, {2, 0}},
                            Expected{"sapphirerapids", 512, 32, 2, 3, {2, 0}},
                            Expected{"emeraldrapids", 512, 32, 2, 3, {2, 0}},
                            Expected{"skylake-avx512", 512, 32, 2, 3, {2, 0}},
                            Expected{"x86-64-v3", 256, 16, 2, 1, {2, 2}}}) {
    ntp::MachineVectorFacts facts;
    ASSERT_NO_FATAL_FAILURE(factsOf(e.cpu, facts));
    ASSERT_TRUE(facts.known()) << e.cpu;
    EXPECT_EQ(facts.vectorBits, e.bits) << e.cpu;
    EXPECT_EQ(facts.vectorRegisters, e.registers) << e.cpu;
    EXPECT_EQ(facts.fmaPipes, e.pipes) << e.cpu;
    // Order 3 (4 orders); from order 6 on two neurons' jets would spill.
    EXPECT_EQ(ntp::chooseInterleave(facts, 16, 32, 4), e.interleaveF32)
        << e.cpu;
    EXPECT_EQ(ntp::chooseInterleave(facts, 16, 32, 10), 1) << e.cpu;
    ntp::AffineBlock deep = ntp::chooseAffineBlock(facts, 16, 32, 10, 24, 24);
    EXPECT_EQ(deep.outputs, e.deepF32.outputs) << e.cpu;
    EXPECT_EQ(deep.orders, e.deepF32.orders) << e.cpu;
    // Never more accumulators, broadcast weights (one register each) and a
    // loaded jet than registers, one left free.
    int64_t perVector = std::max<int64_t>(1, 16 * 32 / facts.vectorBits);
    EXPECT_LE((deep.outputs * (deep.orders ? deep.orders : 10) + 1) *
                      perVector +
                  deep.outputs,
              facts.vectorRegisters - 1)
        << e.cpu;
  }
  // Zen 3 (AVX2, FMA 4 cycles x 2), 9 live orders (order 8) of two-register
  // f64 jets: 4 outputs x 1 order (8 chains, 14 registers). Counting a
  // broadcast weight as two registers left only 1 x 5 (11 loads per 10
  // FMAs) and 2 x 2 (a last chunk of one order: 4 chains); measured on a
  // Zen 3, f64, 1-24-24-24-1: 258 us against 335 (1 x 5) and 275 (2 x 2).
  {
    ntp::MachineVectorFacts facts;
    ASSERT_NO_FATAL_FAILURE(factsOf("znver3", facts));
    ASSERT_EQ(facts.vectorRegisters, 16);
    ntp::AffineBlock odd = ntp::chooseAffineBlock(facts, 8, 64, 9, 24, 24);
    EXPECT_EQ(odd.outputs, 4);
    EXPECT_EQ(odd.orders, 1);
  }
  // Unknown facts: the unscheduled lowering.
  ntp::MachineVectorFacts unknown;
  EXPECT_EQ(ntp::chooseInterleave(unknown, 16, 32, 4), 1);
  EXPECT_EQ(ntp::chooseAffineBlock(unknown, 16, 32, 10, 24, 24).outputs, 1);
}

/// Where a layer's input jet overflows L1 (LLVM says 32 KiB for every X86
/// CPU), the affine block takes order chunks whose slice stays there and
/// more outputs per block: an Emerald Rapids at order 9 (10 live orders,
/// 64-byte jet vectors of either dtype) keeps 2 x all 10 for a 24-wide
/// layer (15 KiB of input jets) and takes 4 x 5 for 64- and 128-wide ones
/// (40 and 80 KiB; measured on 1-128-128-1: forward 1.3x faster in both
/// dtypes, training step 1.15x). Without the cache's size, 2 x 10 for all.
TEST(ScheduleChoice, AffineBlockKeepsTheSliceInL1) {
  ntp::MachineVectorFacts facts;
  ASSERT_NO_FATAL_FAILURE(factsOf("emeraldrapids", facts));
  EXPECT_EQ(facts.l1DataBytes, 32 * 1024);
  for (auto [lanes, bits] : {std::pair<int64_t, int64_t>{16, 32}, {8, 64}})
    for (auto [width, expected] :
         {std::pair<int64_t, ntp::AffineBlock>{24, {2, 0}},
          {64, {4, 5}},
          {128, {4, 5}}}) {
      ntp::AffineBlock block =
          ntp::chooseAffineBlock(facts, lanes, bits, 10, width, width);
      EXPECT_EQ(block.outputs, expected.outputs) << width << " f" << bits;
      EXPECT_EQ(block.orders, expected.orders) << width << " f" << bits;
      // The source's width decides, not the outputs': a 1-input layer's
      // jet is one neuron.
      EXPECT_EQ(ntp::chooseAffineBlock(facts, lanes, bits, 10, width, 1).orders,
                0);
      ntp::MachineVectorFacts noCache = facts;
      noCache.l1DataBytes = 0;
      ntp::AffineBlock flat =
          ntp::chooseAffineBlock(noCache, lanes, bits, 10, width, width);
      EXPECT_EQ(flat.outputs, 2) << width;
      EXPECT_EQ(flat.orders, 0) << width;
    }
}

/// The gradient accumulators' width (ntp::chooseGradLaneBits). Emerald
/// Rapids, 64-byte tiles, 1-128-128-1's 16897 parameters: half a register
/// at 2, 4, 6 and 8 live orders (each accumulator's load and store serve
/// that many FMAs; measured: training step 1.02-1.30x at orders 1-5 on the
/// 64- and 128-wide networks, 0.98-1.06x at order 7), the register at 10;
/// always the register where all accumulators fit in L1. Zen 3 (two AVX2
/// registers per tile, folded to one) and Zen 4 (one FMA pipe) keep the
/// register at 4 live orders.
TEST(ScheduleChoice, GradLaneBitsFromTheSchedulingModel) {
  ntp::MachineVectorFacts emr, zen3, zen4, unknown;
  ASSERT_NO_FATAL_FAILURE(factsOf("emeraldrapids", emr));
  ASSERT_NO_FATAL_FAILURE(factsOf("znver3", zen3));
  ASSERT_NO_FATAL_FAILURE(factsOf("znver4", zen4));
  for (auto [lanes, bits] : {std::pair<int64_t, int64_t>{16, 32}, {8, 64}}) {
    for (int64_t live : {2, 4, 6, 8})
      EXPECT_EQ(ntp::chooseGradLaneBits(emr, lanes, bits, live, 16897), 256)
          << live;
    EXPECT_EQ(ntp::chooseGradLaneBits(emr, lanes, bits, 10, 16897), 512);
    EXPECT_EQ(ntp::chooseGradLaneBits(emr, lanes, bits, 4, 14), 512);
    EXPECT_EQ(ntp::chooseGradLaneBits(zen3, lanes, bits, 4, 16897), 256);
    EXPECT_EQ(ntp::chooseGradLaneBits(zen4, lanes, bits, 4, 16897), 512);
    EXPECT_EQ(ntp::chooseGradLaneBits(unknown, lanes, bits, 4, 16897), 0);
  }
}

/// The parameter gradient's register tile (ntp::chooseGradientBlock) for a
/// 24 x 24 layer. Each entry sums its orders in a chain of dependent FMAs,
/// so a tile needs FMA latency x pipes chains in flight, which the
/// unblocked loop (one entry's) never has. Zen 3 (16 ymm, a jet of either
/// dtype two of them, 2 pipes): 2 x 2 tiles (8 chains; 8 accumulators, 2
/// held and 1 streamed jets: 14 registers) at every order; a layer of one
/// input neuron (the first): 4 x 1. Zen 4 (32 zmm, one FMA per cycle):
/// 2 x 2 (4 chains). Emerald Rapids (two zmm FMAs per cycle): 4 x 2 (8
/// chains; measured there against the unblocked loop: the training step
/// 1.12-1.39x faster at orders 3, 6, 9 on three networks, 2 x 2 1.08-1.24x).
TEST(ScheduleChoice, GradientBlockFromTheSchedulingModel) {
  struct Expected {
    const char *cpu;
    int64_t live, outWidth, inWidth;
    ntp::GradientBlock block;
  };
  for (const Expected &e : {Expected{"znver3", 10, 24, 24, {2, 2}},
                            Expected{"znver3", 7, 24, 24, {2, 2}},
                            Expected{"znver3", 4, 24, 24, {2, 2}},
                            Expected{"znver3", 10, 24, 1, {4, 1}},
                            Expected{"znver4", 10, 24, 24, {2, 2}},
                            Expected{"znver4", 4, 24, 24, {2, 2}},
                            Expected{"emeraldrapids", 10, 24, 24, {4, 2}},
                            Expected{"emeraldrapids", 4, 24, 24, {4, 2}}}) {
    ntp::MachineVectorFacts facts;
    ASSERT_NO_FATAL_FAILURE(factsOf(e.cpu, facts));
    ASSERT_TRUE(facts.known()) << e.cpu;
    for (auto [lanes, bits] : {std::pair<int64_t, int64_t>{16, 32}, {8, 64}}) {
      ntp::AffineBlock affine = ntp::chooseAffineBlock(
          facts, lanes, bits, e.live, e.inWidth, e.outWidth);
      ntp::GradientBlock block = ntp::chooseGradientBlock(
          facts, lanes, bits, e.live, e.outWidth, e.inWidth, affine.outputs);
      std::string what = std::string(e.cpu) + " f" + std::to_string(bits) +
                         " live " + std::to_string(e.live);
      EXPECT_EQ(block.outputs, e.block.outputs) << what;
      EXPECT_EQ(block.inputs, e.block.inputs) << what;
      // Accumulators, the smaller side's jets and a streamed one within the
      // registers, one left free.
      int64_t perVector = std::max<int64_t>(1, lanes * bits / facts.vectorBits);
      EXPECT_LE((block.outputs * block.inputs +
                 std::min(block.outputs, block.inputs) + 1) *
                    perVector,
                facts.vectorRegisters - 1)
          << what;
    }
  }
  ntp::MachineVectorFacts unknown;
  EXPECT_FALSE(
      ntp::chooseGradientBlock(unknown, 16, 32, 10, 24, 24, 1).blocked());
}

/// The register block of ntp.affine_rays (partials kernels): rows x output
/// neurons from the same facts. Zen 4 (32 zmm, one jet one register): 4 x 6
/// (24 accumulators, 4 rows and a broadcast: 29 registers; 10 loads per 24
/// FMAs), and the same on the AVX-512 Xeons. The AVX2 baseline
/// (16 registers, two per jet): 1 x 5 (10 accumulators, one row of two
/// registers and a broadcast: 13 registers; 7 loads per 10 FMAs, where
/// 2 x 2 needs 6 per 8). Unknown facts: 2 x 2.
TEST(ScheduleChoice, RayBlockFromTheSchedulingModel) {
  struct Expected {
    const char *cpu;
    int64_t rows, neurons;
  };
  for (const Expected &e :
       {Expected{"znver4", 4, 6}, Expected{"sapphirerapids", 4, 6},
        Expected{"skylake-avx512", 4, 6}, Expected{"x86-64-v3", 1, 5}}) {
    ntp::MachineVectorFacts facts;
    ASSERT_NO_FATAL_FAILURE(factsOf(e.cpu, facts));
    for (auto [lanes, bits] : {std::pair<int64_t, int64_t>{8, 64}, {16, 32}}) {
      ntp::RayBlock block = ntp::chooseRayBlock(facts, lanes, bits);
      EXPECT_EQ(block.rows, e.rows) << e.cpu << " " << bits;
      EXPECT_EQ(block.neurons, e.neurons) << e.cpu << " " << bits;
      int64_t perVector = std::max<int64_t>(1, lanes * bits / facts.vectorBits);
      EXPECT_LE((block.rows * block.neurons + block.rows) * perVector + 1,
                facts.vectorRegisters)
          << e.cpu;
    }
  }
  ntp::MachineVectorFacts unknown;
  EXPECT_EQ(ntp::chooseRayBlock(unknown, 8, 64).rows, 2);
  EXPECT_EQ(ntp::chooseRayBlock(unknown, 8, 64).neurons, 2);
}

/// A ray block of the multi-direction lowering is exact whatever its shape:
/// the Laplacian and a mixed partial of a 3-5-7-1 network (widths and row
/// counts no block divides) bitwise equal across blocks 1 x 1, 3 x 2, 8 x 8
/// and the automatic one.
TEST(ScheduleChoice, RayBlocksAreBitwiseEqual) {
  ntp::MlpDescription description;
  description.layers = {3, 5, 7, 1};
  description.activation = "tanh";
  description.isF64 = true;
  description.order = 2;
  description.partials = {{1, 1, 0}, {-2, -2, -2}};
  description.partialsLowering = "multi-direction";
  const int64_t batch = 11;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> params(*ntp::artifact::countParams(description.layers)),
      x(batch * 3);
  for (double &p : params)
    p = u(rng);
  for (double &v : x)
    v = u(rng);
  std::vector<double> first;
  for (auto [rows, neurons] :
       {std::pair<int64_t, int64_t>{0, 0}, {1, 1}, {3, 2}, {8, 8}}) {
    ntp::CompileOptions options;
    ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
    cpu.cpu = "native";
    cpu.rayRows = rows;
    cpu.rayNeurons = neurons;
    options.backward = false;
    auto kernel = CompiledKernel::compile(description, options);
    ASSERT_TRUE(kernel) << rows << "x" << neurons;
    std::vector<double> out(2 * batch);
    ASSERT_EQ(
        ntp_partials(kernel->get(), x.data(), params.data(), out.data(), batch),
        NTP_OK)
        << ntp_last_error();
    for (double v : out)
      EXPECT_TRUE(std::isfinite(v));
    if (first.empty())
      first = out;
    else
      EXPECT_EQ(out, first) << rows << "x" << neurons;
  }
}

TEST(ScheduleChoice, RefusesBadOptions) {
  mlir::DialectRegistry registry;
  ntp::registerNtpCompilerDialects(registry);
  mlir::MLIRContext context(registry);
  ntp::MlpDescription description;
  description.layers = {1, 4, 1};
  description.activation = "tanh";
  description.order = 2;
  for (auto [interleave, outputs, orders] :
       {std::tuple<int64_t, int64_t, int64_t>{-1, 0, 0},
        {0, 9, 0},
        {0, 0, -2},
        {9, 1, 0}}) {
    ntp::CompileOptions options;
    ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
    cpu.interleave = interleave;
    cpu.affineOutputs = outputs;
    cpu.affineOrders = orders;
    auto module = ntp::buildMlpModule(context, description);
    ASSERT_TRUE(module);
    std::string error;
    EXPECT_FALSE(ntp::compileToSharedObject(
        *module, options, "/tmp/ntp-never-written.so", error));
    EXPECT_NE(error.find("CPU schedule"), std::string::npos) << error;
  }
  // A ray block needs rows and neurons in 1..8, both or neither.
  for (auto [rows, neurons] :
       {std::pair<int64_t, int64_t>{3, 0}, {0, 2}, {9, 2}, {2, -1}}) {
    ntp::CompileOptions options;
    ntp::CpuTargetOptions &cpu = options.get<ntp::CpuTargetOptions>();
    cpu.rayRows = rows;
    cpu.rayNeurons = neurons;
    auto module = ntp::buildMlpModule(context, description);
    ASSERT_TRUE(module);
    std::string error;
    EXPECT_FALSE(ntp::compileToSharedObject(
        *module, options, "/tmp/ntp-never-written.so", error));
    EXPECT_NE(error.find("ray block"), std::string::npos) << error;
  }
}

} // namespace
